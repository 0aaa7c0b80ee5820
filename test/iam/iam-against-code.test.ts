/**
 * IAM against code: every AWS call each handler makes in the emulator (moto) runs below is checked against THAT
 * handler's synthesized role policy (production: every feature on), resolved with the emulator's ARNs. moto does not
 * enforce resource-level IAM, so a missing or mis-scoped permission would otherwise surface only at deploy or, worse,
 * at 3 a.m. in the rollback Lambda.
 *
 * Pieces (test/support/): instrument.ts records the calls (recordAs attributes calls of handlers sharing clients),
 * iam-calls.ts maps a call to IAM actions/resources/context keys, iam-resolve.ts resolves the role policy with the
 * fixture's ARNs, iam-policy.ts evaluates, iam-check.ts puts them together.
 *
 * Scenarios per handler: happy paths, rollbacks and failure paths, so that every SDK command in the handler's bundle
 * is exercised; the last tests compare the exercised commands with the bundle's and the findings with KNOWN_GAPS.
 */
import { CfnElement, type Stack } from 'aws-cdk-lib';
import { DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { createEvent, deleteEvent, countsProps, guardProps, ruleProps, updateEvent } from '../custom-resources/events';
import { dispatch, createCustomResourceClients, type CustomResourceClients } from '../../lambda/custom-resources/handler';
import { handleAlarmEvent, type RollbackContext } from '../../lambda/rollback';
import { handleTaskEvent } from '../../lambda/crash/core';
import { putReleaseRecord } from '../../lambda/release/record';
import { taskStoppedEvent } from '../crash/support';
import { COLORS, type Topology } from '../../lambda/shared/topology';
import { runCommand } from '../../lambda/switch/handler';
import { acquireLock, createClients, destroyClients, logger, shift, type TrafficClients } from '../../lambda/traffic';
import { createAllClients } from '../../lambda/traffic/notification-clients';
import type { HandlerFunction } from '../../lib/handler-function';
import { TrafficResourceProvider } from '../../lib/traffic-resources';
import { ENVIRONMENTS } from '../../config';
import { synthEnvironment } from '../cdk/support';
import { buildReleaseEnvironment, REHEARSAL_POLICY, type ReleaseEnvironment, startTestListener, type TestListener } from '../release/harness';
import { definitionFromTemplate, type Definition, releaseFunctionIds, runRehearsal } from '../release/rehearsal';
import { buildFixture, type Fixture } from '../support/fixture';
import { type ArnScope, authorizationsOf, type CallFacts } from '../support/iam-calls';
import { checkCalls, describeFinding, findingKey, type IamFinding } from '../support/iam-check';
import type { Statement } from '../support/iam-policy';
import { CfnResolver, exportsOf, isIntrinsic, roleStatements } from '../support/iam-resolve';
import { type Instrument, instrumentClients, type RecordedCall, recordAs, throttlingError } from '../support/instrument';
import { startMoto, type MotoServer } from '../support/moto';
import { handleDatabaseUsers } from '../../lambda/database/handler';
import { secretReader, secretsManagerClient } from '../../lambda/database/secrets';
import { ACCOUNT, alarmStateChangeEvent, buildReleaseFixture, setAlarmState } from '../support/release';
import { bundledCommands, type HandlerName, HANDLER_ENTRY } from './bundle-commands';

jest.setTimeout(120000);
logger.setLogLevel('SILENT');

/**
 * Permission gaps this check finds on today's code: real deploy bugs, each to be fixed in lib/ (then removed here).
 * A gap not listed fails the scenario that hit it; the last test requires every listed gap to be still found.
 * Keys: `<handler>: <command> → <action> on <service>:<resource type>` (findingKey).
 */
export const KNOWN_GAPS: readonly string[] = [
  // Empty since the deploy-ready fixes: the rollback's states:StopExecution resource (Fn::Select out of range on the
  // state machine ARN) was the one gap this check found. A gap found later is listed here with its cause until fixed.
];

/** SDK commands in a handler's bundle that no scenario below exercises, with why. Compared exactly, like KNOWN_GAPS. */
export const KNOWN_UNEXERCISED: Readonly<Record<HandlerName, readonly string[]>> = {
  switch: [],
  // Bundled with lambda/traffic/shift.ts, whose alarm guard the rollback skips (`rollback: true`): unreachable.
  rollback: ['DescribeAlarms'],
  // The same core (crash detection rolls back through rollBackColor): the same unreachable alarm guard.
  crash: ['DescribeAlarms'],
  // Query is exercised: preflight reads completed releases from the ledger (downgrade check), granted in lib/release.ts.
  release: [],
  backup: [],
  judge: [],
  'preflight-checks': [],
  'custom-resources': [],
  'database-users': [],
};

const PRODUCTION = ENVIRONMENTS.production;
const SCOPE: ArnScope = { partition: 'aws', region: 'us-east-1', account: ACCOUNT };
/** The fixtures are built with the synthesized environment's name, so names derived from it line up. */
const ENV = PRODUCTION.name;
const noSleep = { sleep: async () => undefined };

const synth = synthEnvironment('production');
const stack = synth.stage.stateless;
type TemplateJson = { Resources: Record<string, { Type: string; Properties?: any }>; Outputs?: Record<string, { Value: any; Export?: { Name: any } }> };
const template = synth.stateless.toJSON() as TemplateJson;
/** The database users bootstrap lives in the stateful stack; every other handler in the stateless one. */
const statefulTemplate = synth.stateful.toJSON() as TemplateJson;
/** Crash detection lives in the monitoring stack (lib/monitoring-stack.ts); its policy imports the stateless stack's exports. */
const monitoringTemplate = synth.monitoring.toJSON() as TemplateJson;
const stackOf = (h: HandlerName) => (h === 'database-users' ? synth.stage.stateful : h === 'crash' ? synth.stage.monitoring : stack);
const templateOf = (h: HandlerName) => (h === 'database-users' ? statefulTemplate : h === 'crash' ? monitoringTemplate : template);
const provider = stack.node.findAll().find((c): c is TrafficResourceProvider => c instanceof TrafficResourceProvider)!;
const FUNCTIONS: Record<HandlerName, HandlerFunction> = {
  switch: stack.trafficControl.switchFunction,
  rollback: stack.automatedRollback.handler,
  crash: synth.stage.monitoring.crashDetection.handler,
  release: stack.release.handler,
  backup: stack.release.backupHandler!,
  judge: stack.release.judgeHandler,
  'preflight-checks': stack.release.preflightChecksHandler!,
  'custom-resources': provider.function,
  'database-users': synth.stage.stateful.database.users.bootstrapFunction,
};
const logicalId = (c: { node: { defaultChild?: unknown } }, s: Stack = stack) => s.getLogicalId(c.node.defaultChild as CfnElement);

/** The notification topic's KMS key as synthesized (an expression), if the topic is encrypted. */
const topicKey = (() => {
  const ref = stack.resolve(stack.trafficControl.topology.notificationTopicArn) as { Ref: string };
  return template.Resources[ref.Ref].Properties?.KmsMasterKeyId as unknown;
})();
/** moto has no KMS in these runs: the topic's key gets a stand-in ARN, so statements on that key can be checked. */
const EMULATOR_TOPIC_KEY = `arn:aws:kms:${SCOPE.region}:${ACCOUNT}:key/00000000-0000-4000-8000-00000000000a`;

/** One emulator run: the resolver (synthesized topology zipped with the fixture's, plus `bind`) and the call facts. */
interface Run {
  readonly resolver: CfnResolver;
  readonly facts: CallFacts;
}

function runFor(topology: Topology, bind: (r: CfnResolver) => void = () => undefined, facts: CallFacts = {}): Run {
  // The monitoring stack's resources too (crash detection's own log group), its imports through the stateless exports.
  const resources = { Resources: { ...monitoringTemplate.Resources, ...template.Resources } };
  const r = new CfnResolver({ template: resources, scope: SCOPE, literals: [[PRODUCTION.account, ACCOUNT]], exports: exportsOf(template) });
  r.zip(stack.resolve(stack.trafficControl.topology), topology);
  // Grants on the production listener's rules (a pattern) resolve through the listener: the emulator's, named by its
  // rules' ARNs (`…:listener-rule/app/<lb>/<id>/<listener>/<rule>` → `…:listener/app/<lb>/<id>/<listener>`).
  const rule = Object.values(topology.services)[0]?.listenerRuleArn;
  if (rule) r.bind(stack.resolve(stack.loadBalancer.productionListener.listenerArn), rule.replace(':listener-rule/', ':listener/').replace(/\/[^/]+$/, ''));
  if (isIntrinsic(topicKey)) r.bind(topicKey, EMULATOR_TOPIC_KEY);
  bind(r);
  const encryptionKeyOf = (arn: string) => (topicKey !== undefined && arn === topology.notificationTopicArn ? r.resolveString(topicKey) : undefined);
  return { resolver: r, facts: { encryptionKeyOf, ...facts } };
}

const findings: IamFinding[] = [];
/** The switch run's calls and resolver, for the tests that prove the check catches a bad policy. */
const recorded: { switch?: { calls: RecordedCall[]; run: Run }; judge?: { calls: RecordedCall[]; run: Run } } = {};
const exercised = new Map<HandlerName, Set<string>>();
/** The IAM actions evaluated per handler (including implied ones). */
const evaluated = new Map<HandlerName, Set<string>>();

/** Checks a handler's recorded calls against its resolved role policy; findings are collected for the last test. */
function check(handler: HandlerName, calls: readonly RecordedCall[], run: Run): IamFinding[] {
  const statements = roleStatements(templateOf(handler), logicalId(FUNCTIONS[handler].role, stackOf(handler))).map((s) => run.resolver.statement(s));
  const mine = calls.filter((c) => c.handler === undefined || c.handler === handler);
  const set = exercised.get(handler) ?? new Set<string>();
  for (const c of mine) set.add(c.command);
  exercised.set(handler, set);
  const actions = evaluated.get(handler) ?? new Set<string>();
  for (const c of mine) for (const a of authorizationsOf(c, SCOPE, run.facts)) actions.add(a.action);
  evaluated.set(handler, actions);
  const found = checkCalls(handler, mine, statements, SCOPE, run.facts);
  findings.push(...found);
  // Fail here, in the scenario that made the call, with one example per new gap and the statements considered.
  const unexpected = found.filter((f) => !KNOWN_GAPS.includes(findingKey(f)));
  expect([...new Map(unexpected.map((f) => [findingKey(f), describeFinding(f)])).values()]).toEqual([]);
  return found;
}

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
});

