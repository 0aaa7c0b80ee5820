/**
 * Local rehearsal of the synthesized release state machine (aws-local-stepfunctions) with the real release handler
 * in-process against moto. Wait states are shortened to 0 ms; everything else runs as defined.
 */
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { BatchDeleteImageCommand, StartImageScanCommand } from '@aws-sdk/client-ecr';
import { acquireLock, logger, readEcs, readLedger, readLock, readRules, rollback } from '../../lambda/traffic';
import type { ReleaseContext } from '../../lambda/release/context';
import { putReleaseRecord, readReleaseRecord } from '../../lambda/release/record';
import { SERVICES } from '../support/services';
import { writeTopology } from '../../lambda/shared/topology-store';
import { startMoto, MotoServer } from '../support/moto';
import { buildReleaseEnvironment, REHEARSAL_POLICY, ReleaseEnvironment, startTestListener, TestListener } from './harness';
import { Definition, definitionFromTemplate, ReleaseFunctionIds, releaseFunctionIds, runRehearsal, taskFunctionId } from './rehearsal';
import { synthEnvironment } from '../cdk/support';

logger.setLogLevel('ERROR');

let moto: MotoServer;
let listener: TestListener;
let definition: Definition;
let ids: ReleaseFunctionIds;
let env: ReleaseEnvironment;

beforeAll(async () => {
  [moto, listener] = await Promise.all([startMoto(), startTestListener()]);
  // The definition of the real production stack, with the manual approval switched on so that path runs too.
  const production = synthEnvironment('production', (c) => ({ ...c, release: { ...c.release, approvalAfterFirstStep: true } }));
  definition = definitionFromTemplate(production.stateless);
  // The Lambda functions of the real stack: every Task runs the local handler of the function it invokes.
  ids = releaseFunctionIds(production.stage);

});
afterAll(async () => {
  await Promise.all([moto?.stop(), listener?.close()]);
});
beforeEach(async () => {
  await moto.reset();
  listener.failing.clear();
  listener.requests.length = 0;
});
afterEach(() => env?.destroy());

async function weights() {
  const rules = await readRules(env.ctx);
  return Object.fromEntries(SERVICES.map((s) => [s, rules[s].weights]));
}
const allOn = (color: 'blue' | 'green') =>
  Object.fromEntries(SERVICES.map((s) => [s, color === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 }]));
async function desired(color: 'blue' | 'green') {
  const ecs = await readEcs(env.ctx);
  return SERVICES.map((s) => ecs[s][color].desiredCount);
}
async function ledgerActions() {
  return (await readLedger(env.ctx, 200)).map((e) => e.action as string).reverse();
}

test('the Backup, PreflightChecks and Judge Tasks invoke their own functions of the production stack and every other Task the release function', () => {
  expect(ids.backup).toBeDefined();
  expect(ids.preflightChecks).toBeDefined();
  expect(new Set([ids.handler, ids.backup, ids.preflightChecks, ids.judge]).size).toBe(4);
  const tasks = Object.entries(definition.States).filter(([, s]) => s.Type === 'Task');
  const own: Record<string, string | undefined> = { Backup: ids.backup, PreflightChecks: ids.preflightChecks, Judge: ids.judge };
  for (const [name, state] of tasks) expect([name, taskFunctionId(state)]).toEqual([name, own[name] ?? ids.handler]);
  // Right after Preflight, before the backup: nothing is scaled or moved before the images and certificates are checked.
  expect(definition.States.Preflight.Next).toBe('PreflightChecks');
  expect(definition.States.PreflightChecks.Next).toBe('Backup');
});

