/**
 * The custom resources against a local moto server, with the real handler cores and real SDK clients:
 * a weighted rule keeps the weights traffic control set through template updates, the image guard reads
 * the real rule, and the service counts leave what traffic control scaled alone (and give colors a first
 * scalable target when autoscaling is added after creation). One moto per file,
 * reset and the fixture rebuilt before each test.
 */
import { createEvent, deleteEvent, guardProps, ruleProps, updateEvent, countsProps, type Props } from './events';
import { DeregisterScalableTargetCommand, DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateTargetGroupCommand,
  DescribeRulesCommand,
  ModifyRuleCommand,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { handleImageGuard, LiveImageChangeRefused } from '../../lambda/custom-resources/image-guard';
import { handleServiceCounts } from '../../lambda/custom-resources/service-counts';
import { handleWeightedRule } from '../../lambda/custom-resources/weighted-rule';
import type { Topology } from '../../lambda/shared/topology';
import { acquireLock, logger, scaleColor, shift, type TrafficClients, type TrafficContext } from '../../lambda/traffic';
import { type Fixture, useMotoFixture } from '../support/fixture';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

const RULE_TYPE = 'Custom::WeightedListenerRule';
const OWNER = 'test:custom-resources';
const noSleep = { sleep: async () => undefined };

let clients: TrafficClients;
let fx: Fixture;

useMotoFixture((s) => {
  ({ clients, fx } = s);
});

const tg = (service: 'frontend' | 'backend', color: 'blue' | 'green') => fx.topology.services[service].colors[color].targetGroupArn;

async function describeRule(ruleArn: string): Promise<Rule> {
  const out = await clients.elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }));
  return out.Rules![0];
}

/** Weights of the rule's forward action by target group ARN. */
async function weightsByGroup(ruleArn: string): Promise<Record<string, number>> {
  const r = await describeRule(ruleArn);
  const groups = r.Actions!.find((a) => a.Type === 'forward')!.ForwardConfig!.TargetGroups!;
  return Object.fromEntries(groups.map((g) => [g.TargetGroupArn!, g.Weight!]));
}

/** The fixture's topology with the frontend rule replaced by `ruleArn`, so the traffic core moves that rule. */
function contextFor(ruleArn: string, groups = { blue: tg('frontend', 'blue'), green: tg('frontend', 'green') }): TrafficContext {
  const frontend = fx.topology.services.frontend;
  const topology: Topology = {
    ...fx.topology,
    services: {
      ...fx.topology.services,
      frontend: {
        listenerRuleArn: ruleArn,
        colors: { blue: { ...frontend.colors.blue, targetGroupArn: groups.blue }, green: { ...frontend.colors.green, targetGroupArn: groups.green } },
      },
    },
  };
  return { clients, topology, retry: noSleep };
}

/** A canary step by traffic control: green 60 on the frontend, under the release lock like a real release. */
async function shiftFrontendToGreen60(ruleArn: string): Promise<void> {
  const ctx = contextFor(ruleArn);
  await acquireLock(ctx, OWNER);
  await shift(ctx, { target: { to: 'green', percent: 60 }, service: 'frontend', owner: OWNER, actor: 'test' });
}

