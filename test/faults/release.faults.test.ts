/**
 * Fault injection against the emulator: the SYNTHESIZED release state machine (the production stack's definition, run
 * locally by aws-local-stepfunctions) drives the DEPLOYED release bundle (minified, as lib/bundles.ts builds it, run as
 * a Lambda by test/support/bundle-runner.ts) through the fault proxy in front of moto (test/support/fault-proxy.ts).
 * Where a scenario needs it, the deployed rollback bundle runs next to it.
 *
 * The release invariant, asserted on END STATES in moto: whatever fails, a release never routes traffic to a color at
 * desired count 0, never leaves the lock held or the record `running` without telling anyone (a notification, and
 * for a failed safe state the ReleaseSafeStateFailed metric line and the record `safe-failed`), and never undoes what
 * an operator did.
 *
 * Not through the bundle (moto limitations, see harness.ts): Backup (the in-process backup handler) and the migration
 * Tasks (in-process release handler: moto's RunTask cannot create an awsvpc ENI and never stops a task).
 */
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { notificationText } from '../../lambda/shared/headline';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { logger, readEcs, readLedger, readLock, readRules, rollback } from '../../lambda/traffic';
import { TRAFFIC_REQUEST_BOUNDS } from '../../lambda/traffic/client-config';
import { readReleaseRecord } from '../../lambda/release/record';
import { SERVICES } from '../support/services';
import { asLocalHandler, bundleAll, type BundleLambda, type Bundles, emfMetrics, startBundle, stopAllBundles } from '../support/bundle-runner';
import { type ActiveRule, type FaultProxy, type ProxiedRequest, startFaultProxy } from '../support/fault-proxy';
import { MotoServer, startMoto } from '../support/moto';
import { alarmStateChangeEvent, DUMMY_RELEASE_DEFINITION, setAlarmState } from '../support/release';
import { buildReleaseEnvironment, REHEARSAL_POLICY, ReleaseEnvironment, startTestListener, TestListener } from '../release/harness';
import { Definition, definitionFromTemplate, ReleaseFunctionIds, releaseFunctionIds, runRehearsal, RehearsalOptions, RehearsalResult } from '../release/rehearsal';
import { synthEnvironment } from '../cdk/support';
import { explainRecord } from '../../cli/format';

jest.setTimeout(120000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let listener: TestListener;
let proxy: FaultProxy;
let bundles: Bundles;
let definition: Definition;
let ids: ReleaseFunctionIds;
let env: ReleaseEnvironment;
let releaseFn: BundleLambda;
let stateMachineArn: string;
let executionCounter = 0;

const RELEASE_ENTRY = 'lambda/release/handler.ts';
const ROLLBACK_ENTRY = 'lambda/rollback/handler.ts';

beforeAll(async () => {
  [bundles, moto, listener] = await Promise.all([bundleAll(), startMoto(), startTestListener()]);
  proxy = await startFaultProxy(moto.endpoint);
  // The production stack as deployed (canary 10→25→50→100, backup, migration, approval off).
  const production = synthEnvironment('production');
  definition = definitionFromTemplate(production.stateless);
  ids = releaseFunctionIds(production.stage);
}, 180000);

afterAll(async () => {
  await stopAllBundles();
  await proxy?.close();
  await Promise.all([moto?.stop(), listener?.close()]);
  bundles?.remove();
});

beforeEach(async () => {
  await moto.reset();
  listener.failing.clear();
  env = await buildReleaseEnvironment(moto, listener);
  // The release state machine in moto is named Release, so the rehearsal's execution ARN (…:execution:Release:<name>)
  // is a real RUNNING execution there: the one the rollback Lambda lists, fences and stops.
  const sfn = new SFNClient(moto.clientConfig);
  try {
    const sm = await sfn.send(new CreateStateMachineCommand({ name: 'Release', roleArn: 'arn:aws:iam::123456789012:role/release', definition: DUMMY_RELEASE_DEFINITION }));
    stateMachineArn = sm.stateMachineArn!;
  } finally {
    sfn.destroy();
  }
  // A fresh environment per test: the bundle caches the topology, whose ARNs moto regenerates after a reset.
  releaseFn = await startBundle(
    RELEASE_ENTRY,
    {
      TOPOLOGY_TABLE: env.topology.lockTableName,
      RELEASE_POLICY: JSON.stringify(REHEARSAL_POLICY),
      // The migration Tasks run in-process (see above); the bundle only needs valid settings.
      MIGRATION_TASK_DEFINITIONS: JSON.stringify({ blue: 'rehearsal-backend-blue-migrate', green: 'rehearsal-backend-green-migrate' }),
      MIGRATION_CONTAINER_NAME: 'backend',
      MIGRATION_SUBNETS: env.fixture.subnetIds.join(','),
      MIGRATION_SECURITY_GROUPS: env.fixture.securityGroupId,
      TEST_LISTENER_BASE_URL: listener.baseUrl,
      LOCK_TTL_SECONDS: '3600',
    },
    { bundles, endpoint: proxy.endpoint, timeoutMs: 30000 },
  );
  proxy.reset();
});

afterEach(async () => {
  await releaseFn?.stop();
  env?.destroy();
});

// ---- helpers --------------------------------------------------------------------------------------------------------

/** Starts the moto execution the rehearsal stands for; returns its name (the rehearsal's execution name). */
async function startMotoExecution(): Promise<{ name: string; arn: string }> {
  const name = `faults-${process.pid}-${++executionCounter}`;
  const sfn = new SFNClient(moto.clientConfig);
  try {
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: '{}' }));
    return { name, arn: out.executionArn! };
  } finally {
    sfn.destroy();
  }
}