describe('switch', () => {
  let clients: TrafficClients;
  let inst: Instrument;
  let fx: Fixture;
  beforeEach(async () => {
    fx = await buildFixture(moto.clientConfig, { environment: ENV });
    clients = createClients({ ...moto.clientConfig, maxAttempts: 1 });
    inst = instrumentClients(clients);
  });
  afterEach(() => {
    inst.detach();
    destroyClients(clients);
  });

  test('status, lock, shift, scale, restore, rollback, unlock: every call allowed by the switch role', async () => {
    const ctx = { clients, topology: fx.topology, retry: noSleep };
    const owner = 'operator';
    await runCommand(ctx, { command: 'status' });
    await runCommand(ctx, { command: 'lock', owner });
    await runCommand(ctx, { command: 'scale', color: 'green', desiredCount: 2, actor: 'op' });
    await runCommand(ctx, { command: 'shift', to: 'green', percent: 10, owner, actor: 'op', service: 'frontend' });
    await runCommand(ctx, { command: 'shift', to: 'green', percent: 100, owner, actor: 'op' });
    await runCommand(ctx, { command: 'scale', color: 'blue', desiredCount: 0, actor: 'op' });
    await runCommand(ctx, { command: 'scale', color: 'blue', restore: true, actor: 'op' });
    await runCommand(ctx, { command: 'rollback', to: 'blue', actor: 'op' });
    // Without a color, rollback finds the stable one in the ledger (Query).
    await runCommand(ctx, { command: 'scale', color: 'green', desiredCount: 2, actor: 'op' });
    await runCommand(ctx, { command: 'shift', to: 'green', percent: 50, owner, actor: 'op' });
    await runCommand(ctx, { command: 'rollback', actor: 'op' });
    await runCommand(ctx, { command: 'unlock', owner });
    expect(inst.calls.filter((c) => c.command === 'ModifyRule').length).toBeGreaterThan(0);
    const run = runFor(fx.topology);
    recorded.switch = { calls: [...inst.calls], run };
    check('switch', inst.calls, run);
  });
});

