/**
 * Fault injection against the crash Lambda's DEPLOYED BUNDLE (lib/bundles.ts), run as a long-lived Lambda
 * (test/support/bundle-runner.ts) behind the fault proxy in front of moto (test/support/fault-proxy.ts). The rollback
 * invariant holds for a crash trigger too: after an invocation and its retries (Lambda retries an async event with the
 * same request id), no traffic on the crashing new color, exactly one rollback recorded, one notification — or loud.
 */
import { ROLLBACK_TIMEOUT_SECONDS } from '../../lambda/rollback/budget';
import { putReleaseRecord } from '../../lambda/release/record';
import { acquireLock, destroyClients, logger, readLedger, shift } from '../../lambda/traffic';
import { AllClients, createAllClients } from '../../lambda/traffic/notification-clients';
import { bundleAll, type BundleLambda, type Bundles, type InvokeResult, startBundle, stopAllBundles } from '../support/bundle-runner';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { type MotoServer, startMoto } from '../support/moto';
import { buildReleaseFixture, currentWeights, type ReleaseFixture } from '../support/release';
import { taskStoppedEvent } from '../crash/support';

jest.setTimeout(90000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let proxy: FaultProxy;
let bundles: Bundles;
let clients: AllClients;
let lambda: BundleLambda;
let fx: ReleaseFixture;
let ctx: { clients: AllClients; topology: ReleaseFixture['topology']; retry: { sleep: () => Promise<void> } };
let t0: number;

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
  lambda = await startBundle(
    'lambda/crash/handler.ts',
    { TOPOLOGY_TABLE: fx.topology.lockTableName, RELEASE_STATE_MACHINE_ARN: fx.stateMachineArn, CRASH_TASKS: '2', CRASH_WINDOW_SECONDS: '120' },
    { bundles, endpoint: proxy.endpoint, timeoutMs: ROLLBACK_TIMEOUT_SECONDS * 1000 },
  );
  // A release of green at 10 %: execution RUNNING, its lock, its record.
  const executionArn = await fx.startRelease();
  await acquireLock(ctx, executionArn);
  await putReleaseRecord(ctx as never, { executionArn, status: 'running', stable: 'blue', candidate: 'green', startedAt: new Date().toISOString() });
  await shift(ctx, { target: { to: 'green', percent: 10 }, owner: executionArn, actor: 'release', reason: 'canary 10%' });
  t0 = Date.now() - 60_000;
  proxy.reset();
});

const crash = (task: string, s: number) =>
  taskStoppedEvent({ id: `evt-${task}`, task, group: `service:${Object.values(fx.topology.services)[0].colors.green.serviceName}`, stoppedAt: new Date(t0 + s * 1000).toISOString() });

async function invokeWithRetries(event: unknown, awsRequestId: string): Promise<InvokeResult[]> {
  const results: InvokeResult[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await lambda.invoke(event, { awsRequestId });
    results.push(r);
    if (r.ok) break;
  }
  return results;
}
const status = (r: InvokeResult) => (r.ok ? `ok ${(r.result as { status: string }).status}` : `error ${r.errorType}`);
const rollbackEntries = async () => (await readLedger(ctx, 200)).filter((e) => e.action === 'rollback');
const sent = () => proxy.requests.filter((r) => r.operation === 'Publish' && r.upstreamStatus === 200).map((r) => String(r.body.Subject));

async function expectRolledBackOnce() {
  for (const w of Object.values(await currentWeights(ctx))) expect(w).toEqual({ blue: 100, green: 0 });
  expect(await rollbackEntries()).toHaveLength(1);
  expect(sent().filter((s) => s.includes('Automatic rollback'))).toHaveLength(1);
}

test('the bundle as deployed: two crashes of the new color → rolled back, one record, one notification', async () => {
  expect((await lambda.invoke(crash('t1', 0))).ok).toBe(true);
  expect(status(await lambda.invoke(crash('t2', 10)))).toBe('ok rollback');
  await expectRolledBackOnce();
});

const kill = () => lambda.kill();
test.each([
  ['after the traffic move (first ModifyRule answered)', 'ModifyRule', undefined],
  ['after the rollback claim (the release fenced next)', 'UpdateItem', (r: { body: Record<string, unknown> }) => String(r.body.UpdateExpression).startsWith('SET #state = :inProgress')],
  ['after StopExecution (the release no longer looks active)', 'StopExecution', undefined],
] as const)('the Lambda dies %s; its retry (same request id) finishes: one record, one notification', async (_, operation, match) => {
  await lambda.invoke(crash('t1', 0));
  proxy.addRule({ operation, ...(match ? { match } : {}), fault: { after: kill } });
  const results = await invokeWithRetries(crash('t2', 10), 'crash-req-1');
  expect(results.map(status)).toEqual(['error Runtime.ExitError', 'ok rollback']);
  await expectRolledBackOnce();
});

test('the count throttled twice → retried, counted; a denied count → the invocation fails (loud), nothing moved', async () => {
  proxy.addRule({ operation: 'UpdateItem', times: 2, fault: 'throttle' });
  expect(status(await lambda.invoke(crash('t1', 0)))).toBe('ok counted');
  proxy.addRule({ operation: 'UpdateItem', times: Infinity, fault: 'deny' });
  expect(status(await lambda.invoke(crash('t2', 10)))).toBe('error AccessDeniedException');
  expect(Object.values(await currentWeights(ctx)).some((w) => w.green === 10)).toBe(true);
});