/** Runs the production definition: every release Task on the bundle, Backup and migration in-process. */
async function release(input: Record<string, unknown>, options: Partial<RehearsalOptions> = {}): Promise<RehearsalResult> {
  const name = options.executionName ?? (await startMotoExecution()).name;
  return runRehearsal(definition, input, {
    handlers: {
      [ids.handler]: asLocalHandler(releaseFn),
      [ids.judge]: env.judgeHandler,
      ...(ids.backup ? { [ids.backup]: env.backupHandler } : {}),
      ...(ids.preflightChecks ? { [ids.preflightChecks]: env.preflightChecksHandler } : {}),
    },
    executionName: name,
    ...options,
    taskOverrides: {
      StartMigration: (payload) => env.handler(payload),
      CheckMigration: (payload) => env.handler(payload),
      ...options.taskOverrides,
    },
  });
}

async function startRollbackBundle(): Promise<BundleLambda> {
  return startBundle(ROLLBACK_ENTRY, { TOPOLOGY_TABLE: env.topology.lockTableName, RELEASE_STATE_MACHINE_ARN: stateMachineArn }, { bundles, endpoint: proxy.endpoint, timeoutMs: 60000 });
}

async function weights() {
  const rules = await readRules(env.ctx);
  return Object.fromEntries(SERVICES.map((s) => [s, rules[s].weights]));
}
const allOn = (color: 'blue' | 'green') => Object.fromEntries(SERVICES.map((s) => [s, color === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 }]));
const split = (percent: number) => Object.fromEntries(SERVICES.map((s) => [s, { blue: 100 - percent, green: percent }]));
async function desired(color: 'blue' | 'green') {
  const ecs = await readEcs(env.ctx);
  return SERVICES.map((s) => ecs[s][color].desiredCount);
}
/** The invariant every scenario ends with: no service sends traffic to a color at desired count 0, never both at 0. */
async function expectNoTrafficToAColorAtZero() {
  const [rules, ecs] = await Promise.all([readRules(env.ctx), readEcs(env.ctx)]);
  for (const s of SERVICES) {
    for (const c of ['blue', 'green'] as const) {
      if (rules[s].weights[c] > 0) expect([s, c, ecs[s][c].desiredCount > 0]).toEqual([s, c, true]);
    }
    expect([s, ecs[s].blue.desiredCount + ecs[s].green.desiredCount > 0]).toEqual([s, true]);
  }
}
async function ledger(): Promise<{ action: string; reason: string; actor: string; detail?: Record<string, any> }[]> {
  return (await readLedger(env.ctx, 200)).reverse() as never;
}
/** SNS Publish calls of the bundles that reached moto (through the proxy) and were accepted. */
/** Each published notification: its event (the step of the first line, lambda/shared/headline.ts) and its text. */
function published(): { event: string; message: string }[] {
  return proxy.requests
    .filter((r) => r.operation === 'Publish' && r.status === 200)
    .map((r) => {
      const message = notificationText(String(r.body.Message ?? '{"default":""}'));
      return { event: /^\[[^\]]+\] [^:]+: ([a-z-]+)/.exec(message)?.[1] ?? '', message };
    });
}
/** The green target group's weight a ModifyRule request writes (query protocol: Actions.member.N.ForwardConfig…). */
function greenWeightWritten(r: ProxiedRequest): number | undefined {
  const body = r.body as Record<string, string>;
  const greenTgs = new Set(SERVICES.map((s) => env.topology.services[s].colors.green.targetGroupArn));
  for (const [k, v] of Object.entries(body)) {
    const m = /^(Actions\.member\.\d+\.ForwardConfig\.TargetGroups\.member\.\d+)\.TargetGroupArn$/.exec(k);
    if (m && greenTgs.has(v)) return Number(body[`${m[1]}.Weight`] ?? 0);
  }
  return undefined;
}
const isRule = (r: ProxiedRequest, service: 'frontend' | 'backend') => r.body?.RuleArn === env.topology.services[service].listenerRuleArn;
const setAlarm = (name: string, state: 'ALARM' | 'OK') =>
  env.clients.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: `faults: ${state}` }));
