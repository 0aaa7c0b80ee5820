/**
 * Crash detection's core (lambda/crash/core.ts) against moto with the real SDK clients: ECS Task State Change events
 * of the new color during a release roll it back through the rollback core; a redelivered event records nothing
 * twice; outside a release the crashes notify, once per window; throttled and failed calls.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { crashKey, CrashSettings, handleTaskEvent } from '../../lambda/crash/core';
import { markerKey, RollbackContext } from '../../lambda/rollback';
import { putReleaseRecord } from '../../lambda/release/record';
import { acquireLock, destroyClients, fromItem, logger, readLedger, shift, toAttributes } from '../../lambda/traffic';
import { AllClients, createAllClients } from '../../lambda/traffic/notification-clients';
import { instrumentClients, Instrument, publishedMessages, throttlingError } from '../support/instrument';
import { MotoServer, startMoto } from '../support/moto';
import { buildReleaseFixture, currentWeights, ReleaseFixture } from '../support/release';
import { taskStoppedEvent } from './support';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let clients: AllClients;
let inst: Instrument;
let fx: ReleaseFixture;
let ctx: RollbackContext;
let executionArn: string;
const SETTINGS: CrashSettings = { tasks: 2, windowSeconds: 120 };
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
  ctx = { clients, topology: fx.topology, retry: noSleep, releaseStateMachineArn: fx.stateMachineArn, metricSink: () => undefined, fenceSettleMs: 0 };
  t0 = Date.now() - 60_000;
  inst.reset();
});

/** A release of green at 10 %: its execution RUNNING, holding the lock, and its record naming blue stable. */
async function releaseGreen(): Promise<void> {
  executionArn = await fx.startRelease();
  await acquireLock(ctx, executionArn);
  await putReleaseRecord(ctx as never, { executionArn, status: 'running', stable: 'blue', candidate: 'green', startedAt: new Date().toISOString() });
  await shift(ctx, { target: { to: 'green', percent: 10 }, owner: executionArn, actor: 'release', reason: 'canary 10%' });
  inst.reset();
}

const service = () => Object.keys(fx.topology.services)[0];
const group = (color: 'blue' | 'green') => `service:${fx.topology.services[service()].colors[color].serviceName}`;
const crash = (task: string, at: string, color: 'blue' | 'green' = 'green', id = `evt-${task}`) => taskStoppedEvent({ id, task, group: group(color), stoppedAt: at });
const rollbackEntries = async () => (await readLedger(ctx, 50)).filter((e) => e.action === 'rollback');
/** Stop times relative to a start fixed per test (a redelivered event carries the same stoppedAt). */
let t0 = 0;
const soon = (s: number) => new Date(t0 + s * 1000).toISOString();
const now = () => soon(0);

test('during a release, the new color crashing twice in the window: traffic back on stable, one record, one notification', async () => {
  await releaseGreen();
  await expect(handleTaskEvent(ctx, SETTINGS, crash('t1', now()))).resolves.toMatchObject({ status: 'counted', color: 'green', crashes: 1 });
  expect(Object.values(await currentWeights(ctx)).some((w) => w.green > 0)).toBe(true);
  const out = await handleTaskEvent(ctx, SETTINGS, crash('t2', soon(30)));
  expect(out).toMatchObject({ status: 'rollback', color: 'green', rollback: { status: 'rolled-back', failedColor: 'green', stableColor: 'blue' } });
  for (const w of Object.values(await currentWeights(ctx))) expect(w).toEqual({ blue: 100, green: 0 });
  const [entry, ...more] = await rollbackEntries();
  expect(more).toEqual([]);
  expect(entry.detail).toMatchObject({ alarmName: 'crash-detection-green', eventId: 'crash:evt-t2', failedColor: 'green' });
  expect(String((entry.detail as Record<string, unknown>).alarmReason)).toMatch(/2 tasks of green crashed within 120 s/);
  const published = publishedMessages(inst);
  expect(published).toHaveLength(1);
  expect(published[0].Subject).toMatch(/Automatic rollback: green alarm crash-detection-green/);
  expect(await fx.executionStatus(executionArn)).toBe('ABORTED');
});

test('a redelivered event (same id and task), and the same task reported again, record and notify nothing more', async () => {
  await releaseGreen();
  await handleTaskEvent(ctx, SETTINGS, crash('t1', now()));
  await handleTaskEvent(ctx, SETTINGS, crash('t2', soon(30)));
  inst.reset();
  // EventBridge delivers at least once: the same event again; then the same task under another event id.
  const again = await handleTaskEvent(ctx, SETTINGS, crash('t2', soon(30)));
  expect(again).toMatchObject({ status: expect.stringMatching(/^(notify-suppressed|notified)$/) });
  await handleTaskEvent(ctx, SETTINGS, crash('t1', now(), 'green', 'evt-other'));
  expect(await rollbackEntries()).toHaveLength(1);
  // Each task counted once, whatever the deliveries (a string set: the element repeats, the set does not grow).
  const item = (await clients.dynamodb.send(new GetItemCommand({ TableName: fx.topology.lockTableName, Key: toAttributes({ pk: crashKey('dev', 'green') }) }))).Item;
  expect(item?.crashes.SS?.map((e) => e.split('@')[0]).sort()).toEqual(['t1', 't2']);
  // The rollback is recorded once: the marker names the one ledger entry.
  const marker = fromItem<{ ledgerSk?: string; state: string }>((await clients.dynamodb.send(new GetItemCommand({ TableName: fx.topology.lockTableName, Key: toAttributes({ pk: markerKey('dev', 'green') }) }))).Item);
  expect(marker).toMatchObject({ state: 'done', ledgerSk: (await rollbackEntries())[0].sk });
});

