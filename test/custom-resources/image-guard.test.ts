/** Custom::LiveImageGuard with a mocked ELBv2 client: a color carrying traffic keeps its image version. */
import { DescribeRulesCommand, ElasticLoadBalancingV2Client, type Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { handleImageGuard, LiveImageChangeRefused } from '../../lambda/custom-resources/image-guard';
import { logger } from '../../lambda/traffic/logger';
import { createEvent, deleteEvent, guardProps, type GuardedServiceProps, updateEvent } from './events';

logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const TYPE = 'Custom::LiveImageGuard';
const arn = (kind: string, name: string) => `arn:aws:elasticloadbalancing:us-east-1:1:${kind}/${name}`;
const SERVICES: Record<'frontend' | 'backend', GuardedServiceProps> = {
  frontend: { ruleArn: arn('listener-rule', 'fe'), blueTg: arn('targetgroup', 'fe-blue'), greenTg: arn('targetgroup', 'fe-green'), blueVersion: '1.0.0', greenVersion: '1.1.0' },
  backend: { ruleArn: arn('listener-rule', 'be'), blueTg: arn('targetgroup', 'be-blue'), greenTg: arn('targetgroup', 'be-green'), blueVersion: '2.0.0', greenVersion: '2.1.0' },
};
const PHYSICAL_ID = 'LiveImageGuard-guard';

type Versions = Partial<Record<'frontend' | 'backend', Partial<Pick<GuardedServiceProps, 'blueVersion' | 'greenVersion'>>>>;
const props = (v: Versions = {}, environment = 'staging') =>
  guardProps(environment, {
    frontend: { ...SERVICES.frontend, ...v.frontend },
    backend: { ...SERVICES.backend, ...v.backend },
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
const elbv2 = new ElasticLoadBalancingV2Client({ region: 'us-east-1' });

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

beforeEach(() => elbv2Mock.reset());
afterAll(() => elbv2Mock.restore());

describe('GIVEN Create and Delete requests', () => {
  test('WHEN created THEN nothing is read or checked and the physical ID is <LogicalId>-guard', async () => {
    await expect(handleImageGuard(createEvent(TYPE, props(), 'LiveImageGuard'), elbv2)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN deleted THEN nothing is read and the physical ID is kept', async () => {
    await expect(handleImageGuard(deleteEvent(TYPE, PHYSICAL_ID, props()), elbv2)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.calls()).toHaveLength(0);
  });
});

describe('GIVEN blue carries all traffic (blue 100 / green 0)', () => {
  beforeEach(() => liveWeights([100, 0], [100, 0]));

  test('WHEN no version changes THEN the update passes without reading any rule', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props(), props()), elbv2)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN the idle green version changes THEN the update passes after reading that service\'s rule', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { greenVersion: '1.2.0' } }), props());

    await expect(handleImageGuard(event, elbv2)).resolves.toEqual({ physicalResourceId: PHYSICAL_ID });
    expect(elbv2Mock.commandCalls(DescribeRulesCommand).map((c) => c.args[0].input)).toEqual([{ RuleArns: [SERVICES.frontend.ruleArn] }]);
  });

  test('WHEN the live blue version changes THEN the update fails with LiveImageChangeRefused naming the service, color, weight and the idle color\'s config field', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.2.0' } }), props());

    const e = await refusal(handleImageGuard(event, elbv2));

    expect(e.name).toBe('LiveImageChangeRefused');
    expect(e.message).toContain('frontend blue carries traffic (weight 100 of 100)');
    expect(e.message).toContain('may not change from 1.0.0 to 1.2.0');
    expect(e.message).toContain('config/staging.ts services.frontend.colors.green.version');
    expect(e.message).toContain('keep blue at 1.0.0');
  });

  test('WHEN the live versions of both services change THEN the update fails with one refusal listing both services', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.2.0' }, backend: { blueVersion: '2.2.0' } }), props());

    const e = await refusal(handleImageGuard(event, elbv2));

    expect(e.message).toContain('frontend blue carries traffic');
    expect(e.message).toContain('backend blue carries traffic');
    expect(e.message).toContain('services.backend.colors.green.version');
  });
});

describe('GIVEN green carries all traffic after a promote (blue 0 / green 100)', () => {
  beforeEach(() => liveWeights([0, 100], [0, 100]));

  test('WHEN the green version changes THEN the update fails and points to blue as the idle color', async () => {
    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ backend: { greenVersion: '9.9.9' } }), props()), elbv2));

    expect(e.message).toContain('backend green carries traffic (weight 100 of 100)');
    expect(e.message).toContain('config/staging.ts services.backend.colors.blue.version');
  });

  test('WHEN the now idle blue version changes THEN the update passes', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ backend: { blueVersion: '2.2.0' } }), props()), elbv2)).resolves.toEqual({
      physicalResourceId: PHYSICAL_ID,
    });
  });
});

describe('GIVEN a canary in progress on the frontend (blue 90 / green 10)', () => {
  beforeEach(() => liveWeights([90, 10]));

  test('WHEN the green (canary) version changes THEN the update fails: both colors are frozen mid-canary', async () => {
    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { greenVersion: '1.2.0' } }), props()), elbv2));

    expect(e.message).toContain('frontend green carries traffic (weight 10 of 100)');
    expect(e.message).toContain('finish or roll back the release first');
  });

  test('WHEN both versions change THEN the update fails refusing both colors with their weights', async () => {
    const event = updateEvent(TYPE, PHYSICAL_ID, props({ frontend: { blueVersion: '1.2.0', greenVersion: '1.3.0' } }), props());

    const e = await refusal(handleImageGuard(event, elbv2));

    expect(e.message).toContain('frontend blue carries traffic (weight 90 of 100)');
    expect(e.message).toContain('frontend green carries traffic (weight 10 of 100)');
  });

  test('WHEN only the backend (blue 100 / green 0) changes its idle version THEN the update passes', async () => {
    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, props({ backend: { greenVersion: '2.2.0' } }), props()), elbv2)).resolves.toEqual({
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

    const e = await refusal(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, next, props()), elbv2));

    expect(e.message).toContain('frontend green carries traffic (weight 100 of 100)');
  });
});

describe('GIVEN invalid properties', () => {
  test('WHEN Environment is missing THEN the update fails naming it', async () => {
    const { Environment: _drop, ...noEnv } = props();

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, noEnv, props()), elbv2)).rejects.toThrow(/property Environment must be a non-empty string/);
  });

  test('WHEN a service\'s RuleArn is missing THEN the update fails naming Services.<service>.RuleArn', async () => {
    const bad = guardProps('staging', { frontend: SERVICES.frontend, backend: { ...SERVICES.backend, ruleArn: '' } });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, bad, props()), elbv2)).rejects.toThrow(/Services\.backend\.RuleArn/);
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN a color\'s version is missing THEN the update fails naming Services.<service>.Versions.<color>', async () => {
    const bad = guardProps('staging', { frontend: { ...SERVICES.frontend, greenVersion: '' }, backend: SERVICES.backend });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, bad, props()), elbv2)).rejects.toThrow(/Services\.frontend\.Versions\.green/);
  });

  test('WHEN a target group is missing THEN the update fails naming Services.<service>.TargetGroups.<color>', async () => {
    const bad = guardProps('staging', { frontend: { ...SERVICES.frontend, blueTg: '' }, backend: SERVICES.backend });

    await expect(handleImageGuard(updateEvent(TYPE, PHYSICAL_ID, bad, props()), elbv2)).rejects.toThrow(/Services\.frontend\.TargetGroups\.blue/);
  });
});
