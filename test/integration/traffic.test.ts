/**
 * The traffic core against a local moto server: real API shapes for ELBv2 rules, target health, ECS, DynamoDB
 * conditional writes, CloudWatch alarm states and Application Auto Scaling. One moto per file, state reset and the
 * fixture rebuilt before each test.
 */
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import {
  DeregisterTargetsCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { SERVICES } from '../support/services';
import {
  acquireLock,
  promote,
  GuardRefused,
  LockHeld,
  logger,
  readLedger,
  readLock,
  readRules,
  readState,
  releaseLock,
  restoreColor,
  rollback,
  scaleColor,
  shift,
  ShiftFailed,
  TrafficClients,
  TrafficContext,
} from '../../lambda/traffic';
import { Fixture, useMotoFixture } from '../support/fixture';
import { MotoServer } from '../support/moto';

jest.setTimeout(60000);
// moto's server is threaded and its DynamoDB checks a condition and writes without a lock, so two truly
// concurrent conditional writes (the "at once" tests) can both pass there under load; DynamoDB itself
// never lets them. One retry, with the first failure logged, keeps such a flake from failing CI.
jest.retryTimes(1, { logErrorsBeforeRetry: true });
logger.setLogLevel('SILENT');

let moto: MotoServer;
let clients: TrafficClients;
let fx: Fixture;
let ctx: TrafficContext;
const noSleep = { sleep: async () => undefined };
const OWNER = 'test:owner-a';

useMotoFixture((s) => {
  ({ moto, clients, fx } = s);
  ctx = { clients, topology: fx.topology, retry: noSleep };
});

async function ruleWeights() {
  const r = await readRules(ctx);
  return { frontend: r.frontend.weights, backend: r.backend.weights };
}

const ALL_BLUE = { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } };

