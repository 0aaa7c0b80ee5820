/**
 * Fault injection against the rollback Lambda's DEPLOYED BUNDLE (minified, as lib/bundles.ts builds it), run as a
 * long-lived Lambda (test/support/bundle-runner.ts) whose AWS endpoint is a fault proxy in front of moto
 * (test/support/fault-proxy.ts). Setup and end-state checks use SDK clients pointed straight at moto.
 *
 * The invariant under test (lambda/rollback/core.ts header): after a rollback invocation AND its retries (Lambda
 * retries an async event with the same awsRequestId; modelled by invoking again with the same id when one failed),
 * no traffic is on the failing color, exactly one rollback is recorded and a notification went out — or the failure
 * is loud (RollbackFailed / RollbackIncomplete EMF line, an invocation error, a failure notification attempt).
 */
import { TRAFFIC_REQUEST_BOUNDS } from '../../lambda/traffic/client-config';
import { ROLLBACK_TIMEOUT_SECONDS } from '../../lambda/rollback/budget';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SERVICES } from '../support/services';
import { markerKey } from '../../lambda/rollback/marker';
import { acquireLock, destroyClients, forwardActions, fromItem, logger, readLedger, readRules, shift, toAttributes } from '../../lambda/traffic';
import { AllClients, createAllClients } from '../../lambda/traffic/notification-clients';
import { bundleAll, type BundleLambda, type Bundles, emfMetrics, type InvokeResult, startBundle, stopAllBundles } from '../support/bundle-runner';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { type MotoServer, startMoto } from '../support/moto';
import { alarmStateChangeEvent, currentWeights, desiredCountsOf, buildReleaseFixture, type ReleaseFixture, setAlarmState } from '../support/release';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

const ENTRY = 'lambda/rollback/handler.ts';
/** The deployed function timeout (lambda/rollback/budget.ts ROLLBACK_TIMEOUT_SECONDS). */
const TIMEOUT_MS = ROLLBACK_TIMEOUT_SECONDS * 1000;

let moto: MotoServer;
let proxy: FaultProxy;
let bundles: Bundles;
let clients: AllClients;
let lambda: BundleLambda;
let fx: ReleaseFixture;
let executionArn: string;
let ctx: { clients: AllClients; topology: ReleaseFixture['topology']; retry: { sleep: () => Promise<void> } };

beforeAll(async () => {
  [bundles, moto] = await Promise.all([bundleAll(), startMoto()]);
  proxy = await startFaultProxy(moto.endpoint);
  clients = createAllClients(moto.clientConfig);
}, 120000);

afterAll(async () => {
  await stopAllBundles();
  await proxy?.close();
  if (clients) destroyClients(clients);
  await moto?.stop();
  bundles?.remove();
});

beforeEach(async () => {
  await lambda?.stop();
  proxy.reset();
  await moto.reset();
  fx = await buildReleaseFixture(moto.clientConfig);
  ctx = { clients, topology: fx.topology, retry: { sleep: async () => undefined } };
  // A new execution environment per test: the handler keeps the topology (new ARNs per fixture) for its life.
  lambda = await startBundle(
    ENTRY,
    { TOPOLOGY_TABLE: fx.topology.lockTableName, RELEASE_STATE_MACHINE_ARN: fx.stateMachineArn },
    { bundles, endpoint: proxy.endpoint, timeoutMs: TIMEOUT_MS },
  );
  proxy.reset();
});

/** The release in progress: its execution RUNNING, the lock held by the execution (its owner is the ARN), green 10 %. */
async function canary(percent = 10) {
  executionArn = await fx.startRelease();
  await acquireLock(ctx, executionArn);
  await shift(ctx, { target: { to: 'green', percent }, owner: executionArn, actor: 'release', reason: `canary ${percent}%` });
}

async function fire(color: 'green' | 'blue' = 'green', i = 0) {
  const alarmName = fx.topology.rollbackAlarmNames[color][i];
  await setAlarmState(moto.clientConfig, alarmName, 'ALARM', [12]);
  return alarmStateChangeEvent({ alarmName });
}


const CANARY = { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } };
const ALL_BLUE = { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } };

