import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../config';
import { ADOT_COLLECTOR_IMAGE } from '../../lib/services';
import { resourcesOf, synthEnvironment } from './support';

const m = ENVIRONMENTS.production.monitoring;
const { stateless } = synthEnvironment('production');
const alarms = resourcesOf(stateless, 'AWS::CloudWatch::Alarm');

/** The alarms whose description contains `text`, one per color and service where that applies. */
function alarmsLike(text: string) {
  return alarms.filter(([, a]) => String(a.Properties.AlarmDescription).includes(text)).map(([, a]) => a.Properties);
}
const expressionOf = (a: any) => a.Metrics.find((q: any) => q.Expression).Expression as string;

describe('rollback triggers (production)', () => {
  test('GIVEN the plan "error rate > 5% for 5 minutes" THEN each service and color has it with a minimum-request guard', () => {
    const found = alarmsLike(`5XX > ${m.errorRatePercent}% of requests for ${m.errorRateMinutes} min`);
    expect(found).toHaveLength(4);
    for (const a of found) {
      expect(a).toMatchObject({
        Threshold: m.errorRatePercent,
        EvaluationPeriods: m.errorRateMinutes,
        DatapointsToAlarm: m.errorRateMinutes,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(expressionOf(a)).toBe(`IF(FILL(requests, 0) >= ${m.minRequestsPerMinute}, 100 * FILL(errors, 0) / requests, 0)`);
      const requests = a.Metrics.find((q: any) => q.Id === 'requests');
      expect(requests.MetricStat).toMatchObject({ Metric: { MetricName: 'RequestCount', Namespace: 'AWS/ApplicationELB' }, Period: 60, Stat: 'Sum' });
      expect(a.Metrics.find((q: any) => q.Id === 'errors').MetricStat.Metric.MetricName).toBe('HTTPCode_Target_5XX_Count');
    }
  });

  test('GIVEN a catastrophic failure THEN the fast-burn alarm fires after 2 one-minute datapoints', () => {
    const found = alarmsLike(`5XX >= ${m.fastBurnErrorRatePercent}% for ${m.fastBurnMinutes} min`);
    expect(found).toHaveLength(4);
    for (const a of found) expect(a).toMatchObject({ Threshold: 25, EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
  });

  test('GIVEN the plan "response time > 2 seconds average" THEN a 3-minute average per service and color', () => {
    const found = alarmsLike(`average response time > ${m.latencySeconds} s`);
    expect(found).toHaveLength(4);
    for (const a of found) {
      expect(a).toMatchObject({ Threshold: 2, EvaluationPeriods: 3, DatapointsToAlarm: 3 });
      expect(a.Metrics.find((q: any) => q.Id === 'latency').MetricStat).toMatchObject({ Metric: { MetricName: 'TargetResponseTime' }, Stat: 'Average', Period: 60 });
    }
  });

  test('GIVEN the plan "database errors > 10 per minute" THEN a per-color sum of the log metric', () => {
    const found = alarmsLike('database errors > 10 per minute');
    expect(found).toHaveLength(2);
    for (const a of found) {
      expect(a).toMatchObject({ Threshold: 10, EvaluationPeriods: 1, Statistic: 'Sum', Period: 60, MetricName: 'DatabaseErrors', Namespace: 'SafeReleases/production' });
    }
    expect(found.map((a) => a.Dimensions)).toEqual([[{ Name: 'Color', Value: 'blue' }], [{ Name: 'Color', Value: 'green' }]]);
  });

  test('GIVEN the plan "payment failures > 5%" THEN a failure rate with a minimum-attempts guard', () => {
    const found = alarmsLike('payment failures > 5%');
    expect(found).toHaveLength(2);
    for (const a of found) {
      expect(a).toMatchObject({ Threshold: 5, EvaluationPeriods: 1 });
      expect(expressionOf(a)).toBe(`IF(FILL(attempts, 0) >= ${m.paymentMinAttempts}, 100 * FILL(failures, 0) / attempts, 0)`);
      expect(a.Metrics.find((q: any) => q.Id === 'attempts').MetricStat.Period).toBe(m.paymentWindowMinutes * 60);
    }
  });

  test('GIVEN a canary THEN the new color is compared with the stable one on error rate and p99, with minimum requests on both', () => {
    const rate = alarmsLike(`error rate > ${m.comparison.errorRatePoints} points above`);
    const p99 = alarmsLike(`p99 latency > ${m.comparison.p99LatencyRatio}x`);
    expect(rate).toHaveLength(4);
    expect(p99).toHaveLength(4);
    for (const a of rate) expect(expressionOf(a)).toMatch(/^IF\(FILL\(reqNew, 0\) >= 10 AND FILL\(reqOld, 0\) >= 10, 100 \* FILL\(errNew, 0\) \/ reqNew - 100 \* FILL\(errOld, 0\) \/ reqOld, 0\)$/);
    for (const a of p99) expect(a.Metrics.find((q: any) => q.Id === 'p99New').MetricStat.Stat).toBe('p99');
  });

  test('GIVEN the triggers THEN one composite alarm per color rolls them up and notifies the topic', () => {
    const composites = resourcesOf(stateless, 'AWS::CloudWatch::CompositeAlarm');
    expect(composites).toHaveLength(2);
    for (const [, c] of composites) {
      const rule = JSON.stringify(c.Properties.AlarmRule);
      expect(rule.match(/ALARM\(/g)).toHaveLength(12);
      expect(c.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^NotificationsTopic/) }]);
    }
  });

  test('GIVEN the backend log contract THEN metric filters publish db errors, payments and orders with a color dimension', () => {
    for (const [pattern, metric] of [
      ['{ $.event = "db_error" }', 'DatabaseErrors'],
      ['{ $.event = "payment" }', 'PaymentAttempts'],
      ['{ ($.event = "payment") && ($.outcome = "failed") }', 'PaymentFailures'],
      ['{ $.event = "order_placed" }', 'Orders'],
    ]) {
      stateless.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: pattern,
        MetricTransformations: [{ MetricName: metric, MetricNamespace: 'SafeReleases/production', MetricValue: '1', Dimensions: [{ Key: 'Color', Value: '$.color' }], Unit: 'Count' }],
      });
    }
    stateless.resourceCountIs('AWS::Logs::MetricFilter', 8);
  });
});