describe('rollback', () => {
  let inst: Instrument;
  let ctx: RollbackContext;
  let run: Run;
  let clients: ReturnType<typeof createAllClients>;
  beforeEach(async () => {
    const fx = await buildReleaseFixture(moto.clientConfig, { environment: ENV });
    clients = createAllClients({ ...moto.clientConfig, maxAttempts: 1 });
    ctx = { clients, topology: fx.topology, retry: noSleep, releaseStateMachineArn: fx.stateMachineArn, metricSink: () => undefined };
    await fx.startRelease();
    await acquireLock(ctx, 'release:exec-1');
    await shift(ctx, { target: { to: 'green', percent: 10 }, owner: 'release:exec-1', actor: 'release' });
    run = runFor(fx.topology, (r) => r.bind(stack.resolve(stack.release.stateMachine.stateMachineArn), fx.stateMachineArn));
    inst = instrumentClients(clients);
  });
  afterEach(() => {
    inst.detach();
    destroyClients(clients);
  });
  const fire = async (alarmName: string) => {
    await setAlarmState(moto.clientConfig, alarmName, 'ALARM');
    return alarmStateChangeEvent({ alarmName, region: SCOPE.region });
  };

  test('a green alarm rolls back (traffic, release stopped, scale, ledger, notification); a duplicate; a blue alarm notifies', async () => {
    const event = await fire(ctx.topology.rollbackAlarmNames.green[0]);
    await expect(handleAlarmEvent(ctx, event)).resolves.toMatchObject({ status: 'rolled-back' });
    await handleAlarmEvent(ctx, event);
    await handleAlarmEvent(ctx, await fire(ctx.topology.rollbackAlarmNames.blue[0]));
    check('rollback', inst.calls, run);
  });

  test('failure paths: traffic cannot move (RollbackFailed), scaling fails after the move (RollbackIncomplete)', async () => {
    // Both services at once, 5 attempts each, in two passes.
    inst.failNext('ModifyRule', () => throttlingError(), 20);
    await expect(handleAlarmEvent(ctx, await fire(ctx.topology.rollbackAlarmNames.green[0]))).rejects.toMatchObject({ name: 'RollbackFailed' });
    inst.failNext('UpdateService', () => Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    await expect(handleAlarmEvent(ctx, await fire(ctx.topology.rollbackAlarmNames.green[1]))).rejects.toMatchObject({ name: 'RollbackIncomplete' });
    check('rollback', inst.calls, run);
  });
});

describe('crash detection', () => {
  let inst: Instrument;
  let ctx: RollbackContext;
  let run: Run;
  let clients: ReturnType<typeof createAllClients>;
  let executionArn: string;
  const settings = { tasks: 2, windowSeconds: 120 };
  const t0 = Date.now() - 60_000;
  beforeEach(async () => {
    const fx = await buildReleaseFixture(moto.clientConfig, { environment: ENV });
    clients = createAllClients({ ...moto.clientConfig, maxAttempts: 1 });
    ctx = { clients, topology: fx.topology, retry: noSleep, releaseStateMachineArn: fx.stateMachineArn, metricSink: () => undefined, fenceSettleMs: 0 };
    executionArn = await fx.startRelease();
    await acquireLock(ctx, executionArn);
    await putReleaseRecord(ctx as never, { executionArn, status: 'running', stable: 'blue', candidate: 'green', startedAt: new Date(t0).toISOString() });
    await shift(ctx, { target: { to: 'green', percent: 10 }, owner: executionArn, actor: 'release' });
    run = runFor(fx.topology, (r) => r.bind(stack.resolve(stack.release.stateMachine.stateMachineArn), fx.stateMachineArn));
    inst = instrumentClients(clients);
  });
  afterEach(() => {
    inst.detach();
    destroyClients(clients);
  });
  const crash = (color: 'blue' | 'green', task: string, s: number) =>
    taskStoppedEvent({ id: `evt-${task}`, task, group: `service:${Object.values(ctx.topology.services)[0].colors[color].serviceName}`, stoppedAt: new Date(t0 + s * 1000).toISOString() });

  test('the new color crashing rolls back (count, release read, traffic, stop, scale, record, notify); the stable color notifies', async () => {
    await handleTaskEvent(ctx, settings, crash('blue', 'b1', 0));
    await expect(handleTaskEvent(ctx, settings, crash('blue', 'b2', 5))).resolves.toMatchObject({ status: 'notified' });
    await handleTaskEvent(ctx, settings, crash('green', 'g1', 0));
    await expect(handleTaskEvent(ctx, settings, crash('green', 'g2', 5))).resolves.toMatchObject({ status: 'rollback', rollback: { status: 'rolled-back' } });
    // Redelivered after the rollback: the marker is read (unfinished rollback?), nothing else.
    await handleTaskEvent(ctx, settings, crash('green', 'g3', 10));
    check('crash', inst.calls, run);
  });

  test('failure path: the ledger transaction fails once traffic is safe (RollbackIncomplete), the retry records it', async () => {
    await handleTaskEvent(ctx, settings, crash('green', 'g1', 0));
    inst.failNext('TransactWriteItems', () => Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }));
    const retry = { ...ctx, invocationId: 'crash:req-1' };
    await expect(handleTaskEvent(retry, settings, crash('green', 'g2', 5))).rejects.toMatchObject({ name: 'RollbackIncomplete' });
    await expect(handleTaskEvent(retry, settings, crash('green', 'g2', 5))).resolves.toMatchObject({ status: 'rollback' });
    check('crash', inst.calls, run);
  });
});

