/** Custom::LiveImageGuard with a mocked ELBv2 client: a color carrying traffic keeps its image version. */
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, ListServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client, type Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { handleImageGuard, LiveImageChangeRefused, runningVersions } from '../../lambda/custom-resources/image-guard';
import { logger } from '../../lambda/traffic/logger';
import { createEvent, deleteEvent, guardProps, type GuardedServiceProps, type Props, updateEvent } from './events';

logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const TYPE = 'Custom::LiveImageGuard';
const arn = (kind: string, name: string) => `arn:aws:elasticloadbalancing:us-east-1:1:${kind}/${name}`;
const SERVICES: Record<'frontend' | 'backend', GuardedServiceProps> = {
  frontend: { ruleArn: arn('listener-rule', 'fe'), blueTg: arn('targetgroup', 'fe-blue'), greenTg: arn('targetgroup', 'fe-green'), blueVersion: '1.0.0', greenVersion: '1.1.0' },
  backend: { ruleArn: arn('listener-rule', 'be'), blueTg: arn('targetgroup', 'be-blue'), greenTg: arn('targetgroup', 'be-green'), blueVersion: '2.0.0', greenVersion: '2.1.0' },
};
const PHYSICAL_ID = 'LiveImageGuard-guard';
const CLUSTER = 'staging-cluster';

type Versions = Partial<Record<'frontend' | 'backend', Partial<Pick<GuardedServiceProps, 'blueVersion' | 'greenVersion'>>>>;
const props = (v: Versions = {}, environment = 'staging'): Props => ({
  ...guardProps(environment, {
    frontend: { ...SERVICES.frontend, ...v.frontend },
    backend: { ...SERVICES.backend, ...v.backend },
  }),
  ClusterName: CLUSTER,
});

function rule(service: 'frontend' | 'backend', blue: number, green: number): Rule {
  const s = SERVICES[service];
  return {
    RuleArn: s.ruleArn,
    Actions: [
      {
        Type: 'forward',
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: s.blueTg, Weight: blue },
            { TargetGroupArn: s.greenTg, Weight: green },
          ],
        },
      },
    ],
  };
}

const elbv2Mock = mockClient(ElasticLoadBalancingV2Client);
const ecsMock = mockClient(ECSClient);
const elbv2 = new ElasticLoadBalancingV2Client({ region: 'us-east-1' });
const clients = { elbv2, ecs: new ECSClient({ region: 'us-east-1' }) };

/**
 * The cluster's four ECS services, each registered in its color's target group with container `app`, running the
 * image versions given (by default the ones in SERVICES, i.e. what was deployed last).
 */