describe('GIVEN Custom::WeightedListenerRule against moto', () => {
  const props = (o: Partial<Parameters<typeof ruleProps>[0]> = {}): Props =>
    ruleProps({ listenerArn: fx.listenerArn, blueTg: tg('frontend', 'blue'), greenTg: tg('frontend', 'green'), priority: '20', host: 'shop.dev.example.com', ...o });

  async function createRule(): Promise<string> {
    const result = await handleWeightedRule(createEvent(RULE_TYPE, props(), 'FrontendRule'), clients.elbv2);
    return result.physicalResourceId;
  }

  test('WHEN created THEN the listener has the rule at priority 20 with blue 100 / green 0 and the host condition', async () => {
    const ruleArn = await createRule();

    const r = await describeRule(ruleArn);
    expect(r.Priority).toBe('20');
    expect(r.Conditions?.[0]).toMatchObject({ Field: 'host-header' });
    expect(JSON.stringify(r.Conditions)).toContain('shop.dev.example.com');
    expect(await weightsByGroup(ruleArn)).toEqual({ [tg('frontend', 'blue')]: 100, [tg('frontend', 'green')]: 0 });
  });

  test('WHEN an earlier attempt made the rule but its answer was lost THEN the retry adopts it instead of failing on the priority', async () => {
    const first = await createRule();
    // The same Create again (a Lambda retried after a timed-out CreateRule that did succeed): PriorityInUse on AWS.
    const again = await handleWeightedRule(createEvent(RULE_TYPE, props(), 'FrontendRule', 'req-create-2'), clients.elbv2);
    expect(again.physicalResourceId).toBe(first);
    const rules = (await clients.elbv2.send(new DescribeRulesCommand({ ListenerArn: fx.listenerArn }))).Rules!.filter((r) => r.Priority === '20');
    expect(rules).toHaveLength(1);
  });

  test('fails WHEN another rule holds the priority THEN the deploy fails with PriorityInUse rather than adopting it', async () => {
    await createRule();
    const other = props({ blueTg: tg('backend', 'blue'), greenTg: tg('backend', 'green') });
    await expect(handleWeightedRule(createEvent(RULE_TYPE, other, 'BackendRule'), clients.elbv2)).rejects.toMatchObject({ name: 'PriorityInUseException' });
  });

  test('WHEN traffic control shifted green to 60 and an update changes priority and conditions THEN green 60 stays', async () => {
    const ruleArn = await createRule();
    await shiftFrontendToGreen60(ruleArn);
    expect(await weightsByGroup(ruleArn)).toEqual({ [tg('frontend', 'blue')]: 40, [tg('frontend', 'green')]: 60 });

    const result = await handleWeightedRule(
      updateEvent(RULE_TYPE, ruleArn, props({ priority: '25', host: 'www.dev.example.com' }), props(), 'FrontendRule'),
      clients.elbv2,
    );

    expect(result.physicalResourceId).toBe(ruleArn);
    const r = await describeRule(ruleArn);
    expect(r.Priority).toBe('25');
    expect(JSON.stringify(r.Conditions)).toContain('www.dev.example.com');
    expect(JSON.stringify(r.Conditions)).not.toContain('shop.dev.example.com');
    expect(await weightsByGroup(ruleArn)).toEqual({ [tg('frontend', 'blue')]: 40, [tg('frontend', 'green')]: 60 });
  });

  test('WHEN green\'s target group is replaced after green 60 THEN the new group carries 60 and blue keeps 40', async () => {
    const ruleArn = await createRule();
    await shiftFrontendToGreen60(ruleArn);
    const created = await clients.elbv2.send(
      new CreateTargetGroupCommand({ Name: 'dev-frontend-green-2', Protocol: 'HTTP', Port: 8080, VpcId: fx.vpcId, TargetType: 'ip' }),
    );
    const green2 = created.TargetGroups![0].TargetGroupArn!;

    await handleWeightedRule(updateEvent(RULE_TYPE, ruleArn, props({ greenTg: green2 }), props(), 'FrontendRule'), clients.elbv2);

    expect(await weightsByGroup(ruleArn)).toEqual({ [tg('frontend', 'blue')]: 40, [green2]: 60 });
    // The traffic core reads the rule through the new group as green 60.
    const ctx = contextFor(ruleArn, { blue: tg('frontend', 'blue'), green: green2 });
    await expect(shift(ctx, { target: { to: 'green', percent: 60 }, service: 'frontend', owner: OWNER, actor: 'test', rollback: true })).resolves.toMatchObject({
      changed: false,
    });
  });

  test('WHEN the rule moves to a new listener THEN the new rule has green 60 and deleting the old one leaves it alone', async () => {
    const ruleArn = await createRule();
    await shiftFrontendToGreen60(ruleArn);
    const listener2 = await clients.elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: fx.loadBalancerArn,
        Protocol: 'HTTP',
        Port: 8081,
        DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }],
      }),
    );
    const listenerArn2 = listener2.Listeners![0].ListenerArn!;

    const result = await handleWeightedRule(updateEvent(RULE_TYPE, ruleArn, props({ listenerArn: listenerArn2 }), props(), 'FrontendRule'), clients.elbv2);
    const newRuleArn = result.physicalResourceId;

    expect(newRuleArn).not.toBe(ruleArn);
    expect(await weightsByGroup(newRuleArn)).toEqual({ [tg('frontend', 'blue')]: 40, [tg('frontend', 'green')]: 60 });
    // CloudFormation then deletes the old physical resource.
    await handleWeightedRule(deleteEvent(RULE_TYPE, ruleArn, props()), clients.elbv2);
    await expect(describeRule(ruleArn)).rejects.toMatchObject({ name: 'RuleNotFoundException' });
    expect(await weightsByGroup(newRuleArn)).toEqual({ [tg('frontend', 'blue')]: 40, [tg('frontend', 'green')]: 60 });
  });

  test('WHEN deleted twice THEN the rule is gone and the second delete (RuleNotFoundException) succeeds', async () => {
    const ruleArn = await createRule();

    await handleWeightedRule(deleteEvent(RULE_TYPE, ruleArn, props()), clients.elbv2);
    await expect(handleWeightedRule(deleteEvent(RULE_TYPE, ruleArn, props()), clients.elbv2)).resolves.toEqual({ physicalResourceId: ruleArn });

    await expect(describeRule(ruleArn)).rejects.toMatchObject({ name: 'RuleNotFoundException' });
  });
});