test('GIVEN the canary policy WHEN released THEN green walks 10→25→50→100 with gates, blue is scaled to 0 and the lock is released', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, { actor: 'rehearsal' }, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'SUCCEEDED' });
  expect(run.states.filter((s) => s === 'Shift')).toHaveLength(4);
  expect(run.states).toEqual(expect.arrayContaining(['Backup', 'StartMigration', 'CheckMigration', 'ScaleUp', 'CheckStable', 'PreTrafficChecks', 'FinalBake', 'FinalGate', 'RollbackWindow', 'WindowGate', 'Finish', 'Released']));
  expect(run.states).not.toContain('Approval');
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await desired('green')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  const actions = await ledgerActions();
  expect(actions.filter((a) => a === 'shift')).toHaveLength(4);
  expect(actions).toEqual(expect.arrayContaining(['release:started', 'release:backup', 'release:migration-succeeded', 'release:pre-traffic-passed', 'release:completed']));
  expect(actions.filter((a) => a === 'release:gate-passed')).toHaveLength(5);
  expect(env.runTasks).toEqual([
    expect.objectContaining({
      taskDefinition: expect.stringContaining('rehearsal-backend-green-migrate'),
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: env.fixture.subnetIds, securityGroups: [env.fixture.securityGroupId], assignPublicIp: 'DISABLED' } },
      overrides: { containerOverrides: [{ name: 'backend', command: ['npm', 'run', 'db:migrate'] }] },
    }),
  ]);
  // The backup ran in the backup handler, and only there.
  expect(env.steps.filter((s) => s.endsWith(':backup'))).toEqual(['backup:backup']);
  const snaps = await env.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'rehearsal-db', SnapshotType: 'manual' }));
  expect(snaps.DBSnapshots?.[0]?.DBSnapshotIdentifier).toMatch(/^release-rehearsal-\d{8}-rehearsal-/);
  // Pre-traffic checks: each service's configured paths (the frontend serves /health only), with the service's Host and
  // the color header.
  expect(listener.requests.map((r) => `${r.headers.host}${r.path}`).sort()).toEqual([
    'api.rehearsal.example.com/health',
    'api.rehearsal.example.com/health/db',
    'api.rehearsal.example.com/health/external',
    'api.rehearsal.example.com/health/redis',
    'rehearsal.example.com/health',
  ]);
  expect(listener.requests.every((r) => r.headers['x-release-color'] === 'green')).toBe(true);
  expect(new Set(listener.requests.map((r) => r.headers.host))).toEqual(new Set(['rehearsal.example.com', 'api.rehearsal.example.com']));
});

test('GIVEN blue/green WHEN released THEN green goes straight to 100 after the checks', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, { strategy: 'blue-green', actor: 'rehearsal' }, { handlers: env.handlers(ids) });
  expect(run.status).toBe('SUCCEEDED');
  expect(run.states.filter((s) => s === 'Shift')).toHaveLength(1);
  expect(run.states).not.toContain('Bake');
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('GIVEN an alarm during the 25% bake WHEN the gate runs THEN the release rolls back: traffic on blue, green at 0, lock released', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 25) {
          await env.clients.cloudwatch.send(
            new SetAlarmStateCommand({ AlarmName: env.topology.rollbackAlarmNames.green[0], StateValue: 'ALARM', StateReason: 'rehearsal: 5xx on green' }),
          );
        }
        return out;
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'GateFailed' });
  expect(run.cause).toMatch(/bake at 25%.*5xx.*ALARM/);
  expect(run.states.filter((s) => s === 'Shift')).toHaveLength(2);
  expect(run.states.slice(-2)).toEqual(['SafeState', 'ReleaseFailed']);
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await desired('blue')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  const actions = await ledgerActions();
  expect(actions.indexOf('rollback')).toBeLessThan(actions.lastIndexOf('scale'));
  // The terminal record, then the release's report (lambda/release/report.ts).
  expect(actions.slice(-2)).toEqual(['release:rolled-back', 'release:report']);
});