const greenAlarm = () => env.topology.rollbackAlarmNames.green[0];

// ---- 5 + 8. downgrade refusal, error names ----------------------------------------------------------------------------

test('5/8: GIVEN a completed release WHEN a release restarts with nothing new deployed THEN PreflightRefused (by its class name) names the version; with force it releases', async () => {
  const first = await release({ strategy: 'blue-green', actor: 'faults' });
  expect(first).toMatchObject({ status: 'SUCCEEDED' });
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await readLock(env.ctx)).toBeUndefined();

  // blue (idle, at 0) still runs 1.0.0, which the completed release replaced: releasing it would be a downgrade.
  const refused = await release({ strategy: 'blue-green' });
  // The bundle's error reaches the state machine by its class name (not a minified one).
  expect(refused).toMatchObject({ status: 'FAILED', error: 'PreflightRefused' });
  expect(refused.cause).toMatch(new RegExp(`blue runs frontend ${env.fixture.versions.blue}.*downgrade.*--force`));
  expect(refused.states.slice(-3)).toEqual(['Preflight', 'SafeState', 'ReleaseFailed']);
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await desired('green')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  const failed = (await ledger()).pop()!;
  expect(failed).toMatchObject({ action: 'release:failed' });
  expect(failed.reason).toMatch(/PreflightRefused: /);
  expect(published().map((p) => p.event)).toContain('failed');

  const forced = await release({ strategy: 'blue-green', force: true, actor: 'faults' });
  expect(forced).toMatchObject({ status: 'SUCCEEDED' });
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await desired('blue')).toEqual([2, 2]);
  const started = (await ledger()).filter((e) => (e.action as string) === 'release:started').pop()!;
  expect(started.reason).toMatch(/FORCED downgrade of frontend to 1\.0\.0/);
});

// ---- 1. late failure after Finish's scale-down ---------------------------------------------------------------------

const isScaleDownOf = (color: 'blue' | 'green') => (r: ProxiedRequest) =>
  r.body?.desiredCount === 0 && SERVICES.some((s) => r.body?.service === env.topology.services[s].colors[color].serviceName);