describe('release, backup and preflight checks (the production state machine, rehearsed)', () => {
  let listener: TestListener;
  let definition: Definition;
  let env: ReleaseEnvironment;
  let inst: Instrument;
  const ids = releaseFunctionIds(synth.stage);
  beforeAll(async () => {
    listener = await startTestListener();
    definition = definitionFromTemplate(synth.stateless);
  });
  afterAll(async () => listener?.close());
  beforeEach(async () => {
    listener.failing.clear();
    // With the production policy's image scan check, so the preflight checks read scan findings too.
    env = await buildReleaseEnvironment(moto, listener, { ...REHEARSAL_POLICY, imageScan: PRODUCTION.release.imageScan }, ENV);
    inst = instrumentClients({ ...env.clients, sns: env.sns, rds: env.rds, ecr: env.ecr, acm: env.acm });
  });
  afterEach(() => {
    inst.detach();
    env.destroy();
  });

  /** Each Task's calls carry the name of the handler it ran on. */
  const handlers = () => ({
    [ids.handler]: (e: unknown) => recordAs('release', () => env.handler(e)),
    [ids.backup!]: (e: unknown) => recordAs('backup', () => env.backupHandler(e)),
    [ids.judge]: (e: unknown) => recordAs('judge', () => env.judgeHandler(e)),
    [ids.preflightChecks!]: (e: unknown) => recordAs('preflight-checks', () => env.preflightChecksHandler(e)),
  });

  /**
   * The migration task definitions of the harness stand for the backend's migration task definitions; their roles (moto runs tasks without
   * them) get stand-in ARNs bound to the synthesized roles, so RunTask's iam:PassRole is checked too.
   */
  async function releaseRun(): Promise<Run> {
    const taskDefinitions = {} as Record<string, string>;
    const roles = {} as Record<string, string[]>;
    for (const color of COLORS) {
      const td = await env.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: `rehearsal-backend-${color}-migrate` }));
      taskDefinitions[color] = td.taskDefinition!.taskDefinitionArn!;
      roles[taskDefinitions[color]] = ['task', 'execution'].map((kind) => `arn:aws:iam::${ACCOUNT}:role/${ENV}-backend-${color}-${kind}`);
    }
    return runFor(
      env.topology,
      (r) => {
        for (const color of COLORS) {
          // The release runs the backend's migration task definition (the schema owner's credentials), not the service's.
          const td = stack.services.backend.colors[color].migrationTaskDefinition!;
          r.bind(stack.resolve(td.taskDefinitionArn), taskDefinitions[color]);
          r.bind(stack.resolve(td.taskRole.roleArn), roles[taskDefinitions[color]][0]);
          r.bind(stack.resolve(td.executionRole!.roleArn), roles[taskDefinitions[color]][1]);
        }
        // The stateful stack's instance, as the stateless stack references it (a cross-stack output).
        r.bind(stack.resolve(synth.stage.stateful.database.primary.instanceIdentifier), 'rehearsal-db');
        // The load balancer's certificate (one for the production hosts), as the emulator issued it.
        r.bind(stack.resolve(stack.loadBalancer.certificates[0].certificateArn), env.certificateArn);
      },
      { rolesOf: (arn) => roles[arn] ?? [] },
    );
  }

  // Calls outside a handler (the scenario's own set-up and alarm driving) carry no handler and are not checked.
  const checkBoth = async () => {
    const run = await releaseRun();
    check('release', inst.calls.filter((c) => c.handler === 'release'), run);
    check('backup', inst.calls.filter((c) => c.handler === 'backup'), run);
    check('judge', inst.calls.filter((c) => c.handler === 'judge'), run);
    check('preflight-checks', inst.calls.filter((c) => c.handler === 'preflight-checks'), run);
  };

  test('canary release to 100% with backup, migration, checks, gates, judge, finish', async () => {
    const run = await runRehearsal(definition, { actor: 'iam' }, { handlers: handlers() });
    expect(run.status).toBe('SUCCEEDED');
    // The judge read both colors' ALB metrics at every canary step (the role's cloudwatch:GetMetricData on *).
    expect(inst.calls.filter((c) => c.handler === 'judge').map((c) => c.command)).toEqual(expect.arrayContaining(['GetMetricData', 'PutItem']));
    recorded.judge = { calls: inst.calls.filter((c) => c.handler === 'judge'), run: await releaseRun() };
    await checkBoth();
  });

  test('a judge that fails the 10% step: its verdict is notified (the judge role publishes to the encrypted topic)', async () => {
    env.judge = (series) => ({ outcome: 'fail', services: series.map((s) => ({ service: s.service, outcome: 'fail', reason: 'iam', numbers: {} })), summary: 'iam' });
    expect(await runRehearsal(definition, {}, { handlers: handlers() })).toMatchObject({ status: 'FAILED', error: 'GateFailed' });
    expect(inst.calls.filter((c) => c.handler === 'judge').map((c) => c.command)).toEqual(expect.arrayContaining(['GetMetricData', 'PutItem', 'Publish']));
    await checkBoth();
  });

  test('an alarm at the 25% bake rolls back through the safe state', async () => {
    const run = await runRehearsal(definition, {}, {
      handlers: handlers(),
      taskOverrides: {
        Shift: async (payload, handler) => {
          const out = (await handler(payload)) as { percent: number };
          if (out.percent === 25) {
            await env.clients.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: env.topology.rollbackAlarmNames.green[0], StateValue: 'ALARM', StateReason: 'iam' }));
          }
          return out;
        },
      },
    });
    expect(run).toMatchObject({ status: 'FAILED', error: 'GateFailed' });
    await checkBoth();
  });

  test('a migration that exits 1 and one that outlives its deadline (StopTask)', async () => {
    env.migrationExitCode = 1;
    expect(await runRehearsal(definition, {}, { handlers: handlers() })).toMatchObject({ status: 'FAILED', error: 'MigrationFailed' });
    env.migrationExitCode = 'running';
    const timedOut = await runRehearsal(definition, {}, {
      handlers: handlers(),
      // The deadline is in the release record: move it to the past before the check.
      taskOverrides: { CheckMigration: async (payload, handler) => handler({ ...payload, release: { ...payload.release, deadline: '2000-01-01T00:00:00.000Z' } }) },
    });
    expect(timedOut).toMatchObject({ status: 'FAILED', error: 'MigrationTimeout' });
    await checkBoth();
  });

  test('a database without a recent restorable time: the backup reads its automated snapshots', async () => {
    // moto reports a LatestRestorableTime of now; drop it so the backup looks for automated snapshots instead.
    env.rds.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'DescribeDBInstancesCommand') for (const db of (result.output as { DBInstances?: { LatestRestorableTime?: Date }[] }).DBInstances ?? []) delete db.LatestRestorableTime;
        return result;
      },
      { step: 'initialize', name: 'iamNoRestorableTime' },
    );
    const run = await runRehearsal(definition, {}, { handlers: handlers() });
    expect(run.states).toContain('Backup');
    expect(inst.calls.filter((c) => c.handler === 'backup').map((c) => c.command)).toContain('DescribeDBSnapshots');
    await checkBoth();
  });

  test('the abandoned clean-up and a release refused by the lock', async () => {
    await acquireLock(env.ctx, 'cli:someone');
    expect(await runRehearsal(definition, {}, { handlers: handlers() })).toMatchObject({ status: 'FAILED', error: 'LockHeld' });
    await recordAs('release', () => env.handler({ step: 'abandoned', executionArn: 'arn:aws:states:us-east-1:123456789012:execution:Release:gone', status: 'ABORTED' }));
    await checkBoth();
  });
});