describe('GIVEN Custom::LiveImageGuard against the fixture\'s real rules', () => {
  const props = (frontend: { blue: string; green: string }, backend = { blue: '1.0.0', green: '1.1.0' }): Props => ({
    ...guardProps('dev', {
      frontend: { ruleArn: fx.topology.services.frontend.listenerRuleArn, blueTg: tg('frontend', 'blue'), greenTg: tg('frontend', 'green'), blueVersion: frontend.blue, greenVersion: frontend.green },
      backend: { ruleArn: fx.topology.services.backend.listenerRuleArn, blueTg: tg('backend', 'blue'), greenTg: tg('backend', 'green'), blueVersion: backend.blue, greenVersion: backend.green },
    }),
    ClusterName: fx.topology.clusterName,
  });
  // What the fixture's task definitions run (fx.versions), as in the last successful deploy.
  const deployed = { blue: '1.0.0', green: '1.1.0' };
  const guard = (next: Props, old: Props = props(deployed)) => handleImageGuard(updateEvent('Custom::LiveImageGuard', 'Guard-guard', next, old), clients);

  test('WHEN a refused update of the live blue is rolled back by CloudFormation THEN the rollback update (back to what blue runs) passes', async () => {
    expect(fx.versions).toEqual(deployed);
    const refused = props({ blue: '1.2.0', green: '1.1.0' });
    await expect(guard(refused)).rejects.toBeInstanceOf(LiveImageChangeRefused);

    // The rollback: the old properties as the new ones, the refused ones as OldResourceProperties.
    await expect(guard(props(deployed), refused)).resolves.toEqual({ physicalResourceId: 'Guard-guard' });
    // Any other version for blue is still refused, naming what blue runs.
    await expect(guard(props({ blue: '1.3.0', green: '1.1.0' }), refused)).rejects.toThrow(/frontend blue carries traffic \(weight 100 of 100\): its version may not change from 1\.0\.0 to 1\.3\.0/);
  });

  test('WHEN blue holds all weight and the idle green version changes THEN the update passes', async () => {
    await expect(guard(props({ blue: '1.0.0', green: '1.2.0' }))).resolves.toEqual({ physicalResourceId: 'Guard-guard' });
  });

  test('WHEN blue holds all weight and the blue version changes THEN the update fails with LiveImageChangeRefused naming the config field', async () => {
    const e = await guard(props({ blue: '1.2.0', green: '1.1.0' })).catch((err: unknown) => err);

    expect(e).toBeInstanceOf(LiveImageChangeRefused);
    expect((e as Error).message).toContain('frontend blue carries traffic (weight 100 of 100)');
    expect((e as Error).message).toContain('config/dev.ts services.frontend.colors.green.version');
  });

  test('WHEN traffic control moved the backend to green 100 THEN changing backend green fails and changing backend blue passes', async () => {
    const backendRule = fx.topology.services.backend.listenerRuleArn;
    await clients.elbv2.send(
      new ModifyRuleCommand({
        RuleArn: backendRule,
        Actions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: tg('backend', 'blue'), Weight: 0 },
                { TargetGroupArn: tg('backend', 'green'), Weight: 100 },
              ],
            },
          },
        ],
      }),
    );

    await expect(guard(props(deployed, { blue: '1.0.0', green: '1.2.0' }))).rejects.toThrow(/backend green carries traffic \(weight 100 of 100\).*services\.backend\.colors\.blue\.version/);
    await expect(guard(props(deployed, { blue: '1.2.0', green: '1.1.0' }))).resolves.toEqual({ physicalResourceId: 'Guard-guard' });
  });

  test('WHEN a frontend canary is at green 60 THEN a change of either frontend color fails', async () => {
    await shiftFrontendToGreen60(fx.topology.services.frontend.listenerRuleArn);

    await expect(guard(props({ blue: '1.0.0', green: '1.2.0' }))).rejects.toThrow(/frontend green carries traffic \(weight 60 of 100\)/);
    await expect(guard(props({ blue: '1.0.1', green: '1.1.0' }))).rejects.toThrow(/frontend blue carries traffic \(weight 40 of 100\)/);
  });
});

