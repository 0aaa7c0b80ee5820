/**
 * The rollback Lambda's core against a local moto server with real EventBridge "CloudWatch Alarm State Change" event
 * shapes: ELBv2 weights, ECS desired counts, scalable targets, DynamoDB conditional writes and transactions, Step
 * Functions executions and SNS. One moto per file; state reset and the fixture rebuilt before each test, then a release
 * to green at 10% (lock taken, shift) with a RUNNING release execution.
 */
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SERVICES } from '../support/services';
import { handleAlarmEvent, InvalidAlarmEvent, markerKey, RollbackContext, RollbackOutcome } from '../../lambda/rollback';
import { acquireLock, destroyClients, fromItem, logger, readLedger, readLock, shift, toAttributes } from '../../lambda/traffic';
import { AllClients, createAllClients } from '../../lambda/traffic/notification-clients';
import { ROUND_TRIPS_TO_SAFE } from '../../lambda/rollback/budget';
import { instrumentClients, Instrument, isReadCommand, publishedMessages, roundTrips, throttlingError } from '../support/instrument';
import { MotoServer, startMoto } from '../support/moto';
import { alarmStateChangeEvent, currentWeights, desiredCountsOf, buildReleaseFixture, ReleaseFixture, setAlarmState } from '../support/release';

jest.setTimeout(60000);
// moto's server is threaded and its DynamoDB checks a condition and writes without a lock, so two truly
// concurrent conditional writes (the "at once" tests) can both pass there under load; DynamoDB itself
// never lets them. One retry, with the first failure logged, keeps such a flake from failing CI.
jest.retryTimes(1, { logErrorsBeforeRetry: true });
logger.setLogLevel('SILENT');

let moto: MotoServer;
let clients: AllClients;
let inst: Instrument;
let fx: ReleaseFixture;
let ctx: RollbackContext;
let executionArn: string;
let metrics: Record<string, unknown>[];
const RELEASE_OWNER = 'release:exec-1';
const noSleep = { sleep: async () => undefined };

beforeAll(async () => {
  moto = await startMoto();
  clients = createAllClients(moto.clientConfig);
  inst = instrumentClients(clients);
});

afterAll(async () => {
  inst?.detach();
  if (clients) destroyClients(clients);
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  fx = await buildReleaseFixture(moto.clientConfig);
  metrics = [];
  ctx = {
    clients,
    topology: fx.topology,
    retry: noSleep,
    releaseStateMachineArn: fx.stateMachineArn,
    metricSink: (line) => metrics.push(JSON.parse(line)),
  };
  // The release: lock, canary to green 10%, its execution RUNNING.
  executionArn = await fx.startRelease();
  await acquireLock(ctx, RELEASE_OWNER);
  await shift(ctx, { target: { to: 'green', percent: 10 }, owner: RELEASE_OWNER, actor: 'release', reason: 'canary 10%' });
  inst.reset();
});

const greenAlarms = () => fx.topology.rollbackAlarmNames.green;
const blueAlarms = () => fx.topology.rollbackAlarmNames.blue;

/** Drives the alarm to ALARM in moto and returns the EventBridge event CloudWatch would send. */
async function fire(alarmName: string, datapoints = [12]) {
  await setAlarmState(moto.clientConfig, alarmName, 'ALARM', datapoints);
  return alarmStateChangeEvent({ alarmName, datapoints });
}

const weights = () => currentWeights(ctx);
const desired = (color: 'blue' | 'green') => desiredCountsOf(clients.ecs, fx.topology, color);

async function scalableTargets(color: 'blue' | 'green') {
  const ids = SERVICES.map((s) => `service/${fx.topology.clusterName}/${fx.topology.services[s].colors[color].serviceName}`);
  const out = await clients.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: ids }));
  return Object.fromEntries(
    SERVICES.map((s, i) => {
      const t = out.ScalableTargets!.find((x) => x.ResourceId === ids[i])!;
      return [s, { min: t.MinCapacity, max: t.MaxCapacity }];
    }),
  );
}

async function ledgerActions() {
  return (await readLedger(ctx, 100)).map((e) => e.action);
}

const CANARY = { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } };
const ALL_BLUE = { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } };
/** What SNS accepted (moto's own record, /moto-api/data.json, takes 2 s to read: too slow per test). */
const published = () => publishedMessages(inst).map((m) => ({ topicArn: m.TopicArn, subject: m.Subject, message: m.Message }));
const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