function running(v: Versions = {}) {
  const names = (['frontend', 'backend'] as const).flatMap((s) => (['blue', 'green'] as const).map((c) => ({ s, c })));
  const serviceArn = (s: string, c: string) => `arn:aws:ecs:us-east-1:1:service/${CLUSTER}/${s}-${c}`;
  const taskDef = (s: string, c: string) => `arn:aws:ecs:us-east-1:1:task-definition/${s}-${c}:7`;
  ecsMock.on(ListServicesCommand).resolves({ serviceArns: names.map(({ s, c }) => serviceArn(s, c)) });
  ecsMock.on(DescribeServicesCommand).resolves({
    services: names.map(({ s, c }) => ({
      serviceArn: serviceArn(s, c),
      serviceName: `${s}-${c}`,
      status: 'ACTIVE',
      taskDefinition: taskDef(s, c),
      loadBalancers: [{ targetGroupArn: c === 'blue' ? SERVICES[s].blueTg : SERVICES[s].greenTg, containerName: 'app', containerPort: 8080 }],
    })),
  });
  for (const { s, c } of names) {
    const version = (c === 'blue' ? v[s]?.blueVersion : v[s]?.greenVersion) ?? (c === 'blue' ? SERVICES[s].blueVersion : SERVICES[s].greenVersion);
    ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: taskDef(s, c) }).resolves({
      taskDefinition: {
        containerDefinitions: [
          { name: 'otel', image: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1' },
          { name: 'app', image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${s}:${version}` },
        ],
      },
    });
  }
}

function liveWeights(frontend: [number, number], backend: [number, number] = [100, 0]) {
  elbv2Mock.on(DescribeRulesCommand, { RuleArns: [SERVICES.frontend.ruleArn] }).resolves({ Rules: [rule('frontend', ...frontend)] });
  elbv2Mock.on(DescribeRulesCommand, { RuleArns: [SERVICES.backend.ruleArn] }).resolves({ Rules: [rule('backend', ...backend)] });
}

async function refusal(promise: Promise<unknown>): Promise<LiveImageChangeRefused> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(LiveImageChangeRefused);
    return e as LiveImageChangeRefused;
  }
  throw new Error('expected LiveImageChangeRefused, the update was allowed');
}

beforeEach(() => {
  elbv2Mock.reset();
  ecsMock.reset();
  running();
});
afterAll(() => {
  elbv2Mock.restore();
  ecsMock.restore();
});

describe('GIVEN Create and Delete requests', () => {
  test('WHEN created THEN nothing is read or checked and the physical ID is <LogicalId>-guard', async () => {
    await expect(handleImageGuard(createEvent(TYPE, props(), 'LiveImageGuard'), clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN deleted THEN nothing is read and the physical ID is kept', async () => {
    await expect(handleImageGuard(deleteEvent(TYPE, PHYSICAL_ID, props()), clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.calls()).toHaveLength(0);
  });
});

describe('GIVEN blue carries all traffic (blue 100 / green 0)', () => {
  beforeEach(() => liveWeights([100, 0], [100, 0]));

  test('WHEN no version changes THEN the update passes without reading any rule', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props(), props()), clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN the idle green version changes THEN the update passes after reading that service\'s rule', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { greenVersion: '1.2.0' } }), props());

    await expect(handleImageGuard(event, clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.commandCalls(DescribeRulesCommand).map((c) => c.args[0].input)).toEqual([{ RuleArns: [SERVICES.frontend.ruleArn] }]);
  });

  test('WHEN the live blue version changes THEN the update fails with LiveImageChangeRefused naming the service, color, weight and the idle color\'s config field', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.2.0' } }), props());

    const e = await refusal(handleImageGuard(event, clients));

    expect(e.name).toBe('LiveImageChangeRefused');
    expect(e.message).toContain('frontend blue carries traffic (weight 100 of 100)');
    expect(e.message).toContain('may not change from 1.0.0 to 1.2.0');
    expect(e.message).toContain('config/staging.ts services.frontend.colors.green.version');
    expect(e.message).toContain('keep blue at 1.0.0');
  });

  test('WHEN the live versions of both services change THEN the update fails with one refusal listing both services', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.2.0' }, backend: { blueVersion: '2.2.0' } }), props());

    const e = await refusal(handleImageGuard(event, clients));

    expect(e.message).toContain('frontend blue carries traffic');
    expect(e.message).toContain('backend blue carries traffic');
    expect(e.message).toContain('services.backend.colors.green.version');
  });
});

describe('GIVEN green carries all traffic after a promote (blue 0 / green 100)', () => {
  beforeEach(() => liveWeights([0, 100], [0, 100]));

  test('WHEN the green version changes THEN the update fails and points to blue as the idle color', async () => {
    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ backend: { greenVersion: '9.9.9' } }), props()), clients));

    expect(e.message).toContain('backend green carries traffic (weight 100 of 100)');
    expect(e.message).toContain('config/staging.ts services.backend.colors.blue.version');
  });

  test('WHEN the now idle blue version changes THEN the update passes', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ backend: { blueVersion: '2.2.0' } }), props()), clients)).resolves.toEqual({
      physicalResourceId: PHYSICAL_ID,
    });
  });
});

describe('GIVEN a canary in progress on the frontend (blue 90 / green 10)', () => {
  beforeEach(() => liveWeights([90, 10]));

  test('WHEN the green (canary) version changes THEN the update fails: both colors are frozen mid-canary', async () => {
    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { greenVersion: '1.2.0' } }), props()), clients));

    expect(e.message).toContain('frontend green carries traffic (weight 10 of 100)');
    expect(e.message).toContain('finish or roll back the release first');
  });

  test('WHEN both versions change THEN the update fails refusing both colors with their weights', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.2.0', greenVersion: '1.3.0' } }), props());

    const e = await refusal(handleImageGuard(event, clients));

    expect(e.message).toContain('frontend blue carries traffic (weight 90 of 100)');
    expect(e.message).toContain('frontend green carries traffic (weight 10 of 100)');
  });

  test('WHEN only the backend (blue 100 / green 0) changes its idle version THEN the update passes', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ backend: { greenVersion: '2.2.0' } }), props()), clients)).resolves.toEqual({
      physicalResourceId: PHYSICAL_ID,
    });
  });
});

describe('GIVEN the weights are read through the OLD properties', () => {
  test('WHEN the update also points green at a new target group THEN green\'s weight is read through its old group and the update fails', async () => {
    liveWeights([0, 100]);
    const next = guardProps('staging', {
      frontend: { ...SERVICES.frontend, greenTg: arn('targetgroup', 'fe-green-2'), greenVersion: '1.2.0' },
      backend: SERVICES.backend,
    });

    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, next, props()), clients));

    expect(e.message).toContain('frontend green carries traffic (weight 100 of 100)');
  });
});

describe('GIVEN invalid properties', () => {
  test('WHEN Environment is missing THEN the update fails naming it', async () => {
    const { Environment: _drop, ...noEnv } = props();

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, noEnv, props()), clients)).rejects.toThrow(/property Environment must be a non-empty string/);
  });

  test('WHEN a service\'s RuleArn is missing THEN the update fails naming Services.<service>.RuleArn', async () => {
    const bad = guardProps('staging', { frontend: SERVICES.frontend, backend: { ...SERVICES.backend, ruleArn: '' } });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, bad, props()), clients)).rejects.toThrow(/Services\.backend\.RuleArn/);
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN a color\'s version is missing THEN the update fails naming Services.<service>.Versions.<color>', async () => {
    const bad = guardProps('staging', { frontend: { ...SERVICES.frontend, greenVersion: '' }, backend: SERVICES.backend });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, bad, props()), clients)).rejects.toThrow(/Services\.frontend\.Versions\.green/);
  });

  test('WHEN a target group is missing THEN the update fails naming Services.<service>.TargetGroups.<color>', async () => {
    const bad = guardProps('staging', { frontend: { ...SERVICES.frontend, blueTg: '' }, backend: SERVICES.backend });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, bad, props()), clients)).rejects.toThrow(/Services\.frontend\.TargetGroups\.blue/);
  });
});

describe('GIVEN CloudFormation rolls back an update the guard refused (finding #8: a refused deploy wedged the stack)', () => {
  // What ran: 1.0.0 on the live blue frontend. The refused update asked for 1.2.0; CloudFormation's rollback
  // then sends an Update with the old properties as the new ones and the refused ones as the old ones.
  const refused = props({ frontend: { blueVersion: '1.2.0' } });

  test('WHEN the refused update is followed by its rollback update THEN the update is refused and the rollback passes', async () => {
    liveWeights([100, 0]);

    await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, refused, props(), 'LiveImageGuard', 'req-update'), clients));
    const rollback = updateEvent(TYPE, PHYSICAL_ID, props(), refused, 'LiveImageGuard', 'req-rollback');

    await expect(handleImageGuard(rollback, clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    // Both were judged against what blue runs now, read through blue's target group (once per request).
    expect(ecsMock.commandCalls(DescribeTaskDefinitionCommand).map((c) => c.args[0].input.taskDefinition)).toEqual([
      'arn:aws:ecs:us-east-1:1:task-definition/frontend-blue:7',
      'arn:aws:ecs:us-east-1:1:task-definition/frontend-blue:7',
    ]);
  });

  test('WHEN a mid-canary update of both frontend colors was refused THEN its rollback (both colors back to what they run) passes', async () => {
    liveWeights([90, 10]);
    const both = props({ frontend: { blueVersion: '1.2.0', greenVersion: '1.3.0' } });
    await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, both, props()), clients));

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props(), both), clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
  });

  test('WHEN an update moves the live color to a version it does not run (neither the old property nor the running image) THEN it is refused, naming the running version', async () => {
    liveWeights([100, 0]);

    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.3.0' } }), refused), clients));

    expect(e.message).toContain('frontend blue carries traffic (weight 100 of 100): its version may not change from 1.0.0 to 1.3.0');
    expect(e.message).toContain('keep blue at 1.0.0');
  });

  test('WHEN the live color runs the new version already (config caught up with a hotfix) THEN the update passes', async () => {
    liveWeights([100, 0]);
    running({ frontend: { blueVersion: '1.0.1' } });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.0.1' } }), props()), clients)).resolves.toEqual({
      physicalResourceId: PHYSICAL_ID,
    });
  });

  test('WHEN no active service serves the live color\'s target group THEN the change is refused saying the running version could not be read', async () => {
    liveWeights([100, 0]);
    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });

    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props(), refused), clients));

    expect(e.message).toContain('may not change from 1.2.0 to 1.0.0 (the version it runs could not be read: no active service of cluster staging-cluster serves target group');
  });

  test('WHEN the properties have no ClusterName (written before it existed) THEN a live change is refused without calling ECS, saying why', async () => {
    liveWeights([100, 0]);
    const { ClusterName: _a, ...oldStyle } = props({ frontend: { blueVersion: '1.2.0' } });
    const { ClusterName: _b, ...oldStyleBefore } = props();

    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, oldStyle, oldStyleBefore), clients));

    expect(e.message).toContain('the guard has no ClusterName property');
    expect(ecsMock.calls()).toHaveLength(0);
  });

  test('WHEN the Create failed and CloudFormation rolls it back with a Delete of failed-<RequestId> THEN the Delete passes without any call', async () => {
    await expect(handleImageGuard(deleteEvent(TYPE, 'failed-req-create-1', { Environment: '' }), clients)).resolves.toEqual({ physicalResourceId: 'failed-req-create-1' });
    expect([...elbv2Mock.calls(), ...ecsMock.calls()]).toHaveLength(0);
  });
});

describe('GIVEN runningVersions', () => {
  test('WHEN the cluster lists services over several pages and more than 10 services THEN every page is read, services are described 10 at a time and inactive ones ignored', async () => {
    ecsMock.reset();
    const arns = Array.from({ length: 12 }, (_, i) => `arn:aws:ecs:us-east-1:1:service/${CLUSTER}/s${i}`);
    ecsMock.on(ListServicesCommand).resolvesOnce({ serviceArns: arns.slice(0, 7), nextToken: 't' }).resolvesOnce({ serviceArns: arns.slice(7) });
    ecsMock.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({
      services: input.services.map((arn) => ({
        serviceArn: arn,
        status: arn.endsWith('/s11') ? 'INACTIVE' : 'ACTIVE',
        taskDefinition: `${arn}-td`,
        loadBalancers: [{ targetGroupArn: arn.endsWith('/s11') || arn.endsWith('/s10') ? 'tg-x' : `tg-${arn}`, containerName: 'app' }],
      })),
    }));
    ecsMock.on(DescribeTaskDefinitionCommand).callsFake((input: { taskDefinition: string }) => ({
      taskDefinition: { containerDefinitions: [{ name: 'app', image: `repo/x:${input.taskDefinition.endsWith('s10-td') ? '10.0' : '0.0'}` }] },
    }));

    const result = await runningVersions(clients.ecs, CLUSTER, ['tg-x']);

    expect(result.get('tg-x')).toEqual({ version: '10.0' });
    expect(ecsMock.commandCalls(ListServicesCommand).map((c) => c.args[0].input.nextToken)).toEqual([undefined, 't']);
    expect(ecsMock.commandCalls(DescribeServicesCommand).map((c) => c.args[0].input.services!.length)).toEqual([10, 2]);
  });
});

// Review finding: the rule is updated before the guard, so when a target group is replaced in the same deploy the weights
// already sit on the NEW group ARNs; reading them through the old ARNs gave 0 for both colors and let a live change pass.
describe('GIVEN a deploy that replaces the live color target group and changes its version', () => {
  const newBlueTg = arn('targetgroup', 'fe-blue-2');
  const withNewBlue = (v: Versions = {}): Props => {
    const p = props(v) as any;
    return { ...p, Services: { ...p.Services, frontend: { ...p.Services.frontend, TargetGroups: { ...p.Services.frontend.TargetGroups, blue: newBlueTg } } } };
  };
  beforeEach(() => {
    const moved = rule('frontend', 100, 0);
    moved.Actions![0].ForwardConfig!.TargetGroups![0].TargetGroupArn = newBlueTg;
    elbv2Mock.on(DescribeRulesCommand, { RuleArns: [SERVICES.frontend.ruleArn] }).resolves({ Rules: [moved] });
    elbv2Mock.on(DescribeRulesCommand, { RuleArns: [SERVICES.backend.ruleArn] }).resolves({ Rules: [rule('backend', 100, 0)] });
  });

  test('WHEN blue (live through its new group) gets a new version THEN the update is refused', async () => {
    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, withNewBlue({ frontend: { blueVersion: '9.9.9' } }), props()), clients));
    expect(e.message).toMatch(/frontend blue carries traffic \(weight 100 of 100\)/);
  });

  test('WHEN only the idle green changes THEN it passes', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, withNewBlue({ frontend: { greenVersion: '9.9.9' } }), props()), clients)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
  });
});