test('1: GIVEN every DynamoDB write denied right after Finish scaled blue down THEN FinishIncomplete (no safe state): green keeps 100% and its tasks, a notification; the clean-up releases the lock and changes nothing', async () => {
  proxy.addRule({
    operation: 'UpdateService',
    match: isScaleDownOf('blue'),
    fault: {
      after: () => {
        // From here on: the record PutItem, the ledger PutItems and the lock DeleteItem fail (not retryable).
        proxy.addRule({ service: 'dynamodb', operation: 'PutItem', times: Infinity, fault: 'deny' });
        proxy.addRule({ service: 'dynamodb', operation: 'DeleteItem', times: Infinity, fault: 'deny' });
      },
    },
  });
  const run = await release({ strategy: 'blue-green', actor: 'faults' });
  expect(run).toMatchObject({ status: 'FAILED', error: 'FinishIncomplete' });
  expect(run.states.slice(-2)).toEqual(['Finish', 'FinishIncomplete']);
  expect(run.states).not.toContain('SafeState');
  expect(run.cause).toMatch(/INCOMPLETE: green serves 100%, blue scaled to 0.*lock release.*AccessDenied/);
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await desired('green')).toEqual([2, 2]);
  await expectNoTrafficToAColorAtZero();
  // The lock and the record could not be written: the notification says so and names the commands.
  expect((await readLock(env.ctx))?.owner).toBe(run.executionArn);
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ executionArn: run.executionArn, status: 'running' });
  const told = published().filter((p) => p.event === 'finish-incomplete');
  expect(told).toHaveLength(1);
  expect(told[0].message).toMatch(/clear the lock: npm run release -- unlock --env rehearsal/);
  expect(proxy.requests.filter((r) => r.fault === 'deny').map((r) => r.operation)).toEqual(expect.arrayContaining(['PutItem', 'DeleteItem']));

  // The Abandoned rule's clean-up for this FAILED execution (DynamoDB back): it reports, releases the lock, moves nothing.
  proxy.reset();
  const cleanup = await releaseFn.invoke({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'FinishIncomplete' });
  expect(cleanup).toMatchObject({ ok: true, result: { finishIncomplete: true, lockReleased: true } });
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'finish-incomplete' });
  // What `npm run release -- status` then explains: the new color serves 100%, the old one is what to scale down.
  expect(explainRecord('rehearsal', await readReleaseRecord(env.ctx), await readLock(env.ctx)).join('\n')).toMatch(
    /reached 100% on green .*scale --color blue --count 0/,
  );
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('green')).toEqual([2, 2]);
  expect(proxy.count('ModifyRule') + proxy.count('UpdateService')).toBe(0);
  expect(published().map((p) => p.event)).toEqual(['finish-incomplete']);
});

test('1b: GIVEN the lock DeleteItem throttled past the retries in Finish THEN FinishIncomplete: record finish-incomplete, completed and incomplete in the ledger, green keeps everything', async () => {
  proxy.addRule({
    operation: 'UpdateService',
    match: isScaleDownOf('blue'),
    fault: { after: () => void proxy.addRule({ service: 'dynamodb', operation: 'DeleteItem', times: Infinity, fault: 'throttle' }) },
  });
  const run = await release({ strategy: 'blue-green', actor: 'faults' });
  expect(run).toMatchObject({ status: 'FAILED', error: 'FinishIncomplete' });
  expect(run.states).not.toContain('SafeState');
  // The deployed retry policy: 5 attempts, then the step reports.
  expect(proxy.requests.filter((r) => r.operation === 'DeleteItem' && r.fault === 'throttle')).toHaveLength(5);
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await desired('green')).toEqual([2, 2]);
  expect((await readLock(env.ctx))?.owner).toBe(run.executionArn);
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'finish-incomplete', error: expect.stringMatching(/lock release: .*Rate exceeded/) });
  expect(explainRecord('rehearsal', await readReleaseRecord(env.ctx), await readLock(env.ctx)).join('\n')).toMatch(
    /reached 100% on green .*scale --color blue --count 0/,
  );
  const actions = (await ledger()).map((e) => e.action);
  // The terminal records, then the release's report (lambda/release/report.ts).
  expect(actions.slice(-3)).toEqual(['release:completed', 'release:finish-incomplete', 'release:report']);
  expect(published().map((p) => p.event).slice(-3)).toEqual(['completed', 'finish-incomplete', 'report']);
});

// ---- 2. the safe state's own writes keep failing -------------------------------------------------------------------

