/**
 * The traffic core under partial failure (issue "Failure-safe", section 1): a rollback move keeps what moved, no shift
 * sends traffic to a color without tasks, release writes are fenced by the lock, retries stop at a deadline, the
 * ledger is searched past its first page, and every client bounds each attempt.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, DescribeTargetHealthCommand, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  clientConfig,
  findInLedger,
  GuardRefused,
  MoveIncomplete,
  revokeLock,
  rollback,
  shift,
  withRetry,
} from '../../lambda/traffic';
import { attemptBoundMs, TRAFFIC_REQUEST_BOUNDS } from '../../lambda/traffic/client-config';
import { timeToSafeBudget, ROLLBACK_TIMEOUT_SECONDS, REPORT_RESERVE_MS } from '../../lambda/rollback/budget';
import { item, plain } from '../support/dynamo';
import { healthy, mocks, NOW_S, rule, runningServices, throttled } from './helpers';

let m: ReturnType<typeof mocks>;
const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });

function statefulRules(initial: Record<'frontend' | 'backend', [number, number]>) {
  const current = { ...initial };
  m.elbv2.on(DescribeRulesCommand).callsFake((input: { RuleArns: string[] }) => ({
    Rules: input.RuleArns.map((arn) => {
      const svc = arn.endsWith('frontend') ? 'frontend' : 'backend';
      return rule(svc, ...current[svc]);
    }),
  }));
  m.elbv2.on(ModifyRuleCommand).callsFake((input: { RuleArn: string; Actions: { ForwardConfig: { TargetGroups: { Weight: number }[] } }[] }) => {
    const svc = input.RuleArn.endsWith('frontend') ? 'frontend' : 'backend';
    if (svc === 'backend' && backendDenied) throw denied();
    const g = input.Actions[0].ForwardConfig.TargetGroups;
    current[svc] = [g[0].Weight, g[1].Weight];
    return {};
  });
  return current;
}
let backendDenied = false;

beforeEach(() => {
  m = mocks();
  backendDenied = false;
  m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S + 600 }) });
  m.ddb.on(PutItemCommand).resolves({});
  m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
  m.elbv2.on(DescribeTargetHealthCommand).resolves(healthy('us-east-1a', 'us-east-1b'));
});
afterEach(() => m.restore());

describe('GIVEN a rollback move (all traffic back to blue)', () => {
  test('fails WHEN the backend write is denied THEN the frontend stays on blue (never restored to the failing color) and MoveIncomplete names both', async () => {
    const weights = statefulRules({ frontend: [90, 10], backend: [90, 10] });
    backendDenied = true;
    const err = await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 't', rollback: true }).catch((e) => e);
    expect(err).toBeInstanceOf(MoveIncomplete);
    expect(err.name).toBe('MoveIncomplete');
    expect(err).toMatchObject({ moved: ['frontend'], notMoved: ['backend'] });
    expect(err.message).toContain('moved frontend (kept)');
    expect(weights).toEqual({ frontend: [100, 0], backend: [90, 10] });
    // The ledger says what happened.
    const entry = plain(m.ddb.commandCalls(PutItemCommand).at(-1)!.args[0].input).Item;
    expect(entry).toMatchObject({ action: 'shift-failed', detail: { moved: ['frontend'], notMoved: ['backend'] } });
  });

  test('WHEN the retry runs after the denial is lifted THEN only the backend is written', async () => {
    const weights = statefulRules({ frontend: [100, 0], backend: [90, 10] });
    await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 't', rollback: true });
    expect(m.elbv2.commandCalls(ModifyRuleCommand).map((c) => c.args[0].input.RuleArn)).toEqual(['arn:rule/backend']);
    expect(weights).toEqual({ frontend: [100, 0], backend: [100, 0] });
  });

  test('WHEN a write is lost (accepted, not applied) THEN the second pass writes it again from a fresh read', async () => {
    const weights = statefulRules({ frontend: [90, 10], backend: [90, 10] });
    let lost = true;
    m.elbv2.on(ModifyRuleCommand).callsFake((input: { RuleArn: string; Actions: { ForwardConfig: { TargetGroups: { Weight: number }[] } }[] }) => {
      const svc = input.RuleArn.endsWith('frontend') ? 'frontend' : 'backend';
      if (svc === 'backend' && lost) {
        lost = false;
        return {};
      }
      const g = input.Actions[0].ForwardConfig.TargetGroups;
      weights[svc] = [g[0].Weight, g[1].Weight];
      return {};
    });
    await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 't', rollback: true });
    expect(weights).toEqual({ frontend: [100, 0], backend: [100, 0] });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(3);
  });

  test('fails WHEN blue is scaled to 0 (its targets still healthy while they drain) THEN refused by the health guard, nothing written', async () => {
    statefulRules({ frontend: [0, 100], backend: [0, 100] });
    m.ecs.on(DescribeServicesCommand).resolves(runningServices(2, { 'fe-blue': 0, 'be-blue': 0 }));
    const err = await rollback(m.ctx, { to: 'blue', actor: 't' }).catch((e) => e);
    expect(err).toBeInstanceOf(GuardRefused);
    expect(err.reason).toBe('frontend blue has desired count 0 (scaled down or scaling down): no traffic to a color without running tasks');
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
  });
});

describe('GIVEN a release shift (owner = the execution)', () => {
  test('fails WHEN the lock is revoked between the guards and the write THEN the fenced write is refused and nothing is written', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    let reads = 0;
    // The guards read the lock (held), then the rollback revokes it: the next read before the write finds it gone.
    m.ddb.on(GetItemCommand).callsFake(() => (++reads === 1 ? { Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S + 600 }) } : {}));
    const err = await shift(m.ctx, { target: { to: 'green', percent: 50 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toBeInstanceOf(GuardRefused);
    expect(err.message).toContain('does not hold the release lock');
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
  });

  test('fails WHEN the color gaining traffic has a service at desired count 0 THEN refused before any write', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.ecs.on(DescribeServicesCommand).resolves(runningServices(2, { 'be-green': 0 }));
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toMatchObject({ guard: 'health', reason: expect.stringContaining('backend green has desired count 0') });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
  });
});

describe('revokeLock', () => {
  test('deletes the lock only when the named owner holds it', async () => {
    m.ddb.on(DeleteItemCommand).resolves({});
    expect(await revokeLock(m.ctx, 'exec-1')).toBe(true);
    expect(plain(m.ddb.commandCalls(DeleteItemCommand)[0].args[0].input)).toMatchObject({
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeValues: { ':owner': 'exec-1' },
    });
  });
  test('WHEN someone else holds it THEN false and nothing removed', async () => {
    m.ddb.on(DeleteItemCommand).rejects(Object.assign(new Error('failed'), { name: 'ConditionalCheckFailedException', $metadata: {} }));
    expect(await revokeLock(m.ctx, 'exec-1')).toBe(false);
  });
});

describe('the retry deadline', () => {
  test('fails WHEN the next attempt could not end before the deadline THEN the last error is thrown without waiting', async () => {
    let now = 1_000;
    const sleeps: number[] = [];
    const fn = jest.fn().mockRejectedValue(throttled());
    const err = (await withRetry(fn, {
      deadlineMs: 10_000,
      attemptBoundMs: 4_000,
      clock: () => now,
      random: () => 1,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms + 4_000; // each failed attempt took its full bound
      },
    }).catch((e) => e)) as Error;
    expect(err.name).toBe('ThrottlingException');
    // Attempt 2 ends by 1,000 + 100 + 4,000 = 5,100, attempt 3 by 5,100 + 200 + 4,000 = 9,300 (both ≤ 10,000);
    // attempt 4 would end at 9,300 + 400 + 4,000: not started (the policy alone would allow 5 attempts).
    expect(fn).toHaveBeenCalledTimes(3);
    expect(sleeps).toEqual([100, 200]);
  });
});

describe('findInLedger', () => {
  test('pages back past the first page until the entry is found', async () => {
    const entry = (i: number, extra = {}) => marshall({ pk: 'dev', sk: `s${String(i).padStart(4, '0')}`, action: 'scale', ...extra });
    m.ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: Array.from({ length: 100 }, (_, i) => entry(999 - i)), LastEvaluatedKey: marshall({ pk: 'dev', sk: 's0900' }) })
      .resolvesOnce({ Items: [entry(899), entry(898, { action: 'shift', weightsBefore: { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } } })] });
    const found = await findInLedger(m.ctx, (e) => (e.action === 'shift' ? e.sk : undefined));
    expect(found).toBe('s0898');
    const queries = m.ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries[1].ExclusiveStartKey).toEqual(marshall({ pk: 'dev', sk: 's0900' }));
  });
  test('WHEN the search limit is reached THEN undefined', async () => {
    m.ddb.on(QueryCommand).resolves({ Items: [marshall({ pk: 'dev', sk: 'x', action: 'scale' })], LastEvaluatedKey: marshall({ pk: 'dev', sk: 'x' }) });
    expect(await findInLedger(m.ctx, () => undefined, { maxEntries: 3, pageSize: 1 })).toBeUndefined();
    expect(m.ddb.commandCalls(QueryCommand)).toHaveLength(3);
  });
});

describe('request bounds and the time budget', () => {
  test('every client built by clientConfig throws on a request timeout (a timeout alone only warns in this SDK)', () => {
    expect(clientConfig({}).requestHandler).toEqual({ connectionTimeout: 1000, requestTimeout: 2000, socketTimeout: 2000, throwOnRequestTimeout: true });
    expect(clientConfig({ requestBounds: { connectionTimeout: 3000, requestTimeout: 10000, socketTimeout: 10000 } }).requestHandler).toEqual({
      connectionTimeout: 3000,
      requestTimeout: 10000,
      socketTimeout: 10000,
      throwOnRequestTimeout: true,
    });
    expect(attemptBoundMs(TRAFFIC_REQUEST_BOUNDS)).toBe(4000);
  });
  test('the rollback reaches traffic safe within 30 s in the worst case, even when one call hangs (cold start included)', () => {
    const budget = timeToSafeBudget();
    expect(budget.oneHangMs).toBeLessThanOrEqual(30_000);
    // Cold topology read, the parallel reads, the writes, three read-backs (DescribeRules lags): 6 attempts of 4 s and
    // the read-back's waits; one hung call adds its attempt and the first backoff.
    expect(budget).toEqual({ attemptBoundMs: 4000, roundTrips: 4, slowestNoFaultMs: 24_300, oneHangMs: 28_400 });
  });
  test('the Lambda timeout covers the worst case to safe, the steps after it and the reserve to report a failure', () => {
    // After safe: claim, list + revoke + stop, settle (two attempt bounds), re-read (rules and counts), scale (2 reads,
    // 3 writes), the last re-read, record, publish, marker.
    const afterSafeRoundTrips = 13;
    const needed = timeToSafeBudget().oneHangMs + 2 * attemptBoundMs() + afterSafeRoundTrips * attemptBoundMs() + REPORT_RESERVE_MS;
    expect(ROLLBACK_TIMEOUT_SECONDS * 1000).toBeGreaterThanOrEqual(needed);
  });
});

describe('revokeLock when the answer of its delete is lost', () => {
  test('WHEN the retried delete fails its condition and no lock is left THEN it reports the revoke (its own first attempt landed)', async () => {
    m.ddb
      .on(DeleteItemCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
      .rejects(Object.assign(new Error('failed'), { name: 'ConditionalCheckFailedException', $metadata: {} }));
    m.ddb.on(GetItemCommand).resolves({});
    expect(await revokeLock(m.ctx, 'exec-1')).toBe(true);
  });
});

describe('a release shift fenced half-way', () => {
  test('WHEN the lock is revoked after the frontend write THEN the backend is not written, the frontend is not put back (the rollback owns it) and the message says so', async () => {
    const weights = statefulRules({ frontend: [90, 10], backend: [90, 10] });
    let reads = 0;
    // Guards, then the frontend's fence check: held. From then on the rollback has revoked it.
    m.ddb.on(GetItemCommand).callsFake(() => (++reads <= 2 ? { Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S + 600 }) } : {}));
    const err = await shift(m.ctx, { target: { to: 'green', percent: 50 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err.message).toContain('not restored: this shift lost the release lock (a rollback took over and owns the weights now)');
    expect(err.message).not.toContain('RESTORE FAILED');
    expect(weights).toEqual({ frontend: [50, 50], backend: [90, 10] });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(1);
  });
});