test('a retry after the record failed once traffic was safe (same request id) records the rollback once', async () => {
  await releaseGreen();
  await handleTaskEvent(ctx, SETTINGS, crash('t1', now()));
  // The first attempt fails at the ledger transaction: traffic moved, nothing recorded as a rollback (loud failure).
  inst.failNext('TransactWriteItems', () => Object.assign(new Error('connection reset'), { name: 'ECONNRESET' }), 10);
  const retryCtx = { ...ctx, invocationId: 'crash:req-1' };
  await expect(handleTaskEvent(retryCtx, SETTINGS, crash('t2', soon(30)))).rejects.toThrow(/ledger/);
  inst.reset();
  for (const w of Object.values(await currentWeights(ctx))) expect(w).toEqual({ blue: 100, green: 0 });
  // Lambda's retry of the same event: the same request id owns the claim; exactly one rollback record.
  await expect(handleTaskEvent(retryCtx, SETTINGS, crash('t2', soon(30)))).resolves.toMatchObject({ status: 'rollback' });
  expect(await rollbackEntries()).toHaveLength(1);
});

test('outside a release: crashes notify (once per window), nothing moves, nothing is recorded as a rollback', async () => {
  const before = await currentWeights(ctx);
  await handleTaskEvent(ctx, SETTINGS, crash('t1', now()));
  await expect(handleTaskEvent(ctx, SETTINGS, crash('t2', soon(20)))).resolves.toMatchObject({ status: 'notified', reason: 'no release in progress' });
  await expect(handleTaskEvent(ctx, SETTINGS, crash('t3', soon(40)))).resolves.toMatchObject({ status: 'notify-suppressed' });
  expect(await currentWeights(ctx)).toEqual(before);
  expect(await rollbackEntries()).toEqual([]);
  const published = publishedMessages(inst);
  expect(published).toHaveLength(1);
  expect(published[0].Subject).toMatch(/ACTION NEEDED, no automatic rollback: green/);
  expect(published[0].Message).toMatch(/Tasks of green are crashing/);
  // A window later, a new burst notifies again.
  await handleTaskEvent(ctx, SETTINGS, crash('t4', soon(300)));
  await expect(handleTaskEvent(ctx, SETTINGS, crash('t5', soon(310)))).resolves.toMatchObject({ status: 'notified' });
});

test('during a release, crashes of the STABLE color notify only', async () => {
  await releaseGreen();
  await handleTaskEvent(ctx, SETTINGS, crash('b1', now(), 'blue'));
  await expect(handleTaskEvent(ctx, SETTINGS, crash('b2', soon(10), 'blue'))).resolves.toMatchObject({ status: 'notified', color: 'blue' });
  expect(Object.values(await currentWeights(ctx)).some((w) => w.green === 10)).toBe(true);
  expect(await rollbackEntries()).toEqual([]);
});

test('an old task\'s stop arriving after the rollback: no second rollback, no second record', async () => {
  await releaseGreen();
  await handleTaskEvent(ctx, SETTINGS, crash('t1', now()));
  await handleTaskEvent(ctx, SETTINGS, crash('t2', soon(30)));
  // t0 stopped before both but its event comes last (out of order, delayed).
  const late = await handleTaskEvent(ctx, SETTINGS, crash('t0', soon(-10)));
  expect(late.status).not.toBe('rollback');
  expect(await rollbackEntries()).toHaveLength(1);
});

test('non-crash stops and other groups change nothing (not even the count)', async () => {
  const scaleIn = taskStoppedEvent({ task: 's1', group: group('green'), stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/1)', exitCode: 143 });
  await expect(handleTaskEvent(ctx, SETTINGS, scaleIn)).resolves.toMatchObject({ status: 'ignored' });
  await expect(handleTaskEvent(ctx, SETTINGS, taskStoppedEvent({ task: 'm1', group: 'family:dev-migration' }))).resolves.toMatchObject({ status: 'ignored' });
  expect(inst.calls.filter((c) => c.command === 'UpdateItem')).toEqual([]);
});

test('a throttled count is retried; a count that keeps failing fails the invocation (Lambda retries the event)', async () => {
  await releaseGreen();
  inst.failNext('UpdateItem', () => throttlingError(), 1);
  await expect(handleTaskEvent(ctx, SETTINGS, crash('t1', now()))).resolves.toMatchObject({ status: 'counted' });
  inst.failNext('UpdateItem', () => Object.assign(new Error('not authorized to perform dynamodb:UpdateItem'), { name: 'AccessDeniedException' }), 50);
  await expect(handleTaskEvent(ctx, SETTINGS, crash('t2', soon(30)))).rejects.toThrow(/not authorized/);
  inst.reset();
  expect(Object.values(await currentWeights(ctx)).some((w) => w.green === 10)).toBe(true);
});
