import { marshall } from '@aws-sdk/util-dynamodb';
import { DescribeAlarmsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRulesCommand, DescribeTargetHealthCommand, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { logger, promote, shift } from '../../lambda/traffic';
import {
  publishTrafficWeights,
  TRAFFIC_WEIGHT_METRIC_DIMENSIONS,
  TRAFFIC_WEIGHT_METRIC_NAME,
  trafficWeightDatums,
  WEIGHTS_METRIC_NAMESPACE,
} from '../../lambda/traffic/weights-metric';
import { item } from '../support/dynamo';
import { healthy, mocks, NOW, NOW_S, rule } from './helpers';

let m: ReturnType<typeof mocks>;
let order: string[];
beforeEach(() => {
  m = mocks();
  order = [];
  m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S + 600 }) });
  m.ddb.on(PutItemCommand).callsFake(() => {
    order.push('PutItem');
    return {};
  });
  m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'blue-5xx', StateValue: 'OK' }] });
  m.cloudwatch.on(PutMetricDataCommand).callsFake(() => {
    order.push('PutMetricData');
    return {};
  });
  m.elbv2.on(DescribeTargetHealthCommand).resolves(healthy('us-east-1a', 'us-east-1b'));
});
afterEach(() => {
  jest.restoreAllMocks();
  m.restore();
});

/** DescribeRules answers with the weights last written by ModifyRule; every rule call is recorded in `order`. */
function statefulRules(initial: Record<'frontend' | 'backend', [number, number]>) {
  const current = { ...initial };
  const svcOf = (arn: string) => (arn.endsWith('frontend') ? 'frontend' : 'backend');
  m.elbv2.on(DescribeRulesCommand).callsFake((input: { RuleArns: string[] }) => {
    order.push('DescribeRules');
    return { Rules: input.RuleArns.map((arn) => rule(svcOf(arn), ...current[svcOf(arn)])) };
  });
  m.elbv2.on(ModifyRuleCommand).callsFake((input: { RuleArn: string; Actions: { ForwardConfig: { TargetGroups: { Weight: number }[] } }[] }) => {
    order.push('ModifyRule');
    const groups = input.Actions[0].ForwardConfig.TargetGroups;
    current[svcOf(input.RuleArn)] = [groups[0].Weight, groups[1].Weight];
    return {};
  });
  return current;
}

const datum = (service: string, color: string, value: number) => ({
  MetricName: 'TrafficWeightPercent',
  Dimensions: [
    { Name: 'Environment', Value: 'dev' },
    { Name: 'Service', Value: service },
    { Name: 'Color', Value: color },
  ],
  Timestamp: NOW,
  Value: value,
  Unit: 'Percent',
});

const putInputs = () => m.cloudwatch.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);

describe('GIVEN the exported metric names', () => {
  test('WHEN the CDK side references them THEN they name the SafeReleases namespace, the metric and its dimensions', () => {
    expect(WEIGHTS_METRIC_NAMESPACE).toBe('SafeReleases');
    expect(TRAFFIC_WEIGHT_METRIC_NAME).toBe('TrafficWeightPercent');
    expect(TRAFFIC_WEIGHT_METRIC_DIMENSIONS).toEqual(['Environment', 'Service', 'Color']);
  });
});

describe('GIVEN verified weights', () => {
  test('WHEN the weights do not sum to 100 THEN each value is the share in percent', () => {
    const datums = trafficWeightDatums('dev', { frontend: { blue: 1, green: 3 } }, NOW);
    expect(datums.map((d) => [d.Dimensions![1].Value, d.Dimensions![2].Value, d.Value])).toEqual([
      ['frontend', 'blue', 25],
      ['frontend', 'green', 75],
    ]);
  });

  test('WHEN there are no weights THEN nothing is sent', async () => {
    await expect(publishTrafficWeights(m.ctx, {})).resolves.toBe(true);
    expect(putInputs()).toEqual([]);
  });
});

