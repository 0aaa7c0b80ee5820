/**
 * Failure safety of the release steps (issue "Failure-safe" §2), with aws-sdk-client-mock. Each test fails on the code
 * before the change: a late failure rolled back onto a color at 0 tasks, a failed safe state was silent, a stopped
 * execution's Lambda could still scale, an operator's rollback was undone by the next step, a completed release could
 * be released backwards, and the ledger said "no traffic had moved" after the rollback Lambda moved it.
 */
import { RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { notificationText } from '../../lambda/shared/headline';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, DescribeTargetHealthCommand, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { settingsFromEnv, type ReleaseContext } from '../../lambda/release/context';
import { abandoned, finish, hold, preflight, ReleaseState, safe, scaleUp, shiftStep } from '../../lambda/release/steps';
import { validateStepEvent } from '../../lambda/release/validate';
import { toAttributes } from '../../lambda/traffic';
import { healthy, mocks, NOW, NOW_S, rule } from '../lambda/helpers';
import { REHEARSAL_POLICY, releaseAt10 } from './harness';

const OWNER = 'arn:aws:states:us-east-1:1:execution:Release:abc';
const release: ReleaseState = releaseAt10({ owner: OWNER, approval: false, startedAt: '2029-12-31T23:00:00.000Z' });

const m = mocks();
const sns = mockClient(SNSClient);
let metricLines: string[];
afterAll(() => {
  m.restore();
  sns.restore();
});

const ctx = (): ReleaseContext => ({
  ...m.ctx,
  topology: { ...m.ctx.topology, notificationTopicArn: 'arn:aws:sns:us-east-1:1:t' },
  release: { sns: new SNSClient({ region: 'us-east-1' }) },
  settings: settingsFromEnv({ RELEASE_POLICY: JSON.stringify({ ...REHEARSAL_POLICY, backupBeforeRelease: false, migrationCommand: undefined }) }),
  metricSink: (line) => metricLines.push(line),
});

const key = (pk: string) => ({ Key: toAttributes({ pk }) });
function given(o: {
  weights?: { blue: number; green: number } | Record<'frontend' | 'backend', { blue: number; green: number }>;
  desired?: { blue: number; green: number };
  lockOwner?: string | null;
  record?: Record<string, unknown>;
  marker?: Record<string, unknown>;
  versions?: { blue: string; green: string };
  ledger?: Record<string, unknown>[];
}) {
  const w = o.weights ?? { blue: 90, green: 10 };
  const per = 'frontend' in w ? w : { frontend: w, backend: w };
  m.elbv2.on(DescribeRulesCommand).resolves({ Rules: [rule('frontend', per.frontend.blue, per.frontend.green), rule('backend', per.backend.blue, per.backend.green)] });
  m.elbv2.on(DescribeTargetHealthCommand).resolves(healthy('us-east-1a'));
  const d = o.desired ?? { blue: 2, green: 2 };
  const svc = (name: string, color: 'blue' | 'green') => ({ serviceName: name, status: 'ACTIVE', desiredCount: d[color], runningCount: d[color], taskDefinition: `td-${color}` });
  m.ecs.on(DescribeServicesCommand).resolves({ services: [svc('fe-blue', 'blue'), svc('fe-green', 'green'), svc('be-blue', 'blue'), svc('be-green', 'green')] });
  const v = o.versions ?? { blue: '1.0.0', green: '1.1.0' };
  m.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: 'td-blue' }).resolves({ taskDefinition: { containerDefinitions: [{ name: 'app', image: `repo/app:${v.blue}` }] } });
  m.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: 'td-green' }).resolves({ taskDefinition: { containerDefinitions: [{ name: 'app', image: `repo/app:${v.green}` }] } });
  m.ecs.on(UpdateServiceCommand).resolves({});
  m.autoscaling.on(RegisterScalableTargetCommand).resolves({});
  m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
  m.ddb.on(GetItemCommand).resolves({});
  const lockOwner = o.lockOwner === undefined ? OWNER : o.lockOwner;
  if (lockOwner) m.ddb.on(GetItemCommand, key('dev')).resolves({ Item: toAttributes({ pk: 'dev', owner: lockOwner, expiresAt: NOW_S + 3600 }) });
  if (o.record) m.ddb.on(GetItemCommand, key('dev#release')).resolves({ Item: toAttributes({ pk: 'dev#release', updatedAt: NOW.toISOString(), ...o.record }) });
  if (o.marker) m.ddb.on(GetItemCommand, key('dev#rollback#green')).resolves({ Item: toAttributes({ pk: 'dev#rollback#green', owner: 'x', leaseExpiresAt: 0, ...o.marker }) });
  m.ddb.on(PutItemCommand).resolves({});
  m.ddb.on(DeleteItemCommand).resolves({});
  m.ddb.on(QueryCommand).resolves({ Items: (o.ledger ?? []).map((e) => toAttributes(e)) });
}