test('GIVEN /health/db answers 500 on green WHEN the pre-traffic checks run THEN the release fails with no traffic moved', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  listener.failing.set('/health/db', 500);
  const run = await runRehearsal(definition, {}, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'PreTrafficCheckFailed' });
  expect(run.cause).toMatch(/\/health\/db HTTP 500/);
  expect(run.states).not.toContain('Shift');
  expect(await weights()).toEqual(allOn('blue'));
  expect((await ledgerActions()).filter((a) => a === 'shift' || a === 'rollback')).toEqual([]);
  expect(await desired('green')).toEqual([2, 2]); // back to its counts from before the release
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('GIVEN the migration exits 1 WHEN the release runs THEN it stops before scaling or moving traffic', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  env.migrationExitCode = 1;
  const run = await runRehearsal(definition, {}, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'MigrationFailed' });
  expect(run.cause).toMatch(/exit code 1/);
  expect(run.states).not.toContain('ScaleUp');
  expect(run.states).not.toContain('Shift');
  expect(await weights()).toEqual(allOn('blue'));
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('GIVEN the new backend image is not in its ECR repository WHEN released THEN PreflightChecks refuses naming it: nothing scaled or moved, lock released, record failed', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  await env.ecr.send(new BatchDeleteImageCommand({ repositoryName: env.repositories.backend, imageIds: [{ imageTag: env.fixture.versions.green }] }));
  const greenBefore = await desired('green');
  const run = await runRehearsal(definition, {}, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'PreflightRefused' });
  expect(run.cause).toContain(`image ${env.repositories.backend}:${env.fixture.versions.green} of backend is not in its ECR repository`);
  expect(run.states).toEqual(expect.arrayContaining(['Preflight', 'PreflightChecks', 'SafeState']));
  expect(run.states).not.toContain('Backup');
  expect(run.states).not.toContain('ScaleUp');
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual(greenBefore);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect((await readReleaseRecord(env.ctx))?.status).toBe('failed');
});

test('GIVEN release.imageScan HIGH and a scanned image with a HIGH finding (moto: CVE-9999-9999) WHEN released THEN PreflightChecks refuses naming the finding', async () => {
  env = await buildReleaseEnvironment(moto, listener, { ...REHEARSAL_POLICY, imageScan: { failOnSeverity: 'HIGH' } });
  await env.ecr.send(new StartImageScanCommand({ repositoryName: env.repositories.frontend, imageId: { imageTag: env.fixture.versions.green } }));
  const run = await runRehearsal(definition, {}, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'PreflightRefused' });
  // The backend's image was never scanned: allowed (requireScan unset); the frontend's finding refuses.
  expect(run.cause).toMatch(/image ecommerce-frontend:1\.1\.0 of frontend has 1 HIGH finding\(s\) at or above HIGH \(release\.imageScan\.failOnSeverity\): CVE-9999-9999 \(HIGH\)/);
  expect(run.cause).not.toContain('of backend');
  expect(await weights()).toEqual(allOn('blue'));
});

test('GIVEN a release waiting for approval WHEN a second release starts THEN it is refused (lock held) and the first continues after approval', async () => {
  env = await buildReleaseEnvironment(moto, listener, { ...REHEARSAL_POLICY, approvalAfterFirstStep: true });
  let approve!: (v: unknown) => void;
  let tokenSeen: string | undefined;
  const waiting = new Promise<void>((resolveWaiting) => {
    void runRehearsal(definition, { actor: 'first' }, {
      handlers: env.handlers(ids),
      executionName: 'first',
      onTaskToken: (token) => {
        tokenSeen = token;
        resolveWaiting();
        return new Promise((r) => (approve = r));
      },
    }).then((r) => (first = r));
  });
  let first: Awaited<ReturnType<typeof runRehearsal>> | undefined;
  await waiting;
  expect(tokenSeen).toBe('local-task-token-first');
  expect((await weights()).frontend).toEqual({ blue: 90, green: 10 });

  const second = await runRehearsal(definition, { actor: 'second' }, { handlers: env.handlers(ids), executionName: 'second' });
  expect(second).toMatchObject({ status: 'FAILED', error: 'LockHeld' });
  expect(second.cause).toMatch(/held by arn:aws:states:.*:first/);
  expect((await weights()).frontend).toEqual({ blue: 90, green: 10 }); // the refused release touched nothing
  expect((await readLock(env.ctx))?.owner).toMatch(/:first$/);

  approve({ approvedBy: 'rehearsal' });
  await new Promise<void>((r) => {
    const t = setInterval(() => first && (clearInterval(t), r()), 20);
  });
  expect(first).toMatchObject({ status: 'SUCCEEDED' });
  expect(first!.states).toContain('Approval');
  expect(await weights()).toEqual(allOn('green'));
  expect(await readLock(env.ctx)).toBeUndefined();
});