describe('custom resources', () => {
  let clients: CustomResourceClients;
  let inst: Instrument;
  let fx: Fixture;
  beforeEach(async () => {
    fx = await buildFixture(moto.clientConfig, { environment: ENV });
    clients = createCustomResourceClients({ ...moto.clientConfig });
    inst = instrumentClients(clients);
  });
  afterEach(() => {
    inst.detach();
    destroyClients(clients);
  });
  // runFor binds the production listener from the rules' ARNs: the fixture's listener.
  const run = () => runFor(fx.topology);

  test('weighted rule create, update (priority, host), delete; image guard update; service counts create, update, delete', async () => {
    const tgs = fx.topology.services.frontend.colors;
    const props = (o: Partial<Parameters<typeof ruleProps>[0]> = {}) =>
      ruleProps({ listenerArn: fx.listenerArn, blueTg: tgs.blue.targetGroupArn, greenTg: tgs.green.targetGroupArn, priority: '30', host: 'shop.example.com', ...o });
    const RULE = 'Custom::WeightedListenerRule';
    const created = await dispatch(createEvent(RULE, props(), 'Rule'), clients);
    const ruleArn = created.physicalResourceId;
    await dispatch(updateEvent(RULE, ruleArn, props({ priority: '35', host: 'www.example.com' }), props(), 'Rule'), clients);
    await dispatch(deleteEvent(RULE, ruleArn, props(), 'Rule'), clients);

    const svc = (s: 'frontend' | 'backend') => ({
      ruleArn: fx.topology.services[s].listenerRuleArn,
      blueTg: fx.topology.services[s].colors.blue.targetGroupArn,
      greenTg: fx.topology.services[s].colors.green.targetGroupArn,
      blueVersion: fx.versions.blue,
      greenVersion: fx.versions.green,
    });
    const guard = (greenVersion: string) => guardProps(ENV, { frontend: { ...svc('frontend'), greenVersion }, backend: svc('backend') });
    await dispatch(updateEvent('Custom::LiveImageGuard', 'Guard-guard', guard('9.9.9'), guard(fx.versions.green)), clients);
    // A change of the LIVE color (blue) is judged against what its service runs: the guard lists the cluster's services
    // and reads the running task definition before it refuses.
    const liveChange = { ...guardProps(ENV, { frontend: { ...svc('frontend'), blueVersion: '9.9.9' }, backend: svc('backend') }), ClusterName: fx.topology.clusterName };
    await expect(dispatch(updateEvent('Custom::LiveImageGuard', 'Guard-guard', liveChange, { ...guard(fx.versions.green), ClusterName: fx.topology.clusterName }), clients)).rejects.toThrow(/blue/);

    const counts = (scaling?: { min: string; max: string }) =>
      countsProps({ clusterName: fx.topology.clusterName, blueService: fx.topology.services.backend.colors.blue.serviceName, greenService: fx.topology.services.backend.colors.green.serviceName, scaling });
    const COUNTS = 'Custom::ServiceCounts';
    const scaled = counts({ min: '2', max: '6' });
    await dispatch(createEvent(COUNTS, scaled, 'Counts'), clients);
    await dispatch(updateEvent(COUNTS, 'Counts-counts', scaled, scaled, 'Counts'), clients);
    await dispatch(deleteEvent(COUNTS, 'Counts-counts', scaled, 'Counts'), clients);
    // Autoscaling added to colors without a scalable target: the color's desired count decides its bounds.
    await dispatch(updateEvent(COUNTS, 'Counts-counts', scaled, counts(), 'Counts'), clients);

    const TOPOLOGY = 'Custom::TopologyDocument';
    const doc = { TableName: fx.topology.lockTableName, Document: JSON.stringify(fx.topology) };
    const written = await dispatch(createEvent(TOPOLOGY, doc, 'Topology'), clients);
    await dispatch(deleteEvent(TOPOLOGY, written.physicalResourceId, doc, 'Topology'), clients);
    expect(inst.calls.map((c) => c.command)).toEqual(expect.arrayContaining(['CreateRule', 'SetRulePriorities', 'DeleteRule', 'DeregisterScalableTarget', 'DescribeServices', 'PutItem', 'DeleteItem']));
    check('custom-resources', inst.calls, run());
  });
});

