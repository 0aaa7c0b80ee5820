import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { imageVersion, readAlarms, readRules, readState, readTargetHealth, TopologyMismatch } from '../../lambda/traffic';
import { item } from '../support/dynamo';
import { healthy, mocks, NOW_S, rule, topology } from './helpers';

let m: ReturnType<typeof mocks>;
beforeEach(() => {
  m = mocks();
});
afterEach(() => m.restore());

describe('GIVEN target health descriptions', () => {
  test('WHEN targets report AZs THEN healthy and unhealthy are counted per AZ and draining targets are ignored', async () => {
    m.elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        ...healthy('us-east-1a', 'us-east-1a', 'us-east-1b').TargetHealthDescriptions,
        { Target: { Id: 'x', AvailabilityZone: 'us-east-1b' }, TargetHealth: { State: 'unhealthy' } },
        { Target: { Id: 'y', AvailabilityZone: 'us-east-1c' }, TargetHealth: { State: 'draining' } },
        { Target: { Id: 'z' }, TargetHealth: { State: 'initial' } },
      ],
    });
    expect(await readTargetHealth(m.ctx, 'tg')).toEqual({
      byAz: { 'us-east-1a': { healthy: 2, unhealthy: 0 }, 'us-east-1b': { healthy: 1, unhealthy: 1 }, unknown: { healthy: 0, unhealthy: 1 } },
      healthy: 3,
      registered: 5,
    });
  });
});

describe('GIVEN listener rules', () => {
  test('WHEN a rule forwards to a single target group without ForwardConfig THEN that color has weight 1', async () => {
    m.elbv2.on(DescribeRulesCommand).resolves({
      Rules: [{ RuleArn: topology.services.frontend.listenerRuleArn, Actions: [{ Type: 'forward', TargetGroupArn: topology.services.frontend.colors.green.targetGroupArn }] }],
    });
    const r = await readRules(m.ctx, ['frontend']);
    expect(r.frontend.weights).toEqual({ blue: 0, green: 1 });
  });

  test('fails WHEN a rule forwards to a target group outside the topology THEN TopologyMismatch names it', async () => {
    m.elbv2.on(DescribeRulesCommand).resolves({
      Rules: [{ RuleArn: topology.services.frontend.listenerRuleArn, Actions: [{ Type: 'forward', TargetGroupArn: 'arn:other-tg' }] }],
    });
    await expect(readRules(m.ctx, ['frontend'])).rejects.toThrow(TopologyMismatch);
    await expect(readRules(m.ctx, ['frontend'])).rejects.toThrow('arn:other-tg');
  });

  test('fails WHEN the rule is not returned THEN TopologyMismatch says it was not found', async () => {
    m.elbv2.on(DescribeRulesCommand).resolves({ Rules: [] });
    await expect(readRules(m.ctx, ['backend'])).rejects.toThrow('listener rule of backend (arn:rule/backend) was not found');
  });
});

describe('GIVEN image references', () => {
  test.each([
    ['repo/frontend:1.2.3', '1.2.3'],
    ['123.dkr.ecr.us-east-1.amazonaws.com/frontend:2024-01-01', '2024-01-01'],
    ['registry:5000/frontend', 'latest'],
    ['registry:5000/frontend:v7', 'v7'],
    ['frontend@sha256:abc', 'sha256:abc'],
    [undefined, 'unknown'],
  ])('WHEN the image is %p THEN the version is %p', (image, version) => {
    expect(imageVersion(image)).toBe(version);
  });
});

describe('GIVEN alarms', () => {
  test('WHEN an alarm does not exist THEN it is reported MISSING with its color; composites are marked', async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'blue-5xx', StateValue: 'OK' }], CompositeAlarms: [{ AlarmName: 'green-5xx', StateValue: 'ALARM' }] });
    expect(await readAlarms(m.ctx)).toEqual([
      { name: 'blue-5xx', color: 'blue', state: 'OK', reason: undefined, composite: false },
      { name: 'green-5xx', color: 'green', state: 'ALARM', reason: undefined, composite: true },
      { name: 'green-latency', color: 'green', state: 'MISSING', reason: undefined },
    ]);
  });
});

describe('GIVEN a whole environment', () => {
  test('WHEN green carries more frontend weight THEN green is live and blue idle, with counts, versions and lock', async () => {
    m.elbv2.on(DescribeRulesCommand).resolves({ Rules: [rule('frontend', 10, 90), rule('backend', 10, 90)] });
    m.elbv2.on(DescribeTargetHealthCommand).resolves(healthy('us-east-1a'));
    m.ecs.on(DescribeServicesCommand).resolves({
      services: [
        { serviceName: 'fe-blue', desiredCount: 2, runningCount: 2, taskDefinition: 'td-blue', status: 'ACTIVE' },
        { serviceName: 'fe-green', desiredCount: 3, runningCount: 1, taskDefinition: 'td-green', status: 'ACTIVE' },
        { serviceName: 'be-blue', desiredCount: 2, runningCount: 2, taskDefinition: 'td-blue', status: 'INACTIVE' },
      ],
    });
    m.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: 'td-blue' }).resolves({ taskDefinition: { containerDefinitions: [{ name: 'a', image: 'r/x:1.0.0' }] } });
    m.ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: 'td-green' }).resolves({
      taskDefinition: { containerDefinitions: [{ name: 'sidecar', image: 'r/log:9', essential: false }, { name: 'a', image: 'r/x:1.1.0' }] },
    });
    m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S - 1 }) });
    const s = await readState(m.ctx);
    expect(s.liveColor).toBe('green');
    expect(s.idleColor).toBe('blue');
    expect(s.services.frontend.colors.green).toMatchObject({ desiredCount: 3, runningCount: 1, version: '1.1.0', weight: 90, percent: 90 });
    expect(s.services.backend.colors.blue).toMatchObject({ found: false, version: 'unknown', desiredCount: 0 });
    expect(s.lock).toMatchObject({ owner: 'me', expired: true });
    expect(s.alarms.map((a) => a.state)).toEqual(['MISSING', 'MISSING', 'MISSING']);
  });
});