const ledgerPuts = () =>
  m.ddb
    .commandCalls(PutItemCommand)
    .filter((c) => c.args[0].input.TableName === 'ledger')
    .map((c) => ({ action: c.args[0].input.Item!.action?.S, reason: c.args[0].input.Item!.reason?.S ?? '' }));
const recordPuts = () =>
  m.ddb
    .commandCalls(PutItemCommand)
    .filter((c) => c.args[0].input.Item?.pk?.S === 'dev#release')
    .map((c) => ({ status: c.args[0].input.Item!.status?.S, error: c.args[0].input.Item!.error?.S }));
/** Each notification's event (the step of its first line, lambda/shared/headline.ts) and its text. */
const published = () =>
  sns.commandCalls(PublishCommand).map((c) => {
    const message = notificationText(c.args[0].input.Message!);
    return { event: /^\[[^\]]+\] [^:]+: ([a-z-]+)/.exec(message)?.[1], message };
  });
const scaled = () => m.ecs.commandCalls(UpdateServiceCommand).map((c) => `${c.args[0].input.service}=${c.args[0].input.desiredCount}`);

beforeEach(() => {
  for (const x of [m.elbv2, m.ecs, m.ddb, m.cloudwatch, m.autoscaling, sns]) x.reset();
  sns.on(PublishCommand).resolves({});
  metricLines = [];
});