test('GIVEN another holder of the lock WHEN a release starts THEN it is refused and the lock stays with its holder', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  await acquireLock(env.ctx, 'cli:someone@host:1');
  const run = await runRehearsal(definition, {}, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'LockHeld' });
  expect((await readLock(env.ctx))?.owner).toBe('cli:someone@host:1');
  expect(await weights()).toEqual(allOn('blue'));
});

test('GIVEN a gate that hangs at 10% WHEN its task times out THEN the safe state puts traffic on blue and releases the lock', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskTimeoutSeconds: 2,
    taskOverrides: { Gate: () => new Promise(() => undefined) },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
  expect(run.states.slice(-3)).toEqual(['Gate', 'SafeState', 'ReleaseFailed']);
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await readLock(env.ctx)).toBeUndefined();
});

const setAlarm = (name: string, state: 'ALARM' | 'OK', reason: string) =>
  env.clients.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: reason }));
const split = (percent: number) => Object.fromEntries(SERVICES.map((s) => [s, { blue: 100 - percent, green: percent }]));

// Regression (#11): the old gate failed on an alarm of EITHER color, so an alarm of the stable color rolled back the new one.
test('GIVEN an alarm of the STABLE color during the 25% bake WHEN the gate runs THEN the release is held: traffic stays at 25%, green keeps running, lock released, the operator is told how to decide', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 25) await setAlarm(env.topology.rollbackAlarmNames.blue[0], 'ALARM', 'rehearsal: 5xx on blue');
        return out;
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'ReleaseHeld' });
  expect(run.cause).toMatch(/stable color blue has rehearsal-frontend-blue-5xx \(blue trigger\) in ALARM: held at 25%, no rollback/);
  expect(run.states.slice(-3)).toEqual(['Gate', 'HoldState', 'ReleaseHeld']);
  expect(run.states).not.toContain('SafeState');
  expect(await weights()).toEqual(split(25));
  expect(await desired('green')).toEqual([2, 2]);
  expect(await desired('blue')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ executionArn: run.executionArn, status: 'held' });
  const actions = await ledgerActions();
  expect(actions).not.toContain('rollback');
  expect(actions.slice(-2)).toEqual(['release:held', 'release:report']);
  const [held] = (await readLedger(env.ctx, 5)).filter((e) => (e.action as string) === 'release:held');
  expect(held.reason).toMatch(/HELD at 25%.*rehearsal-frontend-blue-5xx.*promote --env rehearsal.*rollback --to blue --env rehearsal/);

  // The Abandoned rule fires for this FAILED execution too: the clean-up sees "held" and leaves traffic alone.
  const cleanup = await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED' });
  expect(cleanup).toMatchObject({ skipped: expect.stringContaining('held') });
  expect(await weights()).toEqual(split(25));
});

test('GIVEN an alarm of the STABLE color right after a gate passed WHEN the next shift is refused by the alarm guard THEN the release is held, not rolled back', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  let gates = 0;
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Gate: async (payload, handler) => {
        const out = await handler(payload);
        if (++gates === 1) await setAlarm(env.topology.rollbackAlarmNames.blue[1], 'ALARM', 'rehearsal: 5xx on blue');
        return out;
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'ReleaseHeld' });
  expect(run.cause).toMatch(/shift of green to 25% refused for alarms of the stable color blue only .*rehearsal-backend-blue-5xx.*held at 10%/);
  expect(run.states.slice(-3)).toEqual(['Shift', 'HoldState', 'ReleaseHeld']);
  expect(await weights()).toEqual(split(10));
  expect(await readLock(env.ctx)).toBeUndefined();
});