describe('GIVEN all traffic on blue and the lock held by "me"', () => {
  test('WHEN shifting green to 10% THEN one PutMetricData of 90/10 per service follows the verify read-backs', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' });
    expect(putInputs()).toEqual([
      {
        Namespace: 'SafeReleases',
        MetricData: [datum('frontend', 'blue', 90), datum('frontend', 'green', 10), datum('backend', 'blue', 90), datum('backend', 'green', 10)],
      },
    ]);
    // initial read, then per service: write, verify read-back; only then the metric (and the ledger entry)
    expect(order).toEqual(['DescribeRules', 'ModifyRule', 'DescribeRules', 'ModifyRule', 'DescribeRules', 'PutMetricData', 'PutItem']);
  });

  test('WHEN the shift is refused THEN nothing is published', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    await expect(shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'someone-else', actor: 't' })).rejects.toThrow('lock');
    expect(putInputs()).toEqual([]);
  });

  test('WHEN only the backend is shifted THEN only the backend datums are sent', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    await shift(m.ctx, { target: { to: 'green', percent: 25 }, service: 'backend', owner: 'me', actor: 't' });
    expect(putInputs()[0].MetricData).toEqual([datum('backend', 'blue', 75), datum('backend', 'green', 25)]);
  });
});

describe('GIVEN a canary at 90/10', () => {
  test('WHEN promoting green THEN blue 0 and green 100 are published after the verify', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    // The ledger: the canary's shift, from all traffic on blue (the stable color).
    m.ddb.on(QueryCommand).resolves({
      Items: [
        marshall({
          pk: 'dev',
          sk: '2030-01-01T00:00:00.000Z#a',
          action: 'shift',
          weightsBefore: { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } },
          weightsAfter: { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } },
        }),
      ],
    });
    await promote(m.ctx, { owner: 'me', actor: 't' });
    expect(putInputs()).toEqual([
      {
        Namespace: 'SafeReleases',
        MetricData: [datum('frontend', 'blue', 0), datum('frontend', 'green', 100), datum('backend', 'blue', 0), datum('backend', 'green', 100)],
      },
    ]);
    const put = order.indexOf('PutMetricData');
    expect(order.lastIndexOf('ModifyRule')).toBeLessThan(put);
    expect(order.lastIndexOf('DescribeRules')).toBeLessThan(put);
  });

  test('WHEN a rollback records its own ledger entry (ledgerOnSuccess false) THEN the weights are still published before it returns', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 'alarm', rollback: true, ledgerOnSuccess: false });
    expect(putInputs()[0].MetricData).toEqual([datum('frontend', 'blue', 100), datum('frontend', 'green', 0), datum('backend', 'blue', 100), datum('backend', 'green', 0)]);
    expect(order.filter((c) => c !== 'DescribeRules')).toEqual(['ModifyRule', 'ModifyRule', 'PutMetricData']);
  });

  test('WHEN the caller publishes itself (publishWeights false) THEN the shift sends nothing and publishTrafficWeights sends its weightsAfter', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    const r = await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 'alarm', rollback: true, ledgerOnSuccess: false, publishWeights: false });
    expect(putInputs()).toEqual([]);
    await expect(publishTrafficWeights(m.ctx, r.weightsAfter)).resolves.toBe(true);
    expect(putInputs()[0].MetricData).toEqual([datum('frontend', 'blue', 100), datum('frontend', 'green', 0), datum('backend', 'blue', 100), datum('backend', 'green', 0)]);
  });

  test('WHEN the target equals the current weights THEN the verified no-op publishes nothing', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    const r = await shift(m.ctx, { target: { weights: { blue: 90, green: 10 } }, owner: 'me', actor: 't' });
    expect(r.changed).toBe(false);
    expect(putInputs()).toEqual([]);
  });

  test('WHEN PutMetricData fails THEN the shift still succeeds, is recorded, and a warning is logged after one attempt', async () => {
    const current = statefulRules({ frontend: [90, 10], backend: [90, 10] });
    m.cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
    const warn = jest.spyOn(logger, 'warn');
    const r = await shift(m.ctx, { target: { to: 'green', percent: 50 }, owner: 'me', actor: 't' });
    expect(r).toMatchObject({ changed: true, weightsAfter: { frontend: { blue: 50, green: 50 }, backend: { blue: 50, green: 50 } } });
    expect(current).toEqual({ frontend: [50, 50], backend: [50, 50] });
    expect(m.cloudwatch.commandCalls(PutMetricDataCommand)).toHaveLength(1);
    expect(m.ddb.commandCalls(PutItemCommand)).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('could not publish the traffic weights metric'),
      expect.objectContaining({ environment: 'dev', error: 'Throttling: Rate exceeded' }),
    );
  });

  test('WHEN PutMetricData fails on a rollback THEN the rollback still returns its verified result', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    m.cloudwatch.on(PutMetricDataCommand).rejects(new Error('AccessDenied'));
    await expect(shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 'alarm', rollback: true })).resolves.toMatchObject({
      changed: true,
      action: 'rollback',
    });
  });
});