describe('operations monitoring (production)', () => {
  test('THEN ECS, target health, ALB, RDS (incl. replica lag) and cache alarms notify the topic', () => {
    const ops = alarms.filter(([id]) => id.startsWith('Operations')).map(([, a]) => a.Properties);
    const descriptions = ops.map((a) => a.AlarmDescription as string);
    for (const text of ['frontend blue CPU', 'backend green memory', 'has unhealthy targets', 'load balancer itself answered', 'PostgreSQL CPU', 'PostgreSQL connections', 'PostgreSQL free storage', 'read replica 2 lags', 'cache node 3 engine CPU', 'cache node 1 memory', 'cache node 2 evicts']) {
      expect(descriptions.some((d) => d.includes(text))).toBe(true);
    }
    for (const a of ops) expect(a.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^NotificationsTopic/) }]);
  });

  test('THEN the topic is KMS-encrypted, TLS-only and has the on-call email subscription', () => {
    stateless.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    stateless.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: m.alarmEmail });
    stateless.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('THEN a dashboard shows requests, errors and latency by color, orders and payments, database and cache', () => {
    const [[, dashboard]] = resourcesOf(stateless, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of ['requests by color', '5XX by color', 'p50 / p99 by color', 'orders and payments by color', 'rollback triggers', 'database: CPU', 'cache: engine CPU']) {
      expect(body).toContain(title);
    }
  });

  test('GIVEN production THEN every task runs the ADOT collector for X-Ray; staging does not', () => {
    const sidecars = (t: typeof stateless) =>
      resourcesOf(t, 'AWS::ECS::TaskDefinition').filter(([, td]) => td.Properties.ContainerDefinitions.some((c: any) => c.Image === ADOT_COLLECTOR_IMAGE));
    expect(sidecars(stateless)).toHaveLength(4);
    expect(sidecars(synthEnvironment('staging').stateless)).toHaveLength(0);
  });
});