// Review finding: the shift path held whenever the new color had no alarm, even when only alarms the gate ignores were
// firing (the stable color's comparison: the new color is BETTER), stopping a good release.
test("GIVEN the stable color's comparison in ALARM (the new color is better) WHEN the next shift is refused by the core's guard THEN the release shifts on and succeeds", async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const comparison = env.topology.rollbackAlarmNames.blue[1];
  // The stored topology, as deployed, marks that alarm of blue as its "versus green" comparison.
  await writeTopology(env.clients.dynamodb, env.topology.lockTableName, JSON.stringify({ ...env.topology, comparisonAlarmNames: { blue: [comparison], green: [] } }));
  let gates = 0;
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Gate: async (payload, handler) => {
        const out = await handler(payload);
        if (++gates === 1) await setAlarm(comparison, 'ALARM', 'rehearsal: blue worse than green');
        return out;
      },
    },
  });
  expect(run.status).toBe('SUCCEEDED');
  expect(run.states).not.toContain('HoldState');
  expect(await weights()).toEqual(allOn('green'));
});

// Review finding: a hold whose own writes failed ended FAILED (HoldFailed), and the Abandoned clean-up then ran the safe
// state: all traffic back onto the stable color that was IN ALARM, the healthy new color scaled to 0.
test('GIVEN a hold that itself fails (HoldFailed) WHEN the FAILED execution is cleaned up THEN traffic stays, the record says held and the lock is released', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 25) await setAlarm(env.topology.rollbackAlarmNames.blue[0], 'ALARM', 'rehearsal: 5xx on blue');
        return out;
      },
      HoldState: async () => {
        throw new Error('rehearsal: the hold cannot reach DynamoDB');
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'HoldFailed' });
  expect(await readLock(env.ctx)).toBeDefined();
  const cleanup = await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'HoldFailed' });
  expect(cleanup).toMatchObject({ held: true, lockReleased: true });
  expect(await weights()).toEqual(split(25));
  expect(await desired('green')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ executionArn: run.executionArn, status: 'held' });
  // A second delivery changes nothing.
  expect(await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'HoldFailed' })).toMatchObject({ skipped: expect.stringContaining('held') });
});

// Regression (#15): the Abandoned rule matched TIMED_OUT and ABORTED only, so a FAILED execution whose safe state did not
// run kept the lock (and the split traffic) until the lock's lease ran out.
test('GIVEN a release whose safe state itself fails (SafeStateFailed) WHEN the FAILED execution is cleaned up THEN traffic goes back to blue and the lock is released; a second delivery changes nothing', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, {}, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 25) await setAlarm(env.topology.rollbackAlarmNames.green[0], 'ALARM', 'rehearsal: 5xx on green');
        return out;
      },
      SafeState: async () => {
        throw new Error('rehearsal: the safe state cannot reach DynamoDB');
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'SafeStateFailed' });
  expect(await weights()).toEqual(split(25));
  expect((await readLock(env.ctx))?.owner).toBe(run.executionArn);

  const cleanup = await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED' });
  expect(cleanup).toMatchObject({ rolledBack: true, lockReleased: true });
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('green')).toEqual([0, 0]);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED' })).toMatchObject({ skipped: expect.stringContaining('failed') });
});

test('GIVEN a failed release whose safe state ran WHEN its FAILED event is cleaned up THEN nothing changes (the safe state is not undone)', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  listener.failing.set('/health/db', 500);
  const run = await runRehearsal(definition, {}, { handlers: env.handlers(ids) });
  expect(run).toMatchObject({ status: 'FAILED', error: 'PreTrafficCheckFailed' });
  const before = { weights: await weights(), green: await desired('green') };
  expect(await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED' })).toMatchObject({ skipped: expect.stringContaining(`${run.executionArn}: failed`) });
  expect({ weights: await weights(), green: await desired('green') }).toEqual(before);
});