describe('a: Finish never rolls back and never scales the live color', () => {
  const atFull = { ...release, stepIndex: 3, percent: 100 };
  test('GIVEN an operator rolled back during the rollback window THEN Finish throws OperatorOverride and scales nothing', async () => {
    given({ weights: { blue: 100, green: 0 } });
    const e = await finish(ctx(), atFull).catch((x) => x);
    expect(e).toMatchObject({ name: 'OperatorOverride', message: expect.stringMatching(/frontend is blue 100 \/ green 0.*someone else moved traffic/) });
    expect(scaled()).toEqual([]);
  });
  test('GIVEN a failure after the scale-down (release record write) THEN FinishIncomplete, reported, lock released, nothing rolled back', async () => {
    given({ weights: { blue: 0, green: 100 } });
    m.ddb.on(PutItemCommand, { Item: { status: { S: 'succeeded' } } }).rejects(new Error('record unavailable'));
    const e = await finish(ctx(), atFull).catch((x) => x);
    expect(e).toMatchObject({ name: 'FinishIncomplete', message: expect.stringMatching(/INCOMPLETE: green serves 100%, blue scaled to 0; release record: .*record unavailable.*Nothing was rolled back/) });
    expect(scaled()).toEqual(['fe-blue=0', 'be-blue=0']);
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(recordPuts().map((r) => r.status)).toEqual(['succeeded', 'finish-incomplete']);
    expect(published().map((p) => p.event)).toEqual(['completed', 'finish-incomplete']);
    expect(m.ddb.commandCalls(DeleteItemCommand)).toHaveLength(1);
  });
  test('GIVEN the scale-down landed but its own ledger entry failed THEN Finish says the old color IS at 0 (ECS decides), no rollback', async () => {
    given({ weights: { blue: 0, green: 100 } });
    const svc = (name: string, desired: number, td: string) => ({ serviceName: name, status: 'ACTIVE', desiredCount: desired, runningCount: desired, taskDefinition: td });
    m.ecs
      .on(DescribeServicesCommand)
      .resolvesOnce({ services: [svc('fe-blue', 2, 'td-blue'), svc('fe-green', 2, 'td-green'), svc('be-blue', 2, 'td-blue'), svc('be-green', 2, 'td-green')] })
      .resolves({ services: [svc('fe-blue', 0, 'td-blue'), svc('fe-green', 2, 'td-green'), svc('be-blue', 0, 'td-blue'), svc('be-green', 2, 'td-green')] });
    m.ddb.on(PutItemCommand, { TableName: 'ledger' }).rejects(new Error('ledger unavailable'));
    const e = await finish(ctx(), atFull).catch((x) => x);
    expect(e).toMatchObject({ name: 'FinishIncomplete', message: expect.stringMatching(/green serves 100%, blue scaled to 0; scaling blue to 0 reported an error \(blue is at desired 0\)/) });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(published().map((p) => p.event)).toEqual(['completed', 'finish-incomplete']);
  });
  test('GIVEN the scale-down fails THEN FinishIncomplete names the command to finish it; no rollback', async () => {
    given({ weights: { blue: 0, green: 100 } });
    m.ecs.on(UpdateServiceCommand).rejects(new Error('ECS unavailable'));
    const e = await finish(ctx(), atFull).catch((x) => x);
    expect(e).toMatchObject({ name: 'FinishIncomplete', message: expect.stringContaining('npm run traffic -- scale --color blue --count 0 --env dev') });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(recordPuts().map((r) => r.status)).toEqual(['finish-incomplete']);
  });
  test("the completed entry carries the versions and colors (the downgrade check's input)", async () => {
    given({ weights: { blue: 0, green: 100 } });
    await finish(ctx(), atFull);
    const put = m.ddb.commandCalls(PutItemCommand).find((c) => c.args[0].input.Item?.action?.S === 'release:completed')!;
    expect(put.args[0].input.Item!.detail.M).toMatchObject({ fromVersion: { S: release.fromVersion }, toVersion: { S: release.toVersion }, live: { S: 'green' }, replaced: { S: 'blue' } });
  });
});

describe('a: the safe state never routes traffic to a color that is not running', () => {
  test('GIVEN traffic on green and blue at desired 0 THEN traffic stays on green, green keeps running, loud notification and metric', async () => {
    given({ weights: { blue: 0, green: 100 }, desired: { blue: 0, green: 2 } });
    const r = await safe(ctx(), { executionId: OWNER, release: { ...release, percent: 100 }, error: { Error: 'States.Timeout', Cause: 'late' } });
    expect(r).toMatchObject({ rolledBack: false, stableNotRunning: true, lockReleased: true });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(scaled()).toEqual([]);
    expect(published()[0].message).toMatch(/STABLE COLOR NOT RUNNING: blue has frontend desired count 0.*traffic left on green/);
    expect(metricLines).toHaveLength(1);
    expect(JSON.parse(metricLines[0])).toMatchObject({ Environment: 'dev', ReleaseSafeStateFailed: 1, _aws: { CloudWatchMetrics: [{ Namespace: 'SafeReleases' }] } });
  });
});

