/**
 * Issue 10: a release covers the services whose idle color runs a new version; the others stay where they are. Three
 * services in moto, `frontend` with nothing new on green: the synthesized production state machine releases backend
 * and search (and only they get checks, shifts, scale-up and scale-down); a failed gate rolls back those two; and the
 * rollback Lambda's core, alarmed during such a release, rolls back those two only.
 */
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { handleAlarmEvent, RollbackContext } from '../../lambda/rollback';
import { putReleaseRecord, readReleaseRecord } from '../../lambda/release/record';
import type { ReleaseContext } from '../../lambda/release/context';
import { acquireLock, destroyClients, logger, readEcs, readLedger, readLock, readRules, shift } from '../../lambda/traffic';
import { createAllClients } from '../../lambda/traffic/notification-clients';
import { scopeTopology } from '../../lambda/shared/topology';
import { startMoto, MotoServer } from '../support/moto';
import { alarmStateChangeEvent, buildReleaseFixture, setAlarmState } from '../support/release';
import { buildReleaseEnvironment, ReleaseEnvironment, startTestListener, TestListener } from './harness';
import { Definition, definitionFromTemplate, ReleaseFunctionIds, releaseFunctionIds, runRehearsal } from './rehearsal';
import { synthEnvironment } from '../cdk/support';

logger.setLogLevel('ERROR');
jest.setTimeout(120000);

const SERVICES = ['frontend', 'backend', 'search'];
const FIXTURE = { services: SERVICES, unchanged: ['frontend'] };

let moto: MotoServer;
let listener: TestListener;
let definition: Definition;
let ids: ReleaseFunctionIds;
let env: ReleaseEnvironment;

beforeAll(async () => {
  [moto, listener] = await Promise.all([startMoto(), startTestListener()]);
  const production = synthEnvironment('production');
  definition = definitionFromTemplate(production.stateless);
  ids = releaseFunctionIds(production.stage);
});
afterAll(async () => {
  await Promise.all([moto?.stop(), listener?.close()]);
});
beforeEach(async () => {
  await moto.reset();
  listener.requests.length = 0;
  env = await buildReleaseEnvironment(moto, listener, undefined, 'rehearsal', FIXTURE);
});
afterEach(() => env?.destroy());

async function weights() {
  const rules = await readRules(env.ctx);
  return Object.fromEntries(SERVICES.map((s) => [s, rules[s].weights]));
}
async function counts() {
  const ecs = await readEcs(env.ctx);
  return Object.fromEntries(SERVICES.map((s) => [s, { blue: ecs[s].blue.desiredCount, green: ecs[s].green.desiredCount }]));
}
const alarmOf = (service: string, color: 'blue' | 'green') => env.topology.rollbackAlarmNames[color].find((n) => n.includes(`-${service}-${color}-`))!;

test('GIVEN frontend has nothing new on green WHEN released THEN backend and search go to green and frontend stays on blue, untouched', async () => {
  const before = await counts();
  const run = await runRehearsal(definition, { actor: 'rehearsal' }, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'SUCCEEDED' });
  expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 0, green: 100 }, search: { blue: 0, green: 100 } });
  const after = await counts();
  expect(after.frontend).toEqual(before.frontend);
  expect(after.backend.blue).toBe(0);
  expect(after.search.blue).toBe(0);
  expect(after.backend.green).toBeGreaterThan(0);
  // Pre-traffic checks of the released services only; the migration ran (backend, whose image holds it, is released).
  expect(new Set(listener.requests.map((r) => r.headers.host))).toEqual(new Set(['api.rehearsal.example.com', 'search.rehearsal.example.com']));
  expect(env.runTasks).toHaveLength(1);
  const started = (await readLedger(env.ctx, 200)).find((e) => (e.action as string) === 'release:started')!;
  expect(started.detail).toMatchObject({ services: ['backend', 'search'], fromVersion: 'backend 1.0.0, search 1.0.0', toVersion: 'backend 1.1.0, search 1.1.0' });
  expect(started.reason).toContain('not in this release (no new version on the idle color, or not asked for): frontend');
  expect((await readReleaseRecord(env.ctx))?.services).toEqual(['backend', 'search']);
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('GIVEN --services frontend only (nothing new there) WHEN started THEN preflight refuses and nothing moves', async () => {
  const run = await runRehearsal(definition, { actor: 'rehearsal', services: ['frontend'] }, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'PreflightRefused' });
  expect(run.cause).toContain('nothing to release');
  expect(await weights()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, { blue: 100, green: 0 }])));
});