test('GIVEN a late clean-up of an old execution WHEN a newer release already holds the lock THEN the clean-up leaves traffic and the lock alone', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const old = 'arn:aws:states:us-east-1:123456789012:execution:Release:old';
  const newer = 'arn:aws:states:us-east-1:123456789012:execution:Release:newer';
  // The old execution's record still says running (its lease ran out); the newer one took the lock and has not yet
  // written its own record (the window inside its preflight).
  await putReleaseRecord(env.ctx as ReleaseContext, { executionArn: old, status: 'running', stable: 'blue', candidate: 'green' });
  await acquireLock(env.ctx, newer, { ttlSeconds: 600 });
  const before = { weights: await weights(), green: await desired('green') };
  const cleanup = await env.handler({ step: 'abandoned', executionArn: old, status: 'TIMED_OUT' });
  expect(cleanup).toMatchObject({ skipped: expect.stringContaining(`held by ${newer}`) });
  expect((await readLock(env.ctx))?.owner).toBe(newer);
  expect({ weights: await weights(), green: await desired('green') }).toEqual(before);
});

// Failure-safe §2: a failure after Finish scaled the old color to 0 went to SafeState, which sent all traffic back to
// that color (0 tasks) and scaled the new one to 0: an outage.
test('GIVEN a failure after Finish scaled blue to 0 THEN no SafeState: traffic stays on green, green keeps running, the clean-up changes nothing', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, { strategy: 'blue-green' }, {
    handlers: env.handlers(ids),
    taskOverrides: {
      Finish: async (payload, handler) => {
        await handler(payload);
        throw new Error('rehearsal: the Lambda dies after its work');
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'FinishIncomplete' });
  expect(run.states.slice(-2)).toEqual(['Finish', 'FinishIncomplete']);
  expect(run.states).not.toContain('SafeState');
  expect(await weights()).toEqual(allOn('green'));
  expect(await desired('blue')).toEqual([0, 0]);
  expect(await desired('green')).toEqual([2, 2]);
  const cleanup = await env.handler({ step: 'abandoned', executionArn: run.executionArn, status: 'FAILED', error: 'FinishIncomplete' });
  expect(cleanup).toMatchObject({ skipped: expect.stringContaining('succeeded') });
  expect(await weights()).toEqual(allOn('green'));
});

// Failure-safe §2: an operator's rollback during the rollback window was followed by Finish scaling the live color to 0.
test('GIVEN an operator rolls back during the rollback window THEN Finish holds (OperatorOverride): blue keeps its traffic and its tasks', async () => {
  env = await buildReleaseEnvironment(moto, listener);
  const run = await runRehearsal(definition, { strategy: 'blue-green' }, {
    handlers: env.handlers(ids),
    taskOverrides: {
      WindowGate: async (payload, handler) => {
        const out = await handler(payload);
        await rollback(env.ctx, { to: 'blue', actor: 'operator', reason: 'manual rollback', scaleDown: false });
        return out;
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'OperatorOverride' });
  expect(run.states.slice(-3)).toEqual(['Finish', 'HoldState', 'ReleaseHeld']);
  expect(run.cause).toMatch(/someone else moved traffic/);
  expect(await weights()).toEqual(allOn('blue'));
  expect(await desired('blue')).toEqual([2, 2]);
  expect(await readLock(env.ctx)).toBeUndefined();
  expect(await readReleaseRecord(env.ctx)).toMatchObject({ status: 'held' });
  const [held] = (await readLedger(env.ctx, 5)).filter((e) => (e.action as string) === 'release:held');
  expect(held.reason).toMatch(/because an operator changed the weights/);
});