describe('GIVEN Custom::ServiceCounts against moto', () => {
  const COUNTS = 'Custom::ServiceCounts';
  const props = (scaling: { min: string; max: string } | null = { min: '2', max: '6' }, desiredCount = '3') =>
    countsProps({
      clusterName: fx.topology.clusterName,
      blueService: fx.topology.services.frontend.colors.blue.serviceName,
      greenService: fx.topology.services.frontend.colors.green.serviceName,
      desiredCount,
      scaling: scaling ?? undefined,
    });

  async function desiredCounts(): Promise<{ blue: number; green: number }> {
    const names = [fx.topology.services.frontend.colors.blue.serviceName, fx.topology.services.frontend.colors.green.serviceName];
    const out = await clients.ecs.send(new DescribeServicesCommand({ cluster: fx.topology.clusterName, services: names }));
    const of = (name: string) => out.services!.find((s) => s.serviceName === name)!.desiredCount!;
    return { blue: of(names[0]), green: of(names[1]) };
  }

  async function bounds(): Promise<Record<'blue' | 'green', [number, number] | undefined>> {
    const id = (c: 'blue' | 'green') => `service/${fx.topology.clusterName}/${fx.topology.services.frontend.colors[c].serviceName}`;
    const out = await clients.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [id('blue'), id('green')] }));
    const of = (c: 'blue' | 'green') => {
      const t = out.ScalableTargets!.find((x) => x.ResourceId === id(c));
      return t && ([t.MinCapacity!, t.MaxCapacity!] as [number, number]);
    };
    return { blue: of('blue'), green: of('green') };
  }

  test('WHEN created THEN blue runs 3 tasks within 2/6 and green 0 tasks at 0/0', async () => {
    await handleServiceCounts(createEvent(COUNTS, props(), 'Counts'), clients);

    expect(await desiredCounts()).toEqual({ blue: 3, green: 0 });
    expect(await bounds()).toEqual({ blue: [2, 6], green: [0, 0] });
  });

  test('WHEN traffic control scaled blue to 5 and green up then back to 0/0 THEN an update with new bounds keeps green 0/0 and every desired count', async () => {
    await handleServiceCounts(createEvent(COUNTS, props(), 'Counts'), clients);
    const ctx: TrafficContext = { clients, topology: fx.topology, retry: noSleep };
    await scaleColor(ctx, { color: 'blue', desiredCount: 5, actor: 'test' });
    await scaleColor(ctx, { color: 'green', desiredCount: 2, actor: 'test' });
    await scaleColor(ctx, { color: 'green', desiredCount: 0, actor: 'test' });
    expect(await bounds()).toEqual({ blue: [2, 6], green: [0, 0] });

    await handleServiceCounts(updateEvent(COUNTS, 'Counts-counts', props({ min: '3', max: '9' }), props(), 'Counts'), clients);

    expect(await bounds()).toEqual({ blue: [3, 9], green: [0, 0] });
    expect(await desiredCounts()).toEqual({ blue: 5, green: 0 });
  });

  describe('AND the environment was created without autoscaling', () => {
    const targetId = (c: 'blue' | 'green') => `service/${fx.topology.clusterName}/${fx.topology.services.frontend.colors[c].serviceName}`;
    /** The fixture with the frontend as an environment without autoscaling has it: no scalable targets, no bounds in the topology. */
    async function createWithoutAutoscaling(): Promise<TrafficContext> {
      for (const c of ['blue', 'green'] as const) {
        await clients.autoscaling.send(new DeregisterScalableTargetCommand({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: targetId(c) }));
      }
      await handleServiceCounts(createEvent(COUNTS, props(null), 'Counts'), clients);
      const frontend = fx.topology.services.frontend;
      const unscaled = (c: 'blue' | 'green') => ({ targetGroupArn: frontend.colors[c].targetGroupArn, serviceName: frontend.colors[c].serviceName });
      const topology: Topology = { ...fx.topology, services: { ...fx.topology.services, frontend: { ...frontend, colors: { blue: unscaled('blue'), green: unscaled('green') } } } };
      return { clients, topology, retry: noSleep };
    }

    test('WHEN an update switches autoscaling on THEN blue (3 tasks) is registered at the config bounds, green (0 tasks) at 0/0, counts untouched', async () => {
      await createWithoutAutoscaling();
      expect(await bounds()).toEqual({ blue: undefined, green: undefined });
      expect(await desiredCounts()).toEqual({ blue: 3, green: 0 });

      await handleServiceCounts(updateEvent(COUNTS, 'Counts-counts', props({ min: '3', max: '9' }), props(null), 'Counts'), clients);

      expect(await bounds()).toEqual({ blue: [3, 9], green: [0, 0] });
      expect(await desiredCounts()).toEqual({ blue: 3, green: 0 });
    });

    test('WHEN traffic control scaled green up mid-release before the update THEN both colors get the config bounds and keep their counts', async () => {
      const ctx = await createWithoutAutoscaling();
      await scaleColor(ctx, { color: 'green', desiredCount: 2, actor: 'test' });
      expect(await bounds()).toEqual({ blue: undefined, green: undefined });

      await handleServiceCounts(updateEvent(COUNTS, 'Counts-counts', props({ min: '3', max: '9' }), props(null), 'Counts'), clients);

      expect(await bounds()).toEqual({ blue: [3, 9], green: [3, 9] });
      expect(await desiredCounts()).toEqual({ blue: 3, green: 2 });
    });
  });

  // A second Delete is covered by the unit tests only: AWS answers a missing target with
  // ObjectNotFoundException (tolerated), moto 5.2.5 with ValidationException.
  test('WHEN deleted THEN both scalable targets are deregistered and the desired counts are left to the service deletion', async () => {
    await handleServiceCounts(createEvent(COUNTS, props(), 'Counts'), clients);

    await expect(handleServiceCounts(deleteEvent(COUNTS, 'Counts-counts', props()), clients)).resolves.toEqual({ physicalResourceId: 'Counts-counts' });

    expect(await bounds()).toEqual({ blue: undefined, green: undefined });
    expect(await desiredCounts()).toEqual({ blue: 3, green: 0 });
  });
});