test('GIVEN --services search WHEN released THEN only search moves; the migration (backend) is skipped', async () => {
  const run = await runRehearsal(definition, { actor: 'rehearsal', services: ['search'] }, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'SUCCEEDED' });
  expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 }, search: { blue: 0, green: 100 } });
  expect(env.runTasks).toHaveLength(0);
});

test('GIVEN an alarm of backend green during the 25% bake WHEN the gate runs THEN backend and search roll back; frontend is untouched', async () => {
  const before = await counts();
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 25) {
          await env.clients.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: alarmOf('backend', 'green'), StateValue: 'ALARM', StateReason: 'rehearsal: 5xx on backend green' }));
        }
        return out;
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'GateFailed' });
  expect(await weights()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, { blue: 100, green: 0 }])));
  const after = await counts();
  expect(after.frontend).toEqual(before.frontend);
  expect([after.backend.green, after.search.green]).toEqual([0, 0]);
  expect([after.backend.blue, after.search.blue]).toEqual([before.backend.blue, before.search.blue]);
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('GIVEN a release of backend and search at 25% WHEN the rollback Lambda gets the green alarm THEN it rolls back those two only', async () => {
  await moto.reset();
  const fx = await buildReleaseFixture(moto.clientConfig, FIXTURE);
  const clients = createAllClients(moto.clientConfig);
  try {
    const ctx: RollbackContext = { clients, topology: fx.topology, retry: { sleep: async () => undefined }, releaseStateMachineArn: fx.stateMachineArn, metricSink: () => undefined };
    const owner = await fx.startRelease();
    const scoped = { ...ctx, topology: scopeTopology(fx.topology, ['backend', 'search']) };
    await acquireLock(ctx, owner);
    await putReleaseRecord(scoped as unknown as ReleaseContext, { executionArn: owner, status: 'running', stable: 'blue', candidate: 'green', startedAt: new Date().toISOString() });
    // What the release's steps did: its two services to green 25%.
    await shift(scoped, { target: { to: 'green', percent: 25 }, owner, actor: 'release', reason: 'canary 25%' });
    const countsOf = async () => {
      const ecs = await readEcs(ctx);
      return Object.fromEntries(SERVICES.map((s) => [s, { blue: ecs[s].blue.desiredCount, green: ecs[s].green.desiredCount }]));
    };
    const before = await countsOf();
    const alarmName = fx.topology.rollbackAlarmNames.green.find((n) => n.includes('-search-green-'))!;
    await setAlarmState(moto.clientConfig, alarmName, 'ALARM', [12]);
    const outcome = await handleAlarmEvent(ctx, alarmStateChangeEvent({ alarmName, datapoints: [12] }));
    expect(outcome.status).toBe('rolled-back');
    const rules = await readRules(ctx);
    expect(Object.fromEntries(SERVICES.map((s) => [s, rules[s].weights]))).toEqual(Object.fromEntries(SERVICES.map((s) => [s, { blue: 100, green: 0 }])));
    const after = await countsOf();
    expect(after.frontend).toEqual(before.frontend);
    expect([after.backend.green, after.search.green]).toEqual([0, 0]);
    expect([after.backend.blue, after.search.blue]).toEqual([before.backend.blue, before.search.blue]);
    expect(await fx.executionStatus(owner)).toBe('ABORTED');
  } finally {
    destroyClients(clients);
  }
});