const weights = () => currentWeights(ctx);
const desired = (color: 'blue' | 'green') => desiredCountsOf(clients.ecs, fx.topology, color);

const rollbackEntries = async () => (await readLedger(ctx, 200)).filter((e) => e.action === 'rollback');

async function marker(color: 'blue' | 'green' = 'green') {
  const out = await clients.dynamodb.send(
    new GetItemCommand({ TableName: fx.topology.lockTableName, Key: toAttributes({ pk: markerKey(fx.topology.environment, color) }), ConsistentRead: true }),
  );
  return fromItem<Record<string, any>>(out.Item);
}

/** Publish requests the Lambda sent (attempts), and those SNS accepted (the proxy saw moto answer 200). */
const publishAttempts = () => proxy.requests.filter((r) => r.operation === 'Publish').map((r) => ({ subject: String(r.body.Subject), message: String(r.body.Message), status: r.status, upstream: r.upstreamStatus }));
const published = () => publishAttempts().filter((p) => p.upstream === 200);

/** EMF lines of `metric` written by this test's execution environment(s). */
const metricLines = (metric: string) => emfMetrics(lambda.logs, metric);

const ruleArn = async (service: 'frontend' | 'backend') => (await readRules(ctx))[service].ruleArn;

/** Writes weights straight into moto (a writer the rollback does not control: a stopped release's late write). */
async function writeWeightsDirect(w: { blue: number; green: number }) {
  const rules = await readRules(ctx);
  for (const s of SERVICES) {
    await clients.elbv2.send(new ModifyRuleCommand({ RuleArn: rules[s].ruleArn, Actions: forwardActions(ctx, rules[s], w) }));
  }
}

async function putReleaseRecord(stable: 'blue' | 'green', candidate: 'blue' | 'green') {
  await clients.dynamodb.send(
    new PutItemCommand({
      TableName: fx.topology.lockTableName,
      Item: toAttributes({ pk: `${fx.topology.environment}#release`, executionArn, status: 'running', stable, candidate, updatedAt: new Date().toISOString() }),
    }),
  );
}

const describe_ = (r: InvokeResult) => (r.ok ? `ok ${(r.result as any)?.status}` : `${r.errorType}: ${r.errorMessage}`);

/** The invocation and Lambda's two async retries (same request id) while it keeps failing. */
async function invokeWithRetries(event: unknown, awsRequestId: string, between?: (r: InvokeResult, attempt: number) => Promise<void> | void) {
  const results: InvokeResult[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await lambda.invoke(event, { awsRequestId });
    results.push(r);
    if (r.ok) break;
    await between?.(r, attempt);
  }
  return results;
}

/** The success half of the invariant, in moto's end state. */
async function expectRolledBack() {
  expect(await weights()).toEqual(ALL_BLUE);
  expect(await desired('green')).toEqual({ frontend: 0, backend: 0 });
  expect(await desired('blue')).toEqual({ frontend: 2, backend: 2 });
  const entries = await rollbackEntries();
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ actor: 'rollback-lambda', weightsAfter: ALL_BLUE });
  const m = await marker();
  expect(m).toMatchObject({ state: 'done', ledgerSk: entries[0].sk, notifiedAt: expect.any(String) });
  expect(m?.notification).toBeUndefined();
  const sent = published().filter((p) => p.subject.includes('Automatic rollback'));
  expect(sent).toHaveLength(1);
  expect(sent[0].message).toContain(`ledger entry ${entries[0].sk}`);
  return { entry: entries[0], notification: sent[0] };
}