test('2: GIVEN GateFailed at 10% WHEN every ModifyRule of the safe state is denied THEN SafeStateFailed: record safe-failed, metric line, notification, lock kept with an explanation; 10% is never written again and green keeps its tasks', async () => {
  let safeFrom = Infinity;
  const run = await release({ actor: 'faults' }, {
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 10) await setAlarm(greenAlarm(), 'ALARM');
        return out;
      },
      SafeState: async (payload, handler) => {
        if (safeFrom === Infinity) {
          safeFrom = proxy.requests.length;
          proxy.addRule({ operation: 'ModifyRule', times: Infinity, fault: 'deny' });
        }
        return handler(payload);
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'SafeStateFailed' });
  expect(run.states.slice(-3)).toEqual(['Gate', 'SafeState', 'SafeStateFailed']);
  // Traffic could not be moved back: it stays split on two running colors (never on a color at 0).
  expect(await weights()).toEqual(split(10));
  expect(await desired('green')).toEqual([2, 2]);
  expect(await desired('blue')).toEqual([2, 2]);
  await expectNoTrafficToAColorAtZero();
  // The safe state only ever tried to move traffic OFF green; nothing re-applied the 10% (the denied writes included).
  const safeWrites = proxy.requests.slice(safeFrom).filter((r) => r.operation === 'ModifyRule');
  expect(safeWrites.length).toBeGreaterThan(0);
  expect(safeWrites.every((r) => greenWeightWritten(r) === 0)).toBe(true);
  // Loud: the record, the metric line in the bundle's log, the notification; the lock kept on purpose.
  const rec = await readReleaseRecord(env.ctx);
  expect(rec).toMatchObject({ executionArn: run.executionArn, status: 'safe-failed', error: expect.stringMatching(/AccessDenied/) });
  expect((await readLock(env.ctx))?.owner).toBe(run.executionArn);
  // `npm run release -- status` explains the kept lock from the record.
  const explained = explainRecord('rehearsal', rec, await readLock(env.ctx)).join('\n');
  expect(explained).toMatch(/safe state of that release FAILED.*rollback --to blue --env rehearsal/);
  expect(explained).toMatch(/release lock is KEPT on purpose.*npm run release -- unlock --env rehearsal/);
  const metrics = emfMetrics(releaseFn.logs, 'ReleaseSafeStateFailed');
  // SafeStateFailed is the step's own, already reported verdict: the state machine does not retry it, so it is reported
  // once (a crash of the safe state's Lambda would be retried).
  expect(metrics).toHaveLength(1);
  expect(metrics[0]).toMatchObject({ Environment: 'rehearsal', ReleaseSafeStateFailed: 1, executionArn: run.executionArn });
  const told = published().filter((p) => p.event === 'safe-failed');
  expect(told).toHaveLength(1);
  expect(told[0].message).toMatch(/SAFE STATE FAILED.*lock is kept.*rollback --to blue --env rehearsal.*unlock --env rehearsal/);

  // The Abandoned rule (FAILED, SafeStateFailed) leaves a safe-failed release alone: the lock stays for the operator.
  proxy.reset();
  const cleanup = await releaseFn.invoke({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'SafeStateFailed' });
  expect(cleanup).toMatchObject({ ok: true, result: { skipped: expect.stringContaining('safe-failed') } });
  expect((await readLock(env.ctx))?.owner).toBe(run.executionArn);
  expect(await weights()).toEqual(split(10));
  expect(proxy.count('ModifyRule')).toBe(0);
});

// ---- 4. operator override during a bake ----------------------------------------------------------------------------

test('4: GIVEN the operator rolls back during the 10% bake (traffic CLI rollback) THEN the next Shift holds: record held, lock released, notification; traffic stays on blue, green untouched', async () => {
  let operatorAt = -1;
  const run = await release({ actor: 'faults' }, {
    taskOverrides: {
      Gate: async (payload, handler) => {
        if (operatorAt < 0) {
          // As `npm run traffic -- rollback --to blue` does (no lock: a rollback never waits for one), straight to moto.
          await rollback(env.ctx, { to: 'blue', actor: 'operator', reason: 'operator: rollback during the bake', scaleDown: false });
          operatorAt = proxy.requests.length;
        }
        return handler(payload);
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'OperatorOverride' });
  expect(run.states.slice(-6)).toEqual(['Gate', 'Judge', 'ExtendBake?', 'Shift', 'HoldState', 'ReleaseHeld']);
  expect(run.states).not.toContain('SafeState');
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('blue')).toEqual([2, 2]);
  expect(await desired('green')).toEqual([2, 2]); // the operator did not scale green down; the release neither
  await expectNoTrafficToAColorAtZero();
  // The release wrote nothing to the rules or the services after the operator.
  expect(proxy.requests.slice(operatorAt).filter((r) => r.operation === 'ModifyRule' || r.operation === 'UpdateService')).toEqual([]);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ executionArn: run.executionArn, status: 'held' });
  const held = published().filter((p) => p.event === 'held');
  expect(held).toHaveLength(1);
  expect(held[0].message).toMatch(/HELD at 10% because an operator changed the weights/);
  // The Abandoned clean-up for the FAILED execution changes nothing either.
  const cleanup = await releaseFn.invoke({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'OperatorOverride' });
  expect(cleanup).toMatchObject({ ok: true, result: { skipped: expect.stringContaining('held') } });
  expect(await weights()).toEqual(allOn('blue'));
});