describe('database users bootstrap', () => {
  /** A PostgreSQL stand-in: no role exists yet; every statement succeeds (the SQL is tested in test/database). */
  const database = {
    connect: async () => ({
      query: async (sql: string) => (sql.startsWith('SELECT rolname') ? { rows: [] } : { rows: [] }),
      end: async () => undefined,
    }),
  };
  async function createSecret(name: string, username: string): Promise<string> {
    const res = await fetch(moto.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.CreateSecret', authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${SCOPE.region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=0` },
      body: JSON.stringify({ Name: name, SecretString: JSON.stringify({ username, password: 'pw', host: 'db.internal', port: 5433 }) }),
    });
    return ((await res.json()) as { ARN: string }).ARN;
  }

  test('creates the users: reads the master, owner and application secrets', async () => {
    const db = synth.stage.stateful.database;
    const arns = { master: await createSecret('master', 'ecommerce_admin'), owner: await createSecret('owner', 'ecommerce_owner'), app: await createSecret('app', 'ecommerce_app') };
    const client = secretsManagerClient({ ...moto.clientConfig });
    const inst = instrumentClients({ secretsmanager: client });
    try {
      const props = { DatabaseName: 'ecommerce', MasterSecretArn: arns.master, OwnerSecretArn: arns.owner, AppSecretArn: arns.app, OwnerUsername: 'ecommerce_owner', AppUsername: 'ecommerce_app' };
      await handleDatabaseUsers(createEvent('Custom::DatabaseUsers', props, 'Users'), { readSecret: secretReader({}, client), connect: database.connect, log: { info: () => undefined }, sleep: async () => undefined });
      const resolver = new CfnResolver({ template: statefulTemplate, scope: SCOPE, literals: [[PRODUCTION.account, ACCOUNT]] });
      const stateful = synth.stage.stateful;
      resolver.bind(stateful.resolve(db.masterSecret.secretArn), arns.master).bind(stateful.resolve(db.ownerSecret.secretArn), arns.owner).bind(stateful.resolve(db.appSecret.secretArn), arns.app);
      expect(new Set(inst.calls.map((c) => c.command))).toEqual(new Set(['GetSecretValue']));
      expect(new Set(inst.calls.map((c) => (c.input as { SecretId: string }).SecretId))).toEqual(new Set(Object.values(arns)));
      check('database-users', inst.calls, { resolver, facts: {} });
    } finally {
      inst.detach();
      client.destroy();
    }
  });
});