describe('GIVEN a canary release of green at 10% with its execution running and the release lock held', () => {
  test('WHEN a green rollback alarm fires THEN blue 100 on both rules, green scaled to 0/0, release stopped, one ledger entry, one notification', async () => {
    const alarm = greenAlarms()[0];
    const out = await handleAlarmEvent(ctx, await fire(alarm, [12, 17]));

    expect(out).toMatchObject({ status: 'rolled-back', failedColor: 'green', stableColor: 'blue', trafficChanged: true });
    expect(await weights()).toEqual(ALL_BLUE);
    expect(await desired('green')).toEqual({ frontend: 0, backend: 0 });
    expect(await desired('blue')).toEqual({ frontend: 2, backend: 2 });
    expect(await scalableTargets('green')).toEqual({ frontend: { min: 0, max: 0 }, backend: { min: 0, max: 0 } });
    expect(await scalableTargets('blue')).toEqual({ frontend: { min: 2, max: 6 }, backend: { min: 2, max: 6 } });
    expect(await fx.executionStatus(executionArn)).toBe('ABORTED');
    const stop = inst.calls.find((c) => c.command === 'StopExecution')!;
    expect(stop.input).toMatchObject({ executionArn, error: 'AlarmRollback', cause: expect.stringContaining(alarm) });

    const ledger = await readLedger(ctx, 100);
    const rollbacks = ledger.filter((e) => e.action === 'rollback');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({
      actor: 'rollback-lambda',
      weightsBefore: CANARY,
      weightsAfter: ALL_BLUE,
      detail: expect.objectContaining({ alarmName: alarm, failedColor: 'green', stoppedExecutions: [executionArn] }),
    });
    expect(out.status === 'rolled-back' && out.ledgerSk).toBe(rollbacks[0].sk);

    const sent = published();
    expect(sent).toHaveLength(1);
    expect(sent[0].topicArn).toBe(fx.notificationTopicArn);
    expect(sent[0].subject).toBe(`[dev] Automatic rollback: alarm ${alarm} | frontend, backend | green -> blue`);
    expect(sent[0].message).toContain(`Alarm:          ${alarm} (green)`);
    expect(sent[0].message).toContain('Threshold Crossed: 2 datapoints');
    expect(sent[0].message).toContain('Metric values:  recent datapoints 12, 17; threshold 5; statistic Sum; period 60 s');
    expect(sent[0].message).toContain('Weights before: frontend blue 90 / green 10, backend blue 90 / green 10');
    expect(sent[0].message).toContain('Weights after:  frontend blue 100 / green 0, backend blue 100 / green 0');
    expect(sent[0].message).toContain(`stopped release execution ${executionArn}`);
    expect(sent[0].message).toContain('scaled green to 0 (frontend 2 -> 0, backend 2 -> 0)');

    expect(metrics).toEqual([expect.objectContaining({ Environment: 'dev', RollbackCompleted: 1, RollbackTimeToSafe: expect.any(Number) })]);
    // The release lock is the release's: the rollback neither waited on it nor took it.
    expect(await readLock(ctx)).toMatchObject({ owner: RELEASE_OWNER });
  });

  test('WHEN it rolls back THEN the first write is a ModifyRule and both ModifyRules come before every other write', async () => {
    let atSafe = -1;
    await handleAlarmEvent({ ...ctx, onSafe: () => (atSafe = inst.calls.length) }, await fire(greenAlarms()[0]));
    // The budget (lambda/rollback/budget.ts) counts on this many sequential round trips to safe (warm).
    expect(roundTrips(inst.calls.slice(0, atSafe))).toBe(ROUND_TRIPS_TO_SAFE);
    const writes = inst.calls.filter((c) => !isReadCommand(c.command));
    expect(writes.slice(0, 2).map((c) => c.command)).toEqual(['ModifyRule', 'ModifyRule']);
    expect(count(writes.map((c) => c.command), 'ModifyRule')).toBe(2);
    for (const later of ['UpdateItem', 'StopExecution', 'RegisterScalableTarget', 'UpdateService', 'TransactWriteItems', 'Publish']) {
      expect(writes.map((c) => c.command)).toContain(later);
    }
  });

  test('WHEN the same event arrives twice THEN the second is a no-op and there is exactly one rollback entry and notification', async () => {
    const event = await fire(greenAlarms()[0]);
    const first = await handleAlarmEvent(ctx, event);
    const second = await handleAlarmEvent(ctx, event);
    expect(first.status).toBe('rolled-back');
    expect(second).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('already handled') });
    expect(await weights()).toEqual(ALL_BLUE);
    expect(count(await ledgerActions(), 'rollback')).toBe(1);
    expect(published()).toHaveLength(1);
  });

  test('WHEN the same event is delivered twice at once THEN one rollback entry and one consistent state', async () => {
    const event = await fire(greenAlarms()[0]);
    const outs = await Promise.all([handleAlarmEvent(ctx, event), handleAlarmEvent(ctx, event)]);
    expect(outs.map((o) => o.status).sort()).toEqual(['duplicate', 'rolled-back']);
    expect(await weights()).toEqual(ALL_BLUE);
    expect(await desired('green')).toEqual({ frontend: 0, backend: 0 });
    expect(count(await ledgerActions(), 'rollback')).toBe(1);
  });

  test('WHEN both green alarms fire at once THEN one invocation rolls back, the other is a duplicate, one rollback entry', async () => {
    const [a, b] = greenAlarms();
    const events = await Promise.all([fire(a), fire(b)]);
    const outs: RollbackOutcome[] = await Promise.all(events.map((e) => handleAlarmEvent(ctx, e)));
    expect(outs.map((o) => o.status).sort()).toEqual(['duplicate', 'rolled-back']);
    expect(await weights()).toEqual(ALL_BLUE);
    expect(await desired('green')).toEqual({ frontend: 0, backend: 0 });
    expect(await scalableTargets('green')).toEqual({ frontend: { min: 0, max: 0 }, backend: { min: 0, max: 0 } });
    expect(await fx.executionStatus(executionArn)).toBe('ABORTED');
    expect(count(await ledgerActions(), 'rollback')).toBe(1);
    expect((published()).filter((n) => n.subject?.includes('Automatic rollback'))).toHaveLength(1);
    const marker = await clients.dynamodb.send(new GetItemCommand({ TableName: fx.topology.lockTableName, Key: toAttributes({ pk: markerKey('dev', 'green') }) }));
    expect(fromItem(marker.Item)).toMatchObject({ state: 'done', completedAtMs: expect.any(Number) });
  });

  test('WHEN a second green alarm fires after the rollback completed THEN nothing more happens', async () => {
    const [a, b] = greenAlarms();
    await handleAlarmEvent(ctx, await fire(a));
    const later = alarmStateChangeEvent({ alarmName: b, time: new Date(Date.now() + 60_000) });
    await setAlarmState(moto.clientConfig, b, 'ALARM');
    const out = await handleAlarmEvent(ctx, later);
    expect(out).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('already rolled back') });
    expect(count(await ledgerActions(), 'rollback')).toBe(1);
    expect(inst.calls.filter((c) => c.command === 'ModifyRule')).toHaveLength(2);
  });

  test('WHEN a blue (stable color) alarm fires THEN only a notification is published and nothing moves', async () => {
    const before = await ledgerActions();
    const out = await handleAlarmEvent(ctx, await fire(blueAlarms()[0]));
    expect(out).toMatchObject({ status: 'notify-only', failedColor: 'blue', stableColor: 'blue' });
    expect(out.reason).toContain('blue is the stable color');
    expect(await weights()).toEqual(CANARY);
    expect(await desired('green')).toEqual({ frontend: 2, backend: 2 });
    expect(await desired('blue')).toEqual({ frontend: 2, backend: 2 });
    expect(await fx.executionStatus(executionArn)).toBe('RUNNING');
    expect(await ledgerActions()).toEqual(before);
    expect(inst.calls.filter((c) => !isReadCommand(c.command)).map((c) => c.command)).toEqual(['Publish']);
    const sent = published();
    expect(sent).toHaveLength(1);
    expect(sent[0].subject).toContain('ACTION NEEDED');
    expect(sent[0].message).toContain('traffic was NOT moved');
  });

  test('WHEN a malformed event arrives THEN it throws InvalidAlarmEvent and changes nothing', async () => {
    const event = await fire(greenAlarms()[0]);
    const malformed = { ...event, detail: { ...event.detail, state: { ...event.detail.state, value: undefined } } };
    await expect(handleAlarmEvent(ctx, malformed)).rejects.toBeInstanceOf(InvalidAlarmEvent);
    expect(inst.calls.filter((c) => c.client !== 'cloudwatch')).toEqual([]);
    expect(await weights()).toEqual(CANARY);
    expect(await desired('green')).toEqual({ frontend: 2, backend: 2 });
    expect(await fx.executionStatus(executionArn)).toBe('RUNNING');
    expect(published()).toEqual([]);
  });

  test('WHEN the first ModifyRule is throttled THEN it is retried and the rollback completes', async () => {
    inst.failNext('ModifyRule', () => throttlingError());
    const out = await handleAlarmEvent(ctx, await fire(greenAlarms()[0]));
    expect(out.status).toBe('rolled-back');
    expect(inst.calls.filter((c) => c.command === 'ModifyRule')).toHaveLength(3);
    expect(await weights()).toEqual(ALL_BLUE);
    expect(await desired('green')).toEqual({ frontend: 0, backend: 0 });
    expect(count(await ledgerActions(), 'rollback')).toBe(1);
  });

  test('WHEN another caller holds the release lock THEN the rollback neither waits nor is blocked', async () => {
    // Held by someone else, not expired (beforeEach) — and a stale lock is no obstacle either.
    expect(await readLock(ctx)).toMatchObject({ owner: RELEASE_OWNER, expired: false });
    const out = await handleAlarmEvent(ctx, await fire(greenAlarms()[1]));
    expect(out.status).toBe('rolled-back');
    expect(await weights()).toEqual(ALL_BLUE);
    expect(inst.calls.some((c) => c.command === 'PutItem' && JSON.stringify(c.input).includes('"owner"'))).toBe(false);
  });

  test('WHEN ModifyRule keeps failing THEN RollbackFailed metric, a failure notification and a thrown error', async () => {
    // Both services, 5 attempts each, two passes.
    inst.failNext('ModifyRule', () => throttlingError(), 20);
    await expect(handleAlarmEvent(ctx, await fire(greenAlarms()[0]))).rejects.toMatchObject({ name: 'RollbackFailed' });
    expect(metrics).toEqual([expect.objectContaining({ Environment: 'dev', RollbackFailed: 1 })]);
    expect(metrics[0]._aws).toMatchObject({ CloudWatchMetrics: [{ Namespace: 'SafeReleases', Dimensions: [['Environment']] }] });
    const sent = published();
    expect(sent).toHaveLength(1);
    expect(sent[0].subject).toContain('ROLLBACK FAILED');
    expect(await weights()).toEqual(CANARY);
    expect(await desired('green')).toEqual({ frontend: 2, backend: 2 });
    expect(count(await ledgerActions(), 'rollback')).toBe(0);
  });

  test('WHEN scaling fails after traffic moved THEN RollbackIncomplete, and a retry of the event completes with one rollback entry', async () => {
    const event = await fire(greenAlarms()[0]);
    inst.failNext('UpdateService', () => Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(handleAlarmEvent(ctx, event)).rejects.toMatchObject({ name: 'RollbackIncomplete' });
    expect(await weights()).toEqual(ALL_BLUE);
    expect(metrics).toEqual([expect.objectContaining({ RollbackIncomplete: 1 })]);
    expect(await ledgerActions()).toContain('rollback-failed');

    const retry = await handleAlarmEvent(ctx, event);
    expect(retry).toMatchObject({ status: 'rolled-back', trafficChanged: false });
    expect(await desired('green')).toEqual({ frontend: 0, backend: 0 });
    expect(count(await ledgerActions(), 'rollback')).toBe(1);
  });
});