describe('automated rollback wiring (production)', () => {
  const functions = resourcesOf(stateless, 'AWS::Lambda::Function');
  const [rollbackId] = functions.find(([id]) => id.startsWith('AutomatedRollbackHandler'))!;

  test('GIVEN a rollback alarm of either color going to ALARM THEN EventBridge invokes the rollback Lambda directly', () => {
    const rules = resourcesOf(stateless, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.cloudwatch');
    expect(rules).toHaveLength(1);
    const [[, rule]] = rules;
    expect(rule.Properties.EventPattern).toMatchObject({
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { state: { value: ['ALARM'] } },
    });
    // Every trigger and the composite of both colors: 13 per color.
    expect(rule.Properties.EventPattern.resources).toHaveLength(26);
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': [rollbackId, 'Arn'] }, RetryPolicy: { MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: 2 } }),
    ]);
  });

  test('THEN the rollback Lambda knows the topology and the release to stop, and times out before its marker lease', () => {
    const [, fn] = functions.find(([id]) => id === rollbackId)!;
    expect(fn.Properties.Timeout).toBe(60);
    expect(Object.keys(fn.Properties.Environment.Variables)).toEqual(expect.arrayContaining(['TOPOLOGY_TABLE', 'TOPOLOGY_VERSION', 'RELEASE_STATE_MACHINE_ARN']));
    stateless.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { Ref: Match.stringLikeRegexp('^NotificationsTopic') } } },
    });
  });

  test('THEN its IAM moves only this environment\'s rules and stops only this release state machine', () => {
    const policies = resourcesOf(stateless, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('AutomatedRollbackHandlerRole'));
    expect(policies).toHaveLength(1);
    const statements = policies[0][1].Properties.PolicyDocument.Statement as any[];
    const modify = statements.find((s) => s.Action === 'elasticloadbalancing:ModifyRule');
    expect(modify.Resource).toHaveLength(2);
    expect(JSON.stringify(modify.Resource)).toMatch(/RoutingProduction.*RuleArn/);
    const stop = statements.find((s) => s.Action === 'states:StopExecution');
    expect(JSON.stringify(stop.Resource)).toMatch(/:execution:/);
    expect(JSON.stringify(stop.Resource)).toMatch(/ReleaseStateMachine/);
  });

  test('GIVEN a rollback that fails THEN it pages: RollbackFailed, RollbackIncomplete and Lambda errors alarm to the topic', () => {
    for (const metric of ['RollbackFailed', 'RollbackIncomplete']) {
      stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: 'SafeReleases',
        Dimensions: [{ Name: 'Environment', Value: 'production' }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^NotificationsTopic') }],
      });
    }
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: rollbackId } }],
    });
  });
});

describe('live weights (production)', () => {
  test('THEN the dashboard graphs the weights traffic control publishes, carrying the last value forward', () => {
    const [[, dashboard]] = resourcesOf(stateless, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('live weights');
    for (const service of ['frontend', 'backend']) {
      for (const color of ['blue', 'green']) expect(body).toContain(`FILL(w_${service}_${color}, REPEAT)`);
    }
    expect(body).toContain('TrafficWeightPercent');
  });

  test('THEN every role that shifts traffic may publish metrics to the SafeReleases namespace only', () => {
    const publishers = resourcesOf(stateless, 'AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument.Statement as any[]).some((s) => s.Action === 'cloudwatch:PutMetricData'),
    );
    expect(publishers.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'AutomatedRollbackHandlerRoleDefaultPolicy',
      'ReleaseHandlerRoleDefaultPolicy',
      'TrafficControlSwitchRoleDefaultPolicy',
    ]);
    for (const [, p] of publishers) {
      const statement = (p.Properties.PolicyDocument.Statement as any[]).find((s) => s.Action === 'cloudwatch:PutMetricData');
      expect(statement.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'SafeReleases' } });
    }
  });
});