describe('GIVEN a fresh blue/green environment in moto', () => {
  test('WHEN reading state THEN weights, health, counts, versions, live color, alarms and lock are reported', async () => {
    const state = await readState(ctx);
    expect(state.environment).toBe('dev');
    expect(state.liveColor).toBe('blue');
    expect(state.idleColor).toBe('green');
    expect(state.lock).toBeUndefined();
    for (const s of SERVICES) {
      expect(state.services[s].weights).toEqual({ blue: 100, green: 0 });
      expect(state.services[s].colors.blue.percent).toBe(100);
      expect(state.services[s].colors.green.version).toBe('1.1.0');
      expect(state.services[s].colors.blue.version).toBe('1.0.0');
      expect(state.services[s].colors.blue.desiredCount).toBe(2);
      // moto omits Target.AvailabilityZone: every target lands in the 'unknown' AZ.
      expect(state.services[s].colors.green.targets).toEqual({ byAz: { unknown: { healthy: 2, unhealthy: 0 } }, healthy: 2, registered: 2 });
    }
    expect(state.alarms).toHaveLength(4);
    expect(state.alarms.every((a) => a.state === 'OK')).toBe(true);
  });

  test('WHEN the lock holder shifts green to 10% THEN both rules read back 90/10 and stickiness is kept', async () => {
    await acquireLock(ctx, OWNER);
    const result = await shift(ctx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test', reason: 'canary' });
    expect(result.changed).toBe(true);
    expect(await ruleWeights()).toEqual({ frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } });
    const rules = await clients.elbv2.send(new DescribeRulesCommand({ RuleArns: [fx.topology.services.frontend.listenerRuleArn] }));
    expect(rules.Rules![0].Actions![0].ForwardConfig!.TargetGroupStickinessConfig).toEqual({ Enabled: true, DurationSeconds: 300 });
    const ledger = await readLedger(ctx);
    expect(ledger[0]).toMatchObject({
      action: 'shift',
      actor: 'test',
      reason: 'canary',
      weightsBefore: ALL_BLUE,
      weightsAfter: { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } },
    });
    expect(ledger[0].sk).toMatch(/^\d{4}-\d\d-\d\dT.*Z#[0-9a-f]+$/);
  });

  test('WHEN the same shift runs twice THEN the second is a verified no-op success', async () => {
    await acquireLock(ctx, OWNER);
    await shift(ctx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test' });
    const second = await shift(ctx, { target: { weights: { blue: 90, green: 10 } }, owner: OWNER, actor: 'test' });
    expect(second.changed).toBe(false);
    expect(await ruleWeights()).toEqual({ frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } });
  });

  test('WHEN only the frontend is named THEN the backend keeps its weights', async () => {
    await acquireLock(ctx, OWNER);
    await shift(ctx, { target: { to: 'green', percent: 50 }, service: 'frontend', owner: OWNER, actor: 'test' });
    expect(await ruleWeights()).toEqual({ frontend: { blue: 50, green: 50 }, backend: { blue: 100, green: 0 } });
    expect((await readState(ctx)).liveColor).toBe('blue'); // 50/50 tie: blue stays live
  });

  describe('guards', () => {
    test.each([
      ['1000 (above 999)', { blue: 0, green: 1000 }],
      ['all zero', { blue: 0, green: 0 }],
      ['non-integer', { blue: 90, green: 10.5 }],
      ['negative', { blue: -1, green: 10 }],
    ])('fails WHEN weights are %s THEN the weights guard refuses and nothing changes', async (_label, weights) => {
      await acquireLock(ctx, OWNER);
      const err = await shift(ctx, { target: { weights }, owner: OWNER, actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.guard).toBe('weights');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
      const [entry] = await readLedger(ctx);
      expect(entry).toMatchObject({ action: 'refused', weightsBefore: ALL_BLUE, weightsAfter: ALL_BLUE });
      expect(entry.reason).toContain('weights guard');
    });

    test('fails WHEN a rollback alarm is in ALARM THEN the alarm guard names it and nothing changes', async () => {
      await acquireLock(ctx, OWNER);
      const alarm = fx.topology.rollbackAlarmNames.green[1];
      await clients.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'test' }));
      const err = await shift(ctx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.guard).toBe('alarm');
      expect(err.message).toContain(alarm);
      expect(await ruleWeights()).toEqual(ALL_BLUE);
      expect((await readLedger(ctx))[0].action).toBe('refused');
    });

    test('fails WHEN nobody holds the lock THEN the lock guard refuses', async () => {
      const err = await shift(ctx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.guard).toBe('lock');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
    });

    test('fails WHEN another owner holds the lock THEN the lock guard names the holder', async () => {
      await acquireLock(ctx, 'someone-else');
      const err = await shift(ctx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.guard).toBe('lock');
      expect(err.reason).toContain('someone-else');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
    });

    test('fails WHEN green has no registered targets THEN the health guard refuses, also for a rollback to green', async () => {
      await acquireLock(ctx, OWNER);
      for (const s of SERVICES) {
        await clients.elbv2.send(
          new DeregisterTargetsCommand({
            TargetGroupArn: fx.topology.services[s].colors.green.targetGroupArn,
            Targets: fx.targets[s].green.map((t) => ({ Id: t.id, Port: t.port })),
          }),
        );
      }
      const err = await shift(ctx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.guard).toBe('health');
      expect(err.reason).toContain('green');
      const rb = await shift(ctx, { target: { to: 'green', percent: 100 }, actor: 'test', rollback: true }).catch((e) => e);
      expect(rb).toBeInstanceOf(GuardRefused);
      expect(rb.guard).toBe('health');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
    });
  });

  describe('lock', () => {
    test('WHEN two owners acquire at once THEN exactly one gets it and the other gets LockHeld naming the holder', async () => {
      const results = await Promise.allSettled([acquireLock(ctx, 'owner-a'), acquireLock(ctx, 'owner-b')]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].reason).toBeInstanceOf(LockHeld);
      expect(lost[0].reason.holder).toBe((await readLock(ctx))!.owner);
    });

    test('WHEN two owners shift at once after only one acquired THEN exactly one proceeds', async () => {
      await acquireLock(ctx, 'owner-a');
      const results = await Promise.allSettled([
        shift(ctx, { target: { to: 'green', percent: 10 }, owner: 'owner-a', actor: 'a' }),
        shift(ctx, { target: { to: 'green', percent: 20 }, owner: 'owner-b', actor: 'b' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
      expect((results[1] as PromiseRejectedResult).reason.guard).toBe('lock');
      expect(await ruleWeights()).toEqual({ frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } });
    });

    test('WHEN the lease expired THEN another owner acquires it; the same owner renews; release is owner-only', async () => {
      const t0 = new Date('2030-01-01T00:00:00Z');
      await acquireLock({ ...ctx, now: () => t0 }, 'owner-a', { ttlSeconds: 60 });
      await expect(acquireLock({ ...ctx, now: () => new Date(t0.getTime() + 30_000) }, 'owner-b')).rejects.toBeInstanceOf(LockHeld);
      await acquireLock({ ...ctx, now: () => new Date(t0.getTime() + 30_000) }, 'owner-a', { ttlSeconds: 60 }); // renew
      const later = { ...ctx, now: () => new Date(t0.getTime() + 91_000) };
      await acquireLock(later, 'owner-b');
      expect((await readLock(later))!.owner).toBe('owner-b');
      await expect(releaseLock(later, 'owner-a')).rejects.toBeInstanceOf(LockHeld);
      await releaseLock(later, 'owner-b');
      expect(await readLock(later)).toBeUndefined();
    });
  });

  describe('rollback', () => {
    test('WHEN another caller holds the lock and an alarm fires THEN rollback still moves all traffic to blue and scales green to 0', async () => {
      await acquireLock(ctx, 'release-pipeline');
      await shift(ctx, { target: { to: 'green', percent: 10 }, owner: 'release-pipeline', actor: 'pipeline' });
      await clients.cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: fx.topology.rollbackAlarmNames.green[0], StateValue: 'ALARM', StateReason: 'test' }),
      );
      const result = await rollback(ctx, { actor: 'alarm', reason: 'green 5xx' });
      expect(result.to).toBe('blue');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
      const svcs = await clients.ecs.send(
        new DescribeServicesCommand({ cluster: fx.topology.clusterName, services: SERVICES.map((s) => fx.topology.services[s].colors.green.serviceName) }),
      );
      expect(svcs.services!.map((s) => s.desiredCount)).toEqual([0, 0]);
      expect((await readLock(ctx))!.owner).toBe('release-pipeline'); // untouched
      const actions = (await readLedger(ctx)).map((e) => e.action);
      expect(actions.slice(0, 2)).toEqual(['scale', 'rollback']);
    });

    test('GIVEN a canary past 50 % (green 75) WHEN rolled back without a color THEN traffic returns to blue, the color the ledger shows carried everything before', async () => {
      await acquireLock(ctx, OWNER);
      for (const percent of [10, 50, 75]) await shift(ctx, { target: { to: 'green', percent }, owner: OWNER, actor: 'pipeline' });
      const result = await rollback(ctx, { actor: 'operator', reason: 'abort the canary' });
      expect(result.to).toBe('blue');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
    });

    test('GIVEN a canary past 50 % (green 75) WHEN promoted THEN all traffic goes to green, the new color', async () => {
      await acquireLock(ctx, OWNER);
      for (const percent of [10, 75]) await shift(ctx, { target: { to: 'green', percent }, owner: OWNER, actor: 'pipeline' });
      const result = await promote(ctx, { owner: OWNER, actor: 'operator' });
      expect(result.to).toBe('green');
      expect(await ruleWeights()).toEqual({ frontend: { blue: 0, green: 100 }, backend: { blue: 0, green: 100 } });
    });

    test('fails WHEN all traffic is already on the live color and no color is named THEN nothing to roll back', async () => {
      const err = await rollback(ctx, { actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.reason).toContain('nothing to roll back');
      expect(await ruleWeights()).toEqual(ALL_BLUE);
    });
  });

  test('WHEN the backend rule write fails after retries THEN the frontend is restored and the error says so', async () => {
    await acquireLock(ctx, OWNER);
    const backendArn = fx.topology.services.backend.listenerRuleArn;
    const failing = new ElasticLoadBalancingV2Client(moto.clientConfig);
    let backendAttempts = 0;
    const send = failing.send.bind(failing) as (c: unknown) => Promise<unknown>;
    (failing as unknown as { send: (c: unknown) => Promise<unknown> }).send = async (command: unknown) => {
      if (command instanceof ModifyRuleCommand && command.input.RuleArn === backendArn) {
        backendAttempts++;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      }
      return send(command);
    };
    const failCtx = { ...ctx, clients: { ...clients, elbv2: failing } };
    const err = await shift(failCtx, { target: { to: 'green', percent: 10 }, owner: OWNER, actor: 'test' }).catch((e) => e);
    failing.destroy();
    expect(err).toBeInstanceOf(ShiftFailed);
    expect(err.failedService).toBe('backend');
    expect(err.restored).toBe(true);
    expect(err.message).toContain('frontend restored to blue 100 / green 0');
    expect(backendAttempts).toBe(5);
    expect(await ruleWeights()).toEqual(ALL_BLUE);
    expect((await readLedger(ctx))[0]).toMatchObject({ action: 'shift-failed', weightsAfter: ALL_BLUE });
  });

  describe('scale', () => {
    test('WHEN green is scaled to 0 THEN desired counts are 0 and its scalable targets are pinned to min=max=0', async () => {
      const r = await scaleColor(ctx, { color: 'green', desiredCount: 0, actor: 'test' });
      expect(r.after).toEqual({ frontend: 0, backend: 0 });
      const targets = await clients.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }));
      const green = targets.ScalableTargets!.filter((t) => t.ResourceId!.endsWith('-green'));
      expect(green.map((t) => [t.MinCapacity, t.MaxCapacity])).toEqual([
        [0, 0],
        [0, 0],
      ]);
      expect((await readLedger(ctx))[0]).toMatchObject({ action: 'scale', detail: { color: 'green', after: { frontend: 0, backend: 0 } } });
    });

    test('WHEN green is restored THEN it gets the live color’s desired counts and the topology bounds back', async () => {
      await scaleColor(ctx, { color: 'green', desiredCount: 0, actor: 'test' });
      await scaleColor(ctx, { color: 'blue', desiredCount: 3, actor: 'test' });
      const r = await restoreColor(ctx, { color: 'green', actor: 'test' });
      expect(r.after).toEqual({ frontend: 3, backend: 3 });
      expect(r.scalableTargets.frontend).toEqual({ minCapacity: 2, maxCapacity: 6 });
      const state = await readState(ctx);
      expect(state.services.backend.colors.green.desiredCount).toBe(3);
    });

    test('fails WHEN scaling the live color to 0 THEN the traffic guard refuses and counts are unchanged', async () => {
      const err = await scaleColor(ctx, { color: 'blue', desiredCount: 0, actor: 'test' }).catch((e) => e);
      expect(err).toBeInstanceOf(GuardRefused);
      expect(err.guard).toBe('traffic');
      expect((await readState(ctx)).services.frontend.colors.blue.desiredCount).toBe(2);
    });
  });
});