describe('GIVEN a canary of green at 10% and blue no longer able to take traffic', () => {
  test('WHEN blue is scaled to 0 and a green alarm fires THEN only a notification: the stable color is not running', async () => {
    for (const s of SERVICES) {
      await clients.ecs.send(
        new UpdateServiceCommand({ cluster: fx.topology.clusterName, service: fx.topology.services[s].colors.blue.serviceName, desiredCount: 0 }),
      );
    }
    inst.reset();
    const out = await handleAlarmEvent(ctx, await fire(greenAlarms()[0]));
    expect(out).toMatchObject({ status: 'notify-only', failedColor: 'green', reason: expect.stringContaining('blue is not running') });
    expect(await weights()).toEqual(CANARY);
    expect(await desired('green')).toEqual({ frontend: 2, backend: 2 });
    expect(inst.calls.filter((c) => !isReadCommand(c.command)).map((c) => c.command)).toEqual(['Publish']);
    expect(published()[0].subject).toContain('ACTION NEEDED');
  });

  test('WHEN blue has no healthy targets and a green alarm fires THEN traffic is not sent to blue, only a notification', async () => {
    const tg = fx.topology.services.backend.colors.blue.targetGroupArn;
    await clients.elbv2.send(
      new DeregisterTargetsCommand({ TargetGroupArn: tg, Targets: fx.targets.backend.blue.map((t) => ({ Id: t.id, Port: t.port })) }),
    );
    inst.reset();
    const out = await handleAlarmEvent(ctx, await fire(greenAlarms()[0]));
    expect(out).toMatchObject({ status: 'notify-only', reason: expect.stringContaining('backend blue has no registered targets') });
    expect(await weights()).toEqual(CANARY);
    expect(inst.calls.some((c) => c.command === 'ModifyRule')).toBe(false);
    expect(count(await ledgerActions(), 'rollback')).toBe(0);
    expect(await ledgerActions()).toContain('refused');
  });
});

describe('GIVEN green promoted to 100%', () => {
  test('WHEN a green alarm fires THEN only a notification: there is no running stable color to return to', async () => {
    await shift(ctx, { target: { to: 'green', percent: 100 }, owner: RELEASE_OWNER, actor: 'release', reason: 'promote' });
    const out = await handleAlarmEvent(ctx, await fire(greenAlarms()[0]));
    expect(out).toMatchObject({ status: 'notify-only', failedColor: 'green', reason: expect.stringContaining('green carries all traffic') });
    expect((await weights()).frontend).toEqual({ blue: 0, green: 100 });
    expect(await desired('green')).toEqual({ frontend: 2, backend: 2 });
  });
});