describe('GIVEN a canary of green at 10 % (execution RUNNING, its lock held) and the deployed rollback bundle behind the fault proxy', () => {
  beforeEach(() => canary());

  test('1. throttling of every call on the path (several times each) → rolled back, one record, one notification', async () => {
    const ops = [
      'DescribeRules',
      'ModifyRule',
      'DescribeServices',
      'DescribeTargetHealth',
      'GetItem',
      'Query',
      'UpdateItem',
      'DeleteItem',
      'ListExecutions',
      'StopExecution',
      'RegisterScalableTarget',
      'UpdateService',
      'TransactWriteItems',
      'Publish',
    ];
    const rules = ops.map((operation) => proxy.addRule({ operation, times: 2, fault: 'throttle' }));
    // The marker and release-record reads specifically (the first GetItems are the cold start's topology read).
    proxy.addRule({ operation: 'GetItem', match: (r) => String(r.body.Key?.pk?.S).includes('#rollback#'), times: 2, fault: 'throttle' });
    const results = await invokeWithRetries(await fire(), 'throttle-1');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    for (const r of rules) expect([r.operation, r.applied]).toEqual([r.operation, 2]);
    expect(proxy.requests.filter((r) => r.fault === 'throttle').length).toBeGreaterThanOrEqual(2 * ops.length);
    await expectRolledBack();
    expect(metricLines('RollbackCompleted')).toHaveLength(1);
    expect(metricLines('RollbackFailed')).toHaveLength(0);
  });

  test('1b. every write once lands but its answer is lost (connection reset after forwarding) → rolled back, one record', async () => {
    for (const operation of ['ModifyRule', 'UpdateItem', 'DeleteItem', 'StopExecution', 'RegisterScalableTarget', 'UpdateService', 'TransactWriteItems']) {
      proxy.addRule({ operation, fault: { reset: { forward: true } } });
    }
    const results = await invokeWithRetries(await fire(), 'reset-1');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    expect(proxy.requests.filter((r) => r.fault === 'reset+forward').length).toBe(7);
    await expectRolledBack();
  });

  test('2. AccessDenied on the backend ModifyRule only → frontend kept moved, loud RollbackFailed; the retry moves the backend, one record', async () => {
    const backendRule = await ruleArn('backend');
    const deny = proxy.addRule({ operation: 'ModifyRule', match: (r) => r.body.RuleArn === backendRule, times: Infinity, fault: 'deny' });
    const event = await fire();
    const first = await lambda.invoke(event, { awsRequestId: 'deny-1' });
    expect(first).toMatchObject({ ok: false, errorType: 'RollbackFailed', errorMessage: expect.stringContaining('backend') });
    expect(first.ok || first.errorMessage).toMatch(/frontend moved and kept/);
    // Moved is kept: the frontend is NOT restored to the canary.
    expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 90, green: 10 } });
    expect(metricLines('RollbackFailed')).toHaveLength(1);
    expect(publishAttempts().map((p) => p.subject)).toEqual([expect.stringContaining('ROLLBACK FAILED')]);
    expect(deny.applied).toBeGreaterThanOrEqual(2); // two passes
    expect((await rollbackEntries()).length).toBe(0);

    deny.remaining = 0; // the permission is fixed; Lambda retries the event
    const retry = await lambda.invoke(event, { awsRequestId: 'deny-1' });
    expect(describe_(retry)).toBe('ok rolled-back');
    expect(retry.ok && (retry.result as any).trafficChanged).toBe(true);
    await expectRolledBack();
  });

  test('2b. recording denied (TransactWriteItems) after traffic moved → loud RollbackIncomplete, no record; the retry records exactly one', async () => {
    const deny = proxy.addRule({ operation: 'TransactWriteItems', times: Infinity, fault: 'deny' });
    const event = await fire();
    const first = await lambda.invoke(event, { awsRequestId: 'record-1' });
    expect(first).toMatchObject({ ok: false, errorType: 'RollbackIncomplete', errorMessage: expect.stringContaining('ledger') });
    expect(await weights()).toEqual(ALL_BLUE); // traffic is safe already
    expect(metricLines('RollbackIncomplete')).toHaveLength(1);
    expect(publishAttempts().map((p) => [p.subject, p.status])).toEqual([[expect.stringContaining('Rollback incomplete'), 200]]);
    expect(await rollbackEntries()).toHaveLength(0);
    expect((await readLedger(ctx, 50)).map((e) => e.action)).toContain('rollback-failed');
    expect(await marker()).toMatchObject({ state: 'failed', lastError: expect.stringContaining('ledger') });

    deny.remaining = 0;
    const retry = await lambda.invoke(event, { awsRequestId: 'record-1' });
    expect(describe_(retry)).toBe('ok rolled-back');
    expect(retry.ok && (retry.result as any).trafficChanged).toBe(false);
    await expectRolledBack();
  });

  test('3a. one hanging ModifyRule → the request timeout fires, the retry succeeds; time-to-safe ≤ 30 s', async () => {
    proxy.addRule({ operation: 'ModifyRule', fault: 'hang' });
    const results = await invokeWithRetries(await fire(), 'hang-1');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    const timeToSafeMs = (results[0] as any).result.timeToSafeMs as number;
    expect(timeToSafeMs).toBeGreaterThanOrEqual(TRAFFIC_REQUEST_BOUNDS.requestTimeout); // the hung attempt waited for its request timeout
    expect(timeToSafeMs).toBeLessThanOrEqual(30_000);
    expect(proxy.requests.filter((r) => r.operation === 'ModifyRule').map((r) => r.fault ?? r.status)).toEqual(['hang', 200, 200]);
    const [line] = metricLines('RollbackTimeToSafe');
    expect(line.RollbackTimeToSafe).toBe(timeToSafeMs);
    await expectRolledBack();
  });

  test('3b. every DescribeRules hangs → loud RollbackFailed before the Lambda timeout (not Sandbox.Timedout), nothing moved', async () => {
    proxy.addRule({ operation: 'DescribeRules', times: Infinity, fault: 'hang' });
    const r = await lambda.invoke(await fire(), { awsRequestId: 'hang-all' });
    expect(r).toMatchObject({ ok: false, errorType: 'RollbackFailed' });
    expect(r.ms).toBeLessThan(TIMEOUT_MS - 10_000);
    expect(metricLines('RollbackFailed')).toHaveLength(1);
    expect(publishAttempts().map((p) => p.subject)).toEqual([expect.stringContaining('ROLLBACK FAILED')]);
    expect(proxy.count('ModifyRule')).toBe(0);
    expect(await weights()).toEqual(CANARY);
  }, 120000);

  test('4. ModifyRule of the frontend always lands but is never answered → verified by read-back, rolled back, one record', async () => {
    const frontendRule = await ruleArn('frontend');
    proxy.addRule({ operation: 'ModifyRule', match: (r) => r.body.RuleArn === frontendRule, times: Infinity, fault: { hang: { forward: true } } });
    const results = await invokeWithRetries(await fire(), 'landed-1');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    // Every attempt of the frontend's write timed out, yet the read-back saw it: no second pass was needed.
    const frontendWrites = proxy.requests.filter((r) => r.operation === 'ModifyRule' && r.body.RuleArn === frontendRule);
    expect(frontendWrites.length).toBeGreaterThanOrEqual(1);
    expect(frontendWrites.every((w) => w.status === undefined && w.upstreamStatus === 200)).toBe(true);
    expect((results[0] as any).result.timeToSafeMs).toBeLessThanOrEqual(30_000);
    await expectRolledBack();
  }, 90000);

  const kill = () => lambda.kill();
  const crashPoints: [string, () => void, 'rolled-back' | 'duplicate'][] = [
    ['after the first ModifyRule response', () => proxy.addRule({ operation: 'ModifyRule', fault: { after: kill } }), 'rolled-back'],
    [
      'after the claim UpdateItem',
      () => proxy.addRule({ operation: 'UpdateItem', match: (r) => String(r.body.UpdateExpression).startsWith('SET #state = :inProgress'), fault: { after: kill } }),
      'rolled-back',
    ],
    ['after StopExecution', () => proxy.addRule({ operation: 'StopExecution', fault: { after: kill } }), 'rolled-back'],
    ['after TransactWriteItems', () => proxy.addRule({ operation: 'TransactWriteItems', fault: { after: kill } }), 'duplicate'],
    [
      'before Publish (not sent)',
      // Throwing from the hook keeps the proxy from forwarding the request: the message is never published.
      () => proxy.addRule({ operation: 'Publish', fault: { before: async () => { await kill(); throw new Error('crashed before publishing'); } } }),
      'duplicate',
    ],
  ];
  test.each(crashPoints)('5. a crash %s, then the Lambda retry (same request id) → blue, green 0, one record, notified', async (_, inject, retryStatus) => {
    inject();
    const event = await fire();
    const results = await invokeWithRetries(event, 'crash-1');
    expect(results.map(describe_)).toEqual([expect.stringContaining('Runtime.ExitError'), `ok ${retryStatus}`]);
    expect(results[1].coldStart).toBe(true);
    const { entry } = await expectRolledBack();
    expect(entry.detail).toMatchObject({ failedColor: 'green', stableColor: 'blue' });
    expect(await fx.executionStatus(executionArn)).toBe('ABORTED');
  });

  test.each([
    ['the lock revoke (DeleteItem)', 'DeleteItem'],
    ['StopExecution', 'StopExecution'],
  ])('6. a stopped release writes green weights back right after %s → the same invocation corrects it', async (_, operation) => {
    proxy.addRule({ operation, fault: { after: () => writeWeightsDirect({ blue: 90, green: 10 }) } });
    const results = await invokeWithRetries(await fire(), 'late-1');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    const { entry, notification } = await expectRolledBack();
    expect((entry.detail as any).done).toEqual(expect.arrayContaining([expect.stringContaining('corrected a late write')]));
    expect(notification.message).toContain('corrected a late write');
  });

  test('7. notify-only (blue, the stable color, alarms) whose Publish is denied → loud RollbackFailed, nothing moved', async () => {
    proxy.addRule({ operation: 'Publish', times: Infinity, fault: 'deny' });
    const results = await invokeWithRetries(await fire('blue'), 'notify-1');
    expect(results.map((r) => !r.ok && r.errorType)).toEqual(['RollbackFailed', 'RollbackFailed', 'RollbackFailed']);
    expect(metricLines('RollbackFailed')).toHaveLength(3);
    expect(publishAttempts().map((p) => [p.subject, p.status])).toEqual(Array(3).fill([expect.stringContaining('ACTION NEEDED'), 403]));
    expect(proxy.count('ModifyRule')).toBe(0);
    expect(await weights()).toEqual(CANARY);
  });

  test('8a. the ledger Query denied, no release record, split traffic → loud RollbackFailed, no ModifyRule, every retry too', async () => {
    proxy.addRule({ operation: 'Query', times: Infinity, fault: 'deny' });
    const results = await invokeWithRetries(await fire(), 'ledger-1');
    expect(results.map((r) => !r.ok && r.errorType)).toEqual(['RollbackFailed', 'RollbackFailed', 'RollbackFailed']);
    expect(results[0].ok || results[0].errorMessage).toMatch(/cannot tell which color is stable/);
    expect(metricLines('RollbackFailed')).toHaveLength(3);
    expect(publishAttempts().filter((p) => p.subject.includes('ROLLBACK FAILED') && p.status === 200)).toHaveLength(3);
    expect(proxy.count('ModifyRule')).toBe(0);
    expect(await weights()).toEqual(CANARY);
  });

  test('8b. the ledger Query denied, a running release record → rolled back from the record', async () => {
    await putReleaseRecord('blue', 'green');
    proxy.addRule({ operation: 'Query', times: Infinity, fault: 'deny' });
    const results = await invokeWithRetries(await fire(), 'ledger-2');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    const { entry } = await expectRolledBack();
    expect(entry.detail).toMatchObject({ stableSource: 'release' });
  });

  test('10. an invalid event → errorType InvalidAlarmEvent (not a minified name), nothing but the topology read', async () => {
    const event = await fire();
    const r = await lambda.invoke({ ...event, detail: { ...event.detail, state: { value: 'ALARM' } } }, { awsRequestId: 'bad-1' });
    expect(r).toMatchObject({ ok: false, errorType: 'InvalidAlarmEvent', errorMessage: expect.stringContaining('detail.state.reason') });
    expect(proxy.requests.map((q) => q.operation)).toEqual(['GetItem']);
    expect(await weights()).toEqual(CANARY);
  });
});

describe('GIVEN the final bake: the release record running, all traffic on green, blue still running', () => {
  test('9. a green alarm → rolled back to blue', async () => {
    await canary(100);
    await putReleaseRecord('blue', 'green');
    expect(await weights()).toEqual({ frontend: { blue: 0, green: 100 }, backend: { blue: 0, green: 100 } });
    const results = await invokeWithRetries(await fire(), 'bake-1');
    expect(results.map(describe_)).toEqual(['ok rolled-back']);
    const { entry } = await expectRolledBack();
    expect(entry.detail).toMatchObject({ stableSource: 'release' });
  });
});