describe('b: a safe state that fails is loud', () => {
  test('GIVEN the rollback writes keep failing THEN record safe-failed, ledger entry, notification with commands, metric, lock kept, SafeStateFailed', async () => {
    given({ weights: { blue: 50, green: 50 } });
    m.elbv2.on(ModifyRuleCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const e = await safe(ctx(), { executionId: OWNER, release: { ...release, percent: 50 }, error: { Error: 'GateFailed', Cause: 'green-5xx' } }).catch((x) => x);
    expect(e).toMatchObject({ name: 'SafeStateFailed', message: expect.stringMatching(/SAFE STATE FAILED.*GateFailed.*lock is kept.*rollback --to blue --env dev.*release -- unlock --env dev/) });
    expect(recordPuts()).toEqual([{ status: 'safe-failed', error: expect.stringContaining('denied') }]);
    expect(ledgerPuts().map((l) => l.action)).toContain('release:safe-failed');
    expect(published().map((p) => p.event)).toContain('safe-failed');
    expect(metricLines.map((l) => JSON.parse(l).ReleaseSafeStateFailed)).toEqual([1]);
    expect(m.ddb.commandCalls(DeleteItemCommand)).toEqual([]);
  });
  test('GIVEN DynamoDB down too THEN the notification and the metric still go out', async () => {
    given({ weights: { blue: 50, green: 50 } });
    m.elbv2.on(ModifyRuleCommand).rejects(new Error('denied'));
    m.ddb.on(PutItemCommand).rejects(new Error('DynamoDB down'));
    await expect(safe(ctx(), { executionId: OWNER, release: { ...release, percent: 50 }, error: { Error: 'GateFailed' } })).rejects.toMatchObject({ name: 'SafeStateFailed' });
    expect(published().map((p) => p.event)).toEqual(['safe-failed']);
    expect(metricLines).toHaveLength(1);
  });
  test('a refused start (no colors) does not overwrite the release record of the release holding the lock', async () => {
    given({ lockOwner: OWNER });
    // Its own lock release fails: the safe state failed, but the record belongs to whoever started a release.
    m.ddb.on(DeleteItemCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(safe(ctx(), { executionId: OWNER, release: {}, error: { Error: 'LockHeld' } })).rejects.toMatchObject({ name: 'SafeStateFailed' });
    expect(recordPuts()).toEqual([]);
  });
  test('WHEN only the last ledger entry fails (traffic, record and lock settled) THEN it is not a failed safe state: no safe-failed record, no page', async () => {
    given({ weights: { blue: 100, green: 0 }, lockOwner: OWNER });
    m.ddb.on(PutItemCommand, { TableName: 'ledger' }).rejects(new Error('ledger down'));
    const out = await safe(ctx(), { executionId: OWNER, release, error: { Error: 'GateFailed', Cause: 'green 5xx' } });
    expect(out).toMatchObject({ rolledBack: false, lockReleased: true });
    expect(recordPuts().map((r) => r.status)).toEqual(['failed']);
    expect(metricLines).toEqual([]);
  });
  test('the Abandoned clean-up skips a safe-failed record (no loop, nothing written)', async () => {
    given({ record: { executionArn: OWNER, status: 'safe-failed', stable: 'blue', candidate: 'green' } });
    await expect(abandoned(ctx(), { executionArn: OWNER, status: 'FAILED', error: 'SafeStateFailed' })).resolves.toMatchObject({ skipped: expect.stringContaining('safe-failed') });
    expect(m.ddb.commandCalls(PutItemCommand)).toEqual([]);
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
  });
});

describe('c: fencing', () => {
  test('GIVEN the lock was deleted (execution stopped by the rollback Lambda) THEN scaleUp refuses with GuardRefused(lock) and scales nothing', async () => {
    given({ lockOwner: null });
    await expect(scaleUp(ctx(), { ...release, percent: 0, stepIndex: 0, scaledUp: false })).rejects.toMatchObject({ name: 'GuardRefused', guard: 'lock' });
    expect(scaled()).toEqual([]);
  });
  test("GIVEN another owner holds the lock THEN Finish refuses before scaling", async () => {
    given({ weights: { blue: 0, green: 100 }, lockOwner: 'arn:newer' });
    await expect(finish(ctx(), { ...release, stepIndex: 3, percent: 100 })).rejects.toMatchObject({ name: 'GuardRefused', guard: 'lock' });
    expect(scaled()).toEqual([]);
  });
});

describe('d: operator override', () => {
  test('GIVEN an operator rolled back during the bake at 10% THEN the next step throws OperatorOverride naming the service and writes nothing', async () => {
    given({ weights: { frontend: { blue: 100, green: 0 }, backend: { blue: 90, green: 10 } } });
    const e = await shiftStep(ctx(), release).catch((x) => x);
    expect(e).toMatchObject({ name: 'OperatorOverride', message: expect.stringMatching(/shift of green to 50%.*green 10%, blue 90%.*frontend is blue 100 \/ green 0/) });
    expect(e.message).not.toContain('backend is');
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
  });
  test("a retried step whose first attempt already wrote its own target is not an override", async () => {
    given({ weights: { blue: 50, green: 50 } });
    m.elbv2.on(ModifyRuleCommand).resolves({});
    await expect(shiftStep(ctx(), release)).resolves.toMatchObject({ percent: 50 });
  });
  test("a shift starts the judge's window and the step's extensions afresh", async () => {
    // The weights read back as the step's own target (as in the test above): the shift itself is not the point here.
    given({ weights: { blue: 50, green: 50 } });
    m.elbv2.on(ModifyRuleCommand).resolves({});
    const before = Date.now();
    const out = await shiftStep(ctx(), { ...release, extensions: 2, extend: true, judgeLooks: 3, shiftedAt: '2000-01-01T00:00:00.000Z' });
    expect(out).toMatchObject({ percent: 50, extensions: 0, extend: false, judgeLooks: 3 });
    expect(Date.parse(out.shiftedAt!)).toBeGreaterThanOrEqual(before - 1000);
  });
  test('the hold says why: an operator changed the weights', async () => {
    given({ weights: { blue: 100, green: 0 } });
    await hold(ctx(), { executionId: OWNER, release, error: { Error: 'OperatorOverride', Cause: 'frontend is blue 100 / green 0' } });
    expect(published()[0].message).toMatch(/HELD at 10% because an operator changed the weights: frontend is blue 100/);
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
  });
  test('the Abandoned clean-up of an OperatorOverride execution holds, never rolls back', async () => {
    given({ weights: { blue: 100, green: 0 }, record: { executionArn: OWNER, status: 'running', stable: 'blue', candidate: 'green' } });
    await expect(abandoned(ctx(), { executionArn: OWNER, status: 'FAILED', error: 'OperatorOverride' })).resolves.toMatchObject({ held: true });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(scaled()).toEqual([]);
  });
  test('the Abandoned clean-up of a FinishIncomplete execution reports and never moves traffic or scales', async () => {
    given({ weights: { blue: 0, green: 100 }, desired: { blue: 0, green: 2 }, record: { executionArn: OWNER, status: 'running', stable: 'blue', candidate: 'green' } });
    await expect(abandoned(ctx(), { executionArn: OWNER, status: 'FAILED', error: 'FinishIncomplete' })).resolves.toMatchObject({ finishIncomplete: true, lockReleased: true });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(scaled()).toEqual([]);
    expect(recordPuts().map((r) => r.status)).toEqual(['finish-incomplete']);
  });
});

describe('e: downgrades', () => {
  // Green was released over blue (1.0.0 → 1.1.0) and completed; blue (scaled to 0) still has 1.0.0. Nothing new deployed.
  const completed = {
    pk: 'dev',
    sk: '2029-12-01T00:00:00.000Z#x',
    time: '2029-12-01T00:00:00.000Z',
    environment: 'dev',
    actor: 'me',
    action: 'release:completed',
    reason: 'release complete',
    detail: { fromVersion: 'frontend 1.0.0, backend 1.0.0', toVersion: 'frontend 1.1.0, backend 1.1.0', live: 'green', replaced: 'blue' },
  };
  const restart = () => given({ weights: { blue: 0, green: 100 }, desired: { blue: 0, green: 2 }, lockOwner: null, versions: { blue: '1.0.0', green: '1.1.0' }, ledger: [completed] });
  test('GIVEN a restart after a completed release with nothing new deployed THEN preflight refuses (PreflightRefused names --force) and releases the lock', async () => {
    restart();
    const e = await preflight(ctx(), { executionId: OWNER }).catch((x) => x);
    expect(e).toMatchObject({ name: 'PreflightRefused', message: expect.stringMatching(/idle color blue runs frontend 1.0.0 \(replaced by the release completed 2029-12-01.*downgrade.*--force/) });
    expect(m.ddb.commandCalls(DeleteItemCommand)).toHaveLength(1);
    expect(recordPuts()).toEqual([]);
  });
  test('GIVEN force THEN the downgrade starts, and the ledger says it was forced', async () => {
    restart();
    await expect(preflight(ctx(), { executionId: OWNER, force: true })).resolves.toMatchObject({ stable: 'green', candidate: 'blue' });
    expect(ledgerPuts().find((l) => l.action === 'release:started')!.reason).toMatch(/FORCED downgrade of frontend to 1.0.0/);
  });
  test('a newer version on the idle color is no downgrade', async () => {
    given({ weights: { blue: 0, green: 100 }, desired: { blue: 0, green: 2 }, lockOwner: null, versions: { blue: '1.2.0', green: '1.1.0' }, ledger: [completed] });
    await expect(preflight(ctx(), { executionId: OWNER })).resolves.toMatchObject({ candidate: 'blue' });
  });
  test('the execution input takes force (a boolean) and nothing else new', () => {
    expect(validateStepEvent({ step: 'preflight', executionId: 'x', input: { force: true } })).toEqual({ step: 'preflight', executionId: 'x', force: true });
    expect(() => validateStepEvent({ step: 'preflight', executionId: 'x', input: { force: 'yes' } })).toThrow(/input.force must be a boolean/);
  });
});

describe('f: the ledger says what happened', () => {
  test('GIVEN the rollback Lambda rolled this release back THEN the safe state does not move traffic again and the ledger names it', async () => {
    given({ weights: { blue: 100, green: 0 }, desired: { blue: 2, green: 0 }, lockOwner: null, marker: { state: 'done', completedAtMs: Date.parse('2029-12-31T23:30:00.000Z'), completedAt: '2029-12-31T23:30:00.000Z', alarmName: 'green-5xx' } });
    const r = await safe(ctx(), { executionId: OWNER, release: { ...release, percent: 50 }, error: { Error: 'States.Timeout' } });
    expect(r).toMatchObject({ rolledBack: false, rolledBackByLambda: expect.stringContaining('green-5xx') });
    const [entry] = ledgerPuts().filter((l) => l.action === 'release:rolled-back');
    expect(entry.reason).toMatch(/the rollback Lambda moved traffic back to blue at 2029-12-31T23:30:00.000Z \(alarm green-5xx\)/);
    expect(entry.reason).not.toContain('no traffic had moved');
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toEqual([]);
    expect(scaled()).toEqual([]);
  });
  test('a marker from before this release started is not this release’s rollback', async () => {
    given({ weights: { blue: 100, green: 0 }, marker: { state: 'done', completedAtMs: Date.parse('2029-01-01T00:00:00.000Z'), alarmName: 'green-5xx' } });
    await safe(ctx(), { executionId: OWNER, release: { ...release, percent: 50 }, error: { Error: 'GateFailed' } });
    expect(ledgerPuts().find((l) => l.action === 'release:failed')!.reason).toMatch(/green had reached 50% but all traffic was already back on blue \(moved by someone else/);
  });
});

describe('the migration start under a timed-out RunTask', () => {
  test('every RunTask attempt carries the same client token (ECS returns the task it started instead of a second migration)', async () => {
    const { ListTasksCommand, RunTaskCommand } = await import('@aws-sdk/client-ecs');
    const { migrationStart, migrationStartedBy } = await import('../../lambda/release/steps');
    m.ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    m.ecs
      .on(RunTaskCommand)
      .rejectsOnce(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }))
      .resolves({ tasks: [{ taskArn: 'arn:task/1' }] });
    m.ddb.on(PutItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'x' });
    const c = {
      ...ctx(),
      settings: {
        ...ctx().settings,
        policy: { ...ctx().settings.policy, migrationCommand: ['migrate'] },
        migration: { taskDefinitions: { blue: 'td-blue', green: 'td-green' }, containerName: 'backend', subnets: ['s'], securityGroups: ['g'] },
      },
    };
    const out = await migrationStart(c, release);
    expect(out.migrationTaskArn).toBe('arn:task/1');
    const tokens = m.ecs.commandCalls(RunTaskCommand).map((call) => call.args[0].input.clientToken);
    expect(tokens).toEqual([migrationStartedBy(OWNER), migrationStartedBy(OWNER)]);
  });
});

describe('races and retries of Finish found in review', () => {
  test('WHEN a rollback takes traffic back to the old color while Finish scales it down THEN Finish brings it back and ends FinishIncomplete, never leaving it at 0 with traffic', async () => {
    given({ weights: { blue: 0, green: 100 }, lockOwner: OWNER });
    let reads = 0;
    // Before the scale-down (Finish's own check, scaleColor's guard): all on green; after it: a rollback moved traffic to blue.
    m.elbv2.on(DescribeRulesCommand).callsFake(() =>
      ++reads <= 2 ? { Rules: [rule('frontend', 0, 100), rule('backend', 0, 100)] } : { Rules: [rule('frontend', 100, 0), rule('backend', 100, 0)] },
    );
    const err = await finish(ctx(), { ...release, stepIndex: 3, percent: 100 }).catch((e) => e);
    expect(err).toMatchObject({ name: 'FinishIncomplete' });
    expect(err.message).toContain('traffic was moved back to blue during finish');
    // Scaled to 0, then back to its counts.
    expect(scaled()).toEqual(['fe-blue=0', 'be-blue=0', 'fe-blue=2', 'be-blue=2']);
    expect(recordPuts().at(-1)).toMatchObject({ status: 'finish-incomplete' });
    const rec = m.ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item!).filter((i) => i.pk?.S === 'dev#release').at(-1)!;
    expect([rec.stable?.S, rec.candidate?.S]).toEqual(['blue', 'green']);
  });

  test('WHEN Finish is retried after it completed and crashed before answering THEN it succeeds without touching anything', async () => {
    given({ weights: { blue: 0, green: 100 }, lockOwner: null, record: { executionArn: OWNER, status: 'succeeded', stable: 'green', candidate: 'blue' } });
    await expect(finish(ctx(), { ...release, stepIndex: 3, percent: 100 })).resolves.toMatchObject({ released: true, live: 'green' });
    expect(scaled()).toEqual([]);
  });

  test('WHEN an operator rolled back and the release holds THEN the commands follow where traffic is (no "scale the stable color to 0")', async () => {
    given({ weights: { blue: 100, green: 0 }, lockOwner: OWNER });
    const out = await hold(ctx(), { executionId: OWNER, release: { ...release, stepIndex: 3, percent: 100 }, error: { Error: 'OperatorOverride', Cause: 'x' } });
    expect(out.commands.join(' ')).not.toContain('scale --color blue --count 0');
    expect(out.commands.join(' ')).toContain('release again');
  });
});