// ---- 6. ledger truth after the rollback Lambda -----------------------------------------------------------------------

test('6: GIVEN the rollback Lambda rolled back during the 10% bake WHEN the clean-up of the stopped execution and the safe state run THEN their ledger entries say the rollback Lambda moved traffic back', async () => {
  const rollbackFn = await startRollbackBundle();
  let abandonedResult: unknown;
  const run = await release({ actor: 'faults' }, {
    taskOverrides: {
      Gate: async (payload, handler) => {
        if (abandonedResult === undefined) {
          await setAlarm(greenAlarm(), 'ALARM');
          const r = await rollbackFn.invoke(alarmStateChangeEvent({ alarmName: greenAlarm() }));
          expect(r).toMatchObject({ ok: true, result: { status: 'rolled-back', failedColor: 'green', trafficChanged: true } });
          // The rollback stopped the moto execution (ABORTED): the Abandoned rule's event reaches the release Lambda.
          const a = await releaseFn.invoke({ step: 'abandoned', executionArn: (payload as { release: { owner: string } }).release.owner, status: 'ABORTED' });
          abandonedResult = a.ok ? a.result : a;
        }
        return handler(payload);
      },
    },
  });
  expect(abandonedResult).toMatchObject({ rolledBack: false, rolledBackByLambda: expect.stringMatching(/^the rollback Lambda moved traffic back to blue at .*alarm rehearsal-frontend-green-5xx/) });
  // The local execution went on (moto's stopped): its gate fails on the alarm and its safe state runs too.
  expect(run).toMatchObject({ status: 'FAILED', error: 'GateFailed' });
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await desired('blue')).toEqual([2, 2]);
  await expectNoTrafficToAColorAtZero();
  expect(await readLock(env.ctx)).toBeUndefined();
  const entries = (await ledger()).filter((e) => e.action === 'release:rolled-back' || e.action === 'release:failed');
  expect(entries.map((e) => e.action)).toEqual(['release:rolled-back', 'release:rolled-back']);
  for (const e of entries) {
    expect(e.reason).toMatch(/the rollback Lambda moved traffic back to blue at .*; the safe state did not move traffic again/);
    expect(e.reason).not.toMatch(/no traffic had moved/);
  }
  // Only the rollback Lambda moved traffic (its writes: green 0); neither clean-up wrote a rule.
  const writes = proxy.requests.filter((r) => r.operation === 'ModifyRule').map(greenWeightWritten);
  expect(writes.filter((w) => w === 10)).toHaveLength(2); // the release's 10% step, frontend and backend
  expect(writes.filter((w) => w !== 10).every((w) => w === 0)).toBe(true);
  await rollbackFn.stop();
});

// ---- 3. fencing: the rollback Lambda takes over while a Shift is in flight -----------------------------------------

