/**
 * Unit tests of the judge's CloudWatch query (batching within GetMetricData's limits, every page, mapping into
 * ColorSeries), of the shared ALB metric definitions (the same failed-request definition as the alarms), and of the
 * judge step's pure decisions (looks, actions) and settings. The emulator test is judge.moto.test.ts.
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { judgeSettingsFromEnv } from '../../lambda/release/judge-handler';
import { judgeAction, maxLooksOf } from '../../lambda/release/judge-gate';
import { batchQueries, colorSeries, fetchMetricData, judgeQueries, MAX_DATAPOINTS_PER_CALL, MAX_QUERIES_PER_CALL, readJudgeSeries } from '../../lambda/release/judge-query';
import { stateMachineTimeoutSeconds } from '../../lambda/release/policy';
import { ANSWERED_METRICS, failedRequests, loadBalancerDimension, REQUEST_COUNT, targetGroupDimension } from '../../lambda/shared/alb-metrics';
import type { Topology } from '../../lambda/shared/topology';
import { answeredMetrics, ERRORS_EXPRESSION } from '../../lib/rollback-alarms';
import { JUDGE_DEFAULTS } from '../../config/shared';
import { REHEARSAL_POLICY } from './harness';

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';
const topologyOf = (n: number): Pick<Topology, 'services'> => ({
  services: Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `svc${i}`,
      {
        listenerRuleArn: `${ARN}:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`,
        colors: {
          blue: { targetGroupArn: `${ARN}:targetgroup/svc${i}-blue/73e2d6bc24d8a067`, serviceName: `svc${i}-blue` },
          green: { targetGroupArn: `${ARN}:targetgroup/svc${i}-green/83e2d6bc24d8a067`, serviceName: `svc${i}-green` },
        },
      },
    ]),
  ),
});
const WINDOW = { start: new Date('2030-01-01T00:00:00Z'), end: new Date('2030-01-01T00:05:00Z') };
const at = (m: number) => new Date(WINDOW.start.getTime() + m * 60_000);

describe('ALB metric definitions', () => {
  test('dimensions from ARNs: targetgroup/<name>/<id>, app/<lb>/<id> from a listener rule, listener or load balancer', () => {
    expect(targetGroupDimension(`${ARN}:targetgroup/shop-blue/73e2d6bc24d8a067`)).toBe('targetgroup/shop-blue/73e2d6bc24d8a067');
    for (const arn of [
      `${ARN}:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`,
      `${ARN}:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2`,
      `${ARN}:loadbalancer/app/prod-alb/50dc6c495c0c9188`,
    ]) {
      expect(loadBalancerDimension(arn)).toBe('app/prod-alb/50dc6c495c0c9188');
    }
  });

  test('fails on an ARN that is not a target group / an Application Load Balancer, naming it', () => {
    expect(() => targetGroupDimension(`${ARN}:loadbalancer/app/prod-alb/1`)).toThrow(/not a target group ARN.*loadbalancer\/app/);
    expect(() => loadBalancerDimension(`${ARN}:loadbalancer/net/nlb/1`)).toThrow(/not an Application Load Balancer/);
  });

  test('failed requests are the alarms\' definition: requests minus target 2XX/3XX/4XX, missing counts 0, never below 0', () => {
    expect(failedRequests(100, [60, 5, 10])).toBe(25);
    expect(failedRequests(40, [undefined, undefined, undefined])).toBe(40);
    expect(failedRequests(undefined, [3])).toBe(0);
    expect(failedRequests(10, [12, 0, 0])).toBe(0);
    // The alarms' metric math reads the same metrics, and clamps and fills the same way.
    const stack = new Stack(new App());
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const tg = new elbv2.ApplicationTargetGroup(stack, 'Tg', { vpc, port: 80 });
    new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc }).addListener('L', { port: 80, defaultTargetGroups: [tg] });
    const metrics = Object.values(answeredMetrics(tg, '')) as unknown as { metricName: string; namespace: string; dimensions: Record<string, unknown>; statistic: string }[];
    expect(metrics.map((m) => m.metricName)).toEqual([REQUEST_COUNT, ...ANSWERED_METRICS]);
    // The same namespace, statistic and dimension set the judge queries.
    for (const m of metrics) expect([m.namespace, m.statistic, Object.keys(m.dimensions).sort()]).toEqual(['AWS/ApplicationELB', 'Sum', ['LoadBalancer', 'TargetGroup']]);
    expect(ERRORS_EXPRESSION('')).toBe('IF((FILL(req, 0) - FILL(ok2, 0) - FILL(ok3, 0) - FILL(ok4, 0)) > 0, (FILL(req, 0) - FILL(ok2, 0) - FILL(ok3, 0) - FILL(ok4, 0)), 0)');
  });
});

describe('the query', () => {
  test('per service and color: requests, 2XX, 3XX, 4XX (Sum) and p99 TargetResponseTime, period 60, both ALB dimensions', () => {
    const qs = judgeQueries(topologyOf(1), { candidate: 'green', stable: 'blue' });
    expect(qs.map((q) => `${q.Id} ${q.MetricStat!.Metric!.MetricName} ${q.MetricStat!.Stat} ${q.MetricStat!.Period}`)).toEqual([
      's0_green_req RequestCount Sum 60',
      's0_green_ok2 HTTPCode_Target_2XX_Count Sum 60',
      's0_green_ok3 HTTPCode_Target_3XX_Count Sum 60',
      's0_green_ok4 HTTPCode_Target_4XX_Count Sum 60',
      's0_green_p99 TargetResponseTime p99 60',
      's0_blue_req RequestCount Sum 60',
      's0_blue_ok2 HTTPCode_Target_2XX_Count Sum 60',
      's0_blue_ok3 HTTPCode_Target_3XX_Count Sum 60',
      's0_blue_ok4 HTTPCode_Target_4XX_Count Sum 60',
      's0_blue_p99 TargetResponseTime p99 60',
    ]);
    expect(qs[0].MetricStat!.Metric).toEqual({
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'RequestCount',
      Dimensions: [
        { Name: 'TargetGroup', Value: 'targetgroup/svc0-green/83e2d6bc24d8a067' },
        { Name: 'LoadBalancer', Value: 'app/prod-alb/50dc6c495c0c9188' },
      ],
    });
  });

  test('batches within 500 queries and 100,800 datapoints per call', () => {
    const queries = Array.from({ length: 1200 }, (_, i) => i);
    expect(batchQueries(queries, 5).map((b) => b.length)).toEqual([500, 500, 200]);
    // A long window: fewer queries per call so that queries × minutes stays within the datapoint limit.
    const long = batchQueries(queries, 1440);
    expect(long[0].length).toBe(Math.floor(MAX_DATAPOINTS_PER_CALL / 1440));
    expect(long.flat()).toEqual(queries);
    expect(MAX_QUERIES_PER_CALL).toBe(500);
  });

  test('60 services (600 queries): two calls, every page of each (NextToken), mapped into ColorSeries', async () => {
    const cw = mockClient(CloudWatchClient);
    const calls: { ids: string[]; token?: string }[] = [];
    cw.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: MetricDataQuery[]; NextToken?: string; ScanBy?: string; StartTime: Date; EndTime: Date }) => {
      calls.push({ ids: input.MetricDataQueries.map((q) => q.Id!), token: input.NextToken });
      expect(input).toMatchObject({ StartTime: WINDOW.start, EndTime: WINDOW.end, ScanBy: 'TimestampAscending' });
      const first = input.NextToken === undefined;
      const results = input.MetricDataQueries.filter((q) => q.Id!.endsWith('_req') || q.Id!.endsWith('_ok2') || q.Id!.endsWith('_p99')).map((q) => ({
        Id: q.Id,
        // Page 1 carries minutes 0–1, page 2 minutes 3–4; minute 2 has no datapoint.
        Timestamps: first ? [at(0), at(1)] : [at(3), at(4)],
        Values: q.Id!.endsWith('_req') ? [100, 100] : q.Id!.endsWith('_ok2') ? [90, 100] : [0.4, 0.5],
      }));
      return { MetricDataResults: results, NextToken: first ? 'page-2' : undefined };
    });
    try {
      const series = await readJudgeSeries({ cloudwatch: new CloudWatchClient({ region: 'us-east-1' }) }, topologyOf(60), { candidate: 'green', stable: 'blue' }, WINDOW);
      expect(calls.map((c) => `${c.ids.length} ${c.token ?? '-'}`)).toEqual(['500 -', '500 page-2', '100 -', '100 page-2']);
      expect(series).toHaveLength(60);
      expect(series[59]).toEqual({
        service: 'svc59',
        candidate: { requests: [100, 100, 0, 100, 100], errors: [10, 0, 0, 10, 0], p99Seconds: [0.4, 0.5, undefined, 0.4, 0.5] },
        stable: { requests: [100, 100, 0, 100, 100], errors: [10, 0, 0, 10, 0], p99Seconds: [0.4, 0.5, undefined, 0.4, 0.5] },
      });
    } finally {
      cw.restore();
    }
  });

  test('an empty window makes no call; a throttled call is retried by the core policy, then fails the step', async () => {
    const cw = mockClient(CloudWatchClient);
    try {
      const client = new CloudWatchClient({ region: 'us-east-1' });
      const points = await fetchMetricData({ cloudwatch: client }, judgeQueries(topologyOf(1), { candidate: 'green', stable: 'blue' }), { start: WINDOW.start, end: WINDOW.start });
      expect(cw.calls()).toHaveLength(0);
      expect(colorSeries(points, 's0_green', { start: WINDOW.start, end: WINDOW.start })).toEqual({ requests: [], errors: [], p99Seconds: [] });
      const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
      cw.on(GetMetricDataCommand).rejectsOnce(throttled).resolves({ MetricDataResults: [] });
      const retry = { sleep: async () => undefined };
      await fetchMetricData({ cloudwatch: client, retry }, judgeQueries(topologyOf(1), { candidate: 'green', stable: 'blue' }), WINDOW);
      expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(2);
      cw.reset();
      cw.on(GetMetricDataCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
      await expect(fetchMetricData({ cloudwatch: client, retry }, judgeQueries(topologyOf(1), { candidate: 'green', stable: 'blue' }), WINDOW)).rejects.toThrow(/not authorized/);
      expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    } finally {
      cw.restore();
    }
  });
});

describe('looks and actions', () => {
  test('a release takes at most steps below 100 × (1 + maxExtensions) looks; blue/green none', () => {
    expect(maxLooksOf([10, 25, 50, 100], { maxExtensions: 2 })).toBe(9);
    expect(maxLooksOf([100], { maxExtensions: 2 })).toBe(0);
  });

  test('pass and fail act at once; inconclusive extends while extensions are left, then the policy decides', () => {
    const s = { maxExtensions: 2, onInconclusive: 'hold' as const };
    expect(judgeAction('pass', 2, s)).toEqual({ action: 'pass', byPolicy: false });
    expect(judgeAction('fail', 0, s)).toEqual({ action: 'fail', byPolicy: false });
    expect(judgeAction('inconclusive', 0, s)).toEqual({ action: 'extend', byPolicy: false });
    expect(judgeAction('inconclusive', 1, s)).toEqual({ action: 'extend', byPolicy: false });
    expect(judgeAction('inconclusive', 2, s)).toEqual({ action: 'hold', byPolicy: true });
    expect(judgeAction('inconclusive', 0, { maxExtensions: 0, onInconclusive: 'pass' })).toEqual({ action: 'pass', byPolicy: true });
    expect(judgeAction('inconclusive', 0, { maxExtensions: 0, onInconclusive: 'fail' })).toEqual({ action: 'fail', byPolicy: true });
  });

  test('the state machine timeout (and the lock lease) covers every extension of every bake', () => {
    const base = { ...REHEARSAL_POLICY, judge: { ...JUDGE_DEFAULTS, maxExtensions: 0 } };
    const extended = { ...REHEARSAL_POLICY, judge: { ...JUDGE_DEFAULTS, maxExtensions: 3 } };
    // 4 steps × 3 more bakes each, plus their gate and judge tasks.
    expect(stateMachineTimeoutSeconds(extended) - stateMachineTimeoutSeconds(base)).toBeGreaterThanOrEqual(4 * 3 * REHEARSAL_POLICY.bakeSeconds);
  });
});

describe('judge handler settings (RELEASE_POLICY)', () => {
  test('reads judge and bakeSeconds', () => {
    expect(judgeSettingsFromEnv({ RELEASE_POLICY: JSON.stringify(REHEARSAL_POLICY) })).toEqual({ judge: REHEARSAL_POLICY.judge, bakeSeconds: REHEARSAL_POLICY.bakeSeconds });
  });

  test('fails listing every problem, each naming field and value', () => {
    const bad = { ...REHEARSAL_POLICY, bakeSeconds: -1, judge: { ...JUDGE_DEFAULTS, minRequests: 0, onInconclusive: 'maybe' } };
    expect(() => judgeSettingsFromEnv({ RELEASE_POLICY: JSON.stringify(bad) })).toThrow(
      /judge handler configuration is invalid:\n {2}- RELEASE_POLICY\.judge\.minRequests must be a whole number >= 1, got 0\n {2}- RELEASE_POLICY\.judge\.onInconclusive must be one of pass, fail, hold, got "maybe"\n {2}- RELEASE_POLICY\.bakeSeconds must be whole seconds >= 0, got -1/,
    );
    expect(() => judgeSettingsFromEnv({})).toThrow(/RELEASE_POLICY is not set/);
    expect(() => judgeSettingsFromEnv({ RELEASE_POLICY: '{' })).toThrow(/RELEASE_POLICY is not valid JSON/);
  });
});