describe('the check itself', () => {
  const switchRun = () => {
    const { calls, run } = recorded.switch!;
    const statements = roleStatements(template, logicalId(FUNCTIONS.switch.role)).map((s) => run.resolver.statement(s));
    return { calls, statements };
  };
  const grantsItemWrites = (s: Statement) => [s.Action ?? []].flat().includes('dynamodb:PutItem');
  const dynamoCommands = (calls: readonly RecordedCall[]) => [...new Set(calls.filter((c) => c.client === 'dynamodb').map((c) => c.command))].sort();

  test('the switch run is allowed as synthesized (the baseline of the next two tests)', () => {
    const { calls, statements } = switchRun();
    expect(dynamoCommands(calls)).toEqual(['DeleteItem', 'GetItem', 'PutItem', 'Query']);
    expect(checkCalls('switch', calls, statements, SCOPE)).toEqual([]);
  });

  test('a missing permission fails: without the lock and ledger statement, every item call is denied, naming no statement', () => {
    const { calls, statements } = switchRun();
    const found = checkCalls('switch', calls, statements.filter((s) => !grantsItemWrites(s)), SCOPE);
    expect([...new Set(found.map((f) => f.command))].sort()).toEqual(dynamoCommands(calls));
    const put = found.find((f) => f.command === 'PutItem')!;
    expect(findingKey(put)).toBe('switch: PutItem → dynamodb:PutItem on dynamodb:table');
    expect(describeFinding(put)).toMatch(/^switch PutItem → dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table\/production-release-(lock|ledger): implicitDeny\n {4}no statement of the role has this action$/);
  });

  test('a mis-scoped permission fails: the same statement on another table denies every item call, showing the statement', () => {
    const { calls, statements } = switchRun();
    const other = 'arn:aws:dynamodb:us-east-1:123456789012:table/production-other';
    const found = checkCalls('switch', calls, statements.map((s) => (grantsItemWrites(s) ? { ...s, Resource: [other] } : s)), SCOPE);
    expect([...new Set(found.map((f) => f.command))].sort()).toEqual(dynamoCommands(calls));
    expect(found.every((f) => f.considered.length === 1 && f.considered[0].Resource?.[0] === other)).toBe(true);
    expect(describeFinding(found[0])).toContain(`considered: {"Effect":"Allow","Action":["dynamodb:BatchGetItem"`);
  });

  test('the judge role needs its GetMetricData statement: without it every GetMetricData call is denied', () => {
    const { calls, run } = recorded.judge!;
    const statements = roleStatements(template, logicalId(FUNCTIONS.judge.role)).map((s) => run.resolver.statement(s));
    expect(checkCalls('judge', calls, statements, SCOPE)).toEqual([]);
    const without = statements.filter((s) => ![s.Action ?? []].flat().includes('cloudwatch:GetMetricData'));
    const found = checkCalls('judge', calls, without, SCOPE);
    expect([...new Set(found.map(findingKey))]).toEqual(['judge: GetMetricData → cloudwatch:GetMetricData on *']);
  });

  test('every SDK command in each handler bundle is exercised above, but for KNOWN_UNEXERCISED', () => {
    const missing = Object.fromEntries(
      (Object.keys(HANDLER_ENTRY) as HandlerName[]).map((h) => [h, bundledCommands(h).filter((c) => !exercised.get(h)?.has(c)).sort()]),
    );
    expect(missing).toEqual(KNOWN_UNEXERCISED);
  });

  test('implied authorizations were evaluated: iam:PassRole of RunTask, KMS of publishing to the encrypted topic', () => {
    expect(isIntrinsic(topicKey)).toBe(true);
    expect([...evaluated.get('release')!]).toEqual(expect.arrayContaining(['ecs:RunTask', 'iam:PassRole', 'sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt']));
    for (const h of ['rollback', 'crash', 'backup', 'preflight-checks'] as const) expect([...evaluated.get(h)!]).toEqual(expect.arrayContaining(['sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt']));
    // The judge publishes only what a person must know (a fail, a hold, a policy decision): the failing-judge scenario.
    expect([...evaluated.get('judge')!]).toEqual(expect.arrayContaining(['cloudwatch:GetMetricData', 'sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt']));
  });

  // Each scenario already failed on a gap not in KNOWN_GAPS; this catches the other direction: a gap fixed in lib/
  // must leave KNOWN_GAPS, so the list stays the truth and the fix is guarded from then on.
  test('the permission gaps found are exactly KNOWN_GAPS (a fixed gap must be removed from the list)', () => {
    expect([...new Set(findings.map(findingKey))].sort()).toEqual([...KNOWN_GAPS].sort());
  });
});