test('3: GIVEN the release is writing 25% WHEN the rollback Lambda fences and stops it mid-Shift THEN no traffic on green, green at 0, the late write corrected and the next one refused by the fence', async () => {
  const rollbackFn = await startRollbackBundle();
  const exec = await startMotoExecution();
  let rollbackRun: ReturnType<BundleLambda['invoke']> | undefined;
  let revokeSeq = -1;
  proxy.addRule({
    operation: 'ModifyRule',
    match: (r) => isRule(r, 'frontend') && greenWeightWritten(r) === 25,
    fault: {
      // The release's write of frontend 25% is on the wire (its fence check passed): green's alarm fires and the
      // rollback Lambda runs; the write reaches moto only after the rollback revoked the release's lock.
      before: async () => {
        await setAlarmState(moto.clientConfig, greenAlarm(), 'ALARM');
        const from = proxy.requests.length;
        rollbackRun = rollbackFn.invoke(alarmStateChangeEvent({ alarmName: greenAlarm() }));
        const revoke = await proxy.waitFor((r) => r.seq >= from && r.operation === 'DeleteItem' && r.body?.ConditionExpression === '#owner = :owner', { timeoutMs: 20000 });
        revokeSeq = revoke.seq;
      },
      delay: 300,
    },
  });
  const run = await release({ actor: 'faults' }, {
    executionName: exec.name,
    // In AWS the stopped execution runs no safe state; here it goes on locally. Its safe state waits for the rollback
    // Lambda to finish, so what corrects the late write is the rollback's re-read after the fence, not the safe state.
    taskOverrides: { SafeState: async (payload, handler) => (await rollbackRun, handler(payload)) },
  });
  expect(run.executionArn).toBe(exec.arn);
  const rb = await rollbackRun!;
  expect(rb).toMatchObject({ ok: true, result: { status: 'rolled-back', failedColor: 'green', stoppedExecutions: [exec.arn] } });
  expect(revokeSeq).toBeGreaterThan(0);

  // The backend write was refused by the fence, and the shift's restore of frontend too (it would fight the rollback).
  expect(run).toMatchObject({ status: 'FAILED', error: 'ShiftFailed' });
  expect(run.cause).toMatch(/failed on backend: GuardRefused: refused by the lock guard: .* does not hold the release lock/);
  expect(run.states.slice(-3)).toEqual(['Shift', 'SafeState', 'ReleaseFailed']);
  // The rollback Lambda corrected the late write (its re-read after the fence) and said so.
  const rbNote = published().find((p) => /corrected a late write that put traffic back on green/.test(p.message));
  expect(rbNote).toBeDefined();
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await desired('blue')).toEqual([2, 2]);
  await expectNoTrafficToAColorAtZero();
  expect(await readLock(env.ctx)).toBeUndefined();
  // The late frontend write landed (it was sent before the fence); the backend write after it was refused by the fence.
  const release25 = proxy.requests.filter((r) => r.operation === 'ModifyRule' && greenWeightWritten(r) === 25);
  expect(release25.map((r) => [isRule(r, 'frontend') ? 'frontend' : 'backend', r.status])).toEqual([['frontend', 200]]);
  // The safe state found the rollback Lambda's work done and did not move traffic again.
  const safe = (await ledger()).filter((e) => e.action === 'release:rolled-back');
  expect(safe).toHaveLength(1);
  expect(safe[0].reason).toMatch(/the rollback Lambda moved traffic back to blue .*did not move traffic again/);
  await rollbackFn.stop();
});

// ---- 7. a hanging connection, a crash between two calls ------------------------------------------------------------

test('7a: GIVEN one ModifyRule that lands but is never answered WHEN the request timeout and the retry run THEN the Shift succeeds and the release completes', async () => {
  proxy.addRule({ operation: 'ModifyRule', fault: { hang: { forward: true } } });
  const run = await release({ strategy: 'blue-green', actor: 'faults' });
  expect(run).toMatchObject({ status: 'SUCCEEDED' });
  expect(run.states.filter((s) => s === 'Shift')).toHaveLength(1); // retried inside the step, not by the state machine
  const modify = proxy.requests.filter((r) => r.operation === 'ModifyRule');
  expect(modify[0]).toMatchObject({ fault: 'hang+forward', upstreamStatus: 200 });
  expect(modify[0].status).toBeUndefined(); // never answered
  expect(modify[1].at - modify[0].at).toBeGreaterThanOrEqual(TRAFFIC_REQUEST_BOUNDS.requestTimeout - 100); // the request timeout, then the retry
  expect(modify[1]).toMatchObject({ body: modify[0].body, status: 200 });
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('7b: GIVEN the release Lambda crashes once between the frontend and backend writes of the 10% Shift THEN the Task (Runtime.ExitError) is retried in a new environment and finishes the step; the release completes', async () => {
  proxy.addRule({
    operation: 'ModifyRule',
    match: (r) => isRule(r, 'frontend') && greenWeightWritten(r) === 10,
    fault: { after: () => releaseFn.kill() },
  });
  const run = await release({ actor: 'faults' });
  expect(run).toMatchObject({ status: 'SUCCEEDED' });
  expect(releaseFn.starts).toBe(2); // the retry cold-started a new environment
  expect(run.states).not.toContain('SafeState');
  // The retry found frontend at its own target (10%) and wrote backend only: each rule got 10% exactly once.
  const at10 = proxy.requests.filter((r) => r.operation === 'ModifyRule' && greenWeightWritten(r) === 10);
  expect(at10.map((r) => (isRule(r, 'frontend') ? 'frontend' : 'backend'))).toEqual(['frontend', 'backend']);
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('7c: GIVEN the release Lambda crashes at every attempt of the 25% Shift THEN after the retries the state machine ends safe: all on blue, green at 0, lock released, notified', async () => {
  // Every attempt of the second Shift (10% → 25%) dies at its first call (reading the rules); the safe state runs unharmed.
  let crash: ActiveRule | undefined;
  const run = await release({ actor: 'faults' }, {
    taskOverrides: {
      Shift: async (payload, handler) => {
        if ((payload as { release: { stepIndex: number } }).release.stepIndex === 1) crash ??= proxy.addRule({ operation: 'DescribeRules', times: Infinity, fault: { before: () => releaseFn.kill() } });
        return handler(payload);
      },
      SafeState: async (payload, handler) => {
        crash!.remaining = 0;
        return handler(payload);
      },
    },
  });
  expect(crash!.applied).toBe(4);
  expect(run).toMatchObject({ status: 'FAILED', error: 'Runtime.ExitError' });
  expect(run.cause).toMatch(/signal: killed/);
  expect(run.states.slice(-3)).toEqual(['Shift', 'SafeState', 'ReleaseFailed']);
  expect(releaseFn.starts).toBe(5); // the first environment and 3 retries died in the second Shift; the safe state's is the fifth
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await desired('blue')).toEqual([2, 2]);
  await expectNoTrafficToAColorAtZero();
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'failed' });
  expect(published().map((p) => p.event)).toContain('rolled-back');
});

test('7d: GIVEN the release Lambda crashes once in Finish after scaling frontend blue to 0 THEN the retry completes the release', async () => {
  proxy.addRule({ operation: 'UpdateService', match: isScaleDownOf('blue'), fault: { after: () => releaseFn.kill() } });
  const run = await release({ strategy: 'blue-green', actor: 'faults' });
  expect(run).toMatchObject({ status: 'SUCCEEDED' });
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await desired('green')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'succeeded' });
});

test('7e: GIVEN the release Lambda crashes at every attempt of Finish THEN FinishIncomplete (never the safe state): green keeps 100%; the clean-up notifies, releases the lock and scales nothing', async () => {
  let armed = false;
  const run = await release({ strategy: 'blue-green', actor: 'faults' }, {
    taskOverrides: {
      Finish: async (payload, handler) => {
        if (!armed) {
          armed = true;
          proxy.addRule({ operation: 'UpdateService', match: isScaleDownOf('blue'), times: Infinity, fault: { after: () => releaseFn.kill() } });
        }
        return handler(payload);
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'FinishIncomplete' });
  expect(run.states.slice(-2)).toEqual(['Finish', 'FinishIncomplete']);
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('green')).toEqual([2, 2]);
  expect(await desired('blue')).toEqual([0, 2]); // frontend scaled at the first attempt; every attempt died right there
  await expectNoTrafficToAColorAtZero();
  // The crashed step told no one: the lock and the record 'running' stay until the Abandoned clean-up runs.
  expect((await readLock(env.ctx))?.owner).toBe(run.executionArn);
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'running' });
  expect(published().filter((p) => /finish-incomplete|completed/.test(p.event))).toEqual([]);
  proxy.reset();
  const cleanup = await releaseFn.invoke({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'FinishIncomplete' });
  expect(cleanup).toMatchObject({ ok: true, result: { finishIncomplete: true, lockReleased: true } });
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'finish-incomplete' });
  expect(published().map((p) => p.event)).toEqual(['finish-incomplete']);
  expect(published()[0].message).toMatch(/desired counts frontend blue 0 \/ green 2, backend blue 2 \/ green 2/);
  expect(proxy.count('UpdateService') + proxy.count('ModifyRule')).toBe(0);
});
