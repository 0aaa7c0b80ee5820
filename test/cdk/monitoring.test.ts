import { ROLLBACK_TIMEOUT_SECONDS } from '../../lambda/rollback/budget';
import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../config';
import { defaultMaxConnections } from '../../config/rds';
import { ADOT_COLLECTOR_IMAGE } from '../../lib/services';
import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance } from 'cdk-nag';
import { EventPatternSize } from '../../lib/nag/rules/EventPatternSize';
import { resourcesOf, synthEnvironment } from './support';

const m = ENVIRONMENTS.production.monitoring;
const { stateless, monitoring } = synthEnvironment('production');
const alarms = resourcesOf(stateless, 'AWS::CloudWatch::Alarm');

/**
 * EventBridge matching for the pattern forms this app uses (arrays of exact values, nested objects): a field matches
 * when the event's value, or any element of an array value, is in the list.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
 */
function matches(pattern: Record<string, any>, event: Record<string, any>): boolean {
  return Object.entries(pattern).every(([key, want]) => {
    const got = event?.[key];
    if (Array.isArray(want)) return (Array.isArray(got) ? got : [got]).some((g) => want.includes(g));
    return typeof got === 'object' && matches(want, got);
  });
}

/** The alarms whose description contains `text`, one per color and service where that applies. */
function alarmsLike(text: string) {
  return alarms.filter(([, a]) => String(a.Properties.AlarmDescription).includes(text)).map(([, a]) => a.Properties);
}
const expressionOf = (a: any) => a.Metrics.find((q: any) => q.Expression).Expression as string;

describe('rollback triggers (production)', () => {
  // Regression (#12): the rate counted HTTPCode_Target_5XX_Count only, so targets that crash (connection refused: ELB 502),
  // hang (ELB 504) or leave the LB answering 503 were invisible.
  test('GIVEN the plan "error rate > 5% for 5 minutes" THEN each service and color counts every request a target did not answer with 2XX-4XX, with a minimum-request guard', () => {
    const found = alarmsLike(`5XX > ${m.errorRatePercent}% of requests for ${m.errorRateMinutes} min`);
    expect(found).toHaveLength(4);
    const failed = '(FILL(req, 0) - FILL(ok2, 0) - FILL(ok3, 0) - FILL(ok4, 0))';
    for (const a of found) {
      expect(a).toMatchObject({
        Threshold: m.errorRatePercent,
        EvaluationPeriods: m.errorRateMinutes,
        DatapointsToAlarm: m.errorRateMinutes,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(expressionOf(a)).toBe(`IF(FILL(req, 0) >= ${m.minRequestsPerMinute}, 100 * IF(${failed} > 0, ${failed}, 0) / req, 0)`);
      const stat = (id: string) => a.Metrics.find((q: any) => q.Id === id).MetricStat;
      expect(stat('req')).toMatchObject({ Metric: { MetricName: 'RequestCount', Namespace: 'AWS/ApplicationELB' }, Period: 60, Stat: 'Sum' });
      expect(['ok2', 'ok3', 'ok4'].map((id) => stat(id).Metric.MetricName)).toEqual(['HTTPCode_Target_2XX_Count', 'HTTPCode_Target_3XX_Count', 'HTTPCode_Target_4XX_Count']);
      // Every input is per target group, i.e. per color (the ELB's own 5XX metrics have no TargetGroup dimension).
      for (const id of ['req', 'ok2', 'ok3', 'ok4']) expect(stat(id).Metric.Dimensions.map((d: any) => d.Name).sort()).toEqual(['LoadBalancer', 'TargetGroup']);
    }
  });

  test('GIVEN a color whose targets crash, hang on their health check or fail it while it takes traffic THEN its unhealthy-targets trigger fires', () => {
    const found = alarmsLike(`>= ${m.unhealthyTargetsPercent}% of targets unhealthy while taking traffic`);
    expect(found).toHaveLength(4);
    for (const a of found) {
      expect(a).toMatchObject({
        Threshold: m.unhealthyTargetsPercent,
        EvaluationPeriods: m.unhealthyMinutes,
        DatapointsToAlarm: m.unhealthyMinutes,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(expressionOf(a)).toBe(
        'IF(FILL(requests, 0) > 0 AND FILL(healthy, 0) + FILL(unhealthy, 0) > 0, 100 * FILL(unhealthy, 0) / (FILL(healthy, 0) + FILL(unhealthy, 0)), 0)',
      );
      const stat = (id: string) => a.Metrics.find((q: any) => q.Id === id).MetricStat;
      expect([stat('healthy').Metric.MetricName, stat('unhealthy').Metric.MetricName, stat('requests').Metric.MetricName]).toEqual(['HealthyHostCount', 'UnHealthyHostCount', 'RequestCount']);
      expect(stat('unhealthy').Metric.Dimensions.map((d: any) => d.Name).sort()).toEqual(['LoadBalancer', 'TargetGroup']);
    }
  });

  // Regression: the fast burn compared with > while the README (and the alarm's own description) say >= 25 %.
  test('GIVEN a catastrophic failure THEN the fast-burn alarm fires at >= 25 % after 2 one-minute datapoints', () => {
    const found = alarmsLike(`5XX >= ${m.fastBurnErrorRatePercent}% for ${m.fastBurnMinutes} min`);
    expect(found).toHaveLength(4);
    for (const a of found) {
      expect(a).toMatchObject({ Threshold: 25, EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching', ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
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

  // Regression (#11): each color's comparison is "this color minus the other", so the STABLE color's comparison fired when
  // the new color was BETTER. Now a color's comparison counts only while it is the canary (at most 40 % of the requests).
  test('GIVEN a canary THEN the new color is compared with the stable one on error rate and p99, only while it serves the smaller share', () => {
    const rate = alarmsLike(`error rate > ${m.comparison.errorRatePoints} points above`);
    const p99 = alarmsLike(`p99 latency > ${m.comparison.p99LatencyRatio}x`);
    expect(rate).toHaveLength(4);
    expect(p99).toHaveLength(4);
    const c = m.comparison;
    const guard = `IF(FILL(reqNew, 0) >= ${c.minRequestsPerMinute} AND FILL(reqOld, 0) >= ${c.minRequestsPerMinute} AND 100 * reqNew <= ${c.canaryMaxRequestPercent} * (reqNew + reqOld), `;
    const failed = (x: string) => `(FILL(req${x}, 0) - FILL(ok2${x}, 0) - FILL(ok3${x}, 0) - FILL(ok4${x}, 0))`;
    for (const a of rate) {
      expect(expressionOf(a)).toBe(`${guard}IF(${failed('New')} > 0, ${failed('New')}, 0) * 100 / reqNew - IF(${failed('Old')} > 0, ${failed('Old')}, 0) * 100 / reqOld, 0)`);
      // CloudWatch alarms take at most 10 metrics in their math.
      expect(a.Metrics.length).toBeLessThanOrEqual(10);
    }
    for (const a of p99) {
      expect(expressionOf(a)).toBe(`${guard}IF(p99Old > 0, p99New / p99Old, 0), 0)`);
      expect(a.Metrics.find((q: any) => q.Id === 'p99New').MetricStat.Stat).toBe('p99');
    }
  });

  test('GIVEN the comparison guard THEN the stable color (the larger share) never counts, the canary always does, and an even split counts for neither', () => {
    const share = m.comparison.canaryMaxRequestPercent;
    const counts = (reqNew: number, reqOld: number) => 100 * reqNew <= share * (reqNew + reqOld);
    for (const canary of [10, 25]) {
      expect([canary, counts(canary * 10, (100 - canary) * 10)]).toEqual([canary, true]); // the new color at a canary step
      expect([canary, counts((100 - canary) * 10, canary * 10)]).toEqual([canary, false]); // the stable color at the same step
    }
    expect(counts(500, 500)).toBe(false);
    expect(counts(520, 480)).toBe(false);
    expect(counts(480, 520)).toBe(false);
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
    // One set per service that feeds the triggers (backend): its one log group holds both colors' lines.
    stateless.resourceCountIs('AWS::Logs::MetricFilter', 4);
  });
});

describe('operations monitoring (production)', () => {
  test('THEN ECS, target health, ALB, RDS (incl. replica lag) and cache alarms notify the topic', () => {
    const ops = resourcesOf(monitoring, 'AWS::CloudWatch::Alarm').filter(([id]) => id.startsWith('Operations')).map(([, a]) => a.Properties);
    const descriptions = ops.map((a) => a.AlarmDescription as string);
    for (const text of ['frontend blue CPU', 'backend green memory', 'has unhealthy targets', 'load balancer itself answered', 'PostgreSQL CPU', 'PostgreSQL connections', 'PostgreSQL free storage', 'read replica 2 lags', 'cache node 3 engine CPU', 'cache node 1 memory', 'cache node 2 evicts']) {
      expect(descriptions.some((d) => d.includes(text))).toBe(true);
    }
    // The topic is the stateless stack's, imported through its export (the monitoring stack deploys after it).
    for (const a of ops) expect(a.AlarmActions).toEqual([{ 'Fn::ImportValue': expect.stringMatching(/NotificationsTopic/) }]);
  });

  // Regression: "connections > 400" could never fire on db.t4g.micro (about 80 allowed). The threshold now follows the
  // class's memory: 80 % of RDS's default max_connections, LEAST(DBInstanceClassMemory/9531392, 5000).
  test.each([
    ['dev', 't4g.micro', 44],
    ['staging', 't4g.medium', 315],
    ['production', 'r6g.large', 1396],
  ] as const)('GIVEN %s on db.%s THEN the connections alarm fires above %i', (env, instanceType, threshold) => {
    expect(ENVIRONMENTS[env].database.instanceType).toBe(instanceType);
    const template = env === 'production' ? monitoring : synthEnvironment(env).monitoring;
    const [[, a]] = resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(([id]) => id.startsWith('OperationsDatabaseConnections'));
    expect(a.Properties).toMatchObject({ MetricName: 'DatabaseConnections', Statistic: 'Maximum', Threshold: threshold, ComparisonOperator: 'GreaterThanThreshold' });
    expect(a.Properties.AlarmDescription).toContain(`80% of ${instanceType}'s default max_connections`);
  });

  test('THEN the estimated max_connections never exceeds what RDS reports for a class (published readings)', () => {
    // show max_connections on RDS for PostgreSQL with the default parameter group: 2 GiB → 198, 4 GiB → 413, 8 GiB → 856.
    expect(defaultMaxConnections('t3.small')).toBeLessThanOrEqual(198);
    expect(defaultMaxConnections('t3.medium')).toBeLessThanOrEqual(413);
    expect(defaultMaxConnections('t3.large')).toBeLessThanOrEqual(856);
    expect(defaultMaxConnections('t3.large')).toBeGreaterThan(0.9 * 856);
    expect(defaultMaxConnections('db.unknown')).toBeUndefined();
  });

  test('THEN the topic is KMS-encrypted, TLS-only and has the on-call email subscription', () => {
    stateless.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    stateless.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: m.alarmEmail });
    stateless.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('THEN a dashboard shows requests, errors and latency by color, orders and payments, database and cache', () => {
    const [[, dashboard]] = resourcesOf(monitoring, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of ['requests by color', '5XX by color', 'p50 / p99 by color', 'orders and payments by color', 'rollback (open a composite for its triggers)', 'database: CPU', 'cache: engine CPU']) {
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

  const [[, rule]] = resourcesOf(stateless, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.cloudwatch');
  const composites = resourcesOf(stateless, 'AWS::CloudWatch::CompositeAlarm').map(([id]) => id);

  test("GIVEN a color's composite going to ALARM THEN EventBridge invokes the rollback Lambda directly; the composites are the only alarms it matches", () => {
    const rules = resourcesOf(stateless, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.cloudwatch');
    expect(rules).toHaveLength(1);
    expect(rule.Properties.EventPattern).toMatchObject({
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { state: { value: ['ALARM'] } },
    });
    expect(composites).toHaveLength(2);
    expect(rule.Properties.EventPattern.resources).toEqual(composites.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })));
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': [rollbackId, 'Arn'] }, RetryPolicy: { MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: 2 } }),
    ]);
  });

  // Regression (#4): the rule listed all 26 alarm ARNs, ~3,400 characters resolved, over EventBridge's 2,048-character
  // event pattern quota (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html): the deployment fails.
  test('THEN the resolved event pattern, every ARN at its longest, fits the 2,048-character quota and matches each composite\'s ALARM event', () => {
    const longestAlarmArn = (name: string) => `arn:aws-us-gov:cloudwatch:ap-southeast-7:123456789012:alarm:${name.padEnd(255, 'x')}`;
    const resolve = (v: any): any => {
      if (Array.isArray(v)) return v.map(resolve);
      if (v && typeof v === 'object') {
        if (v['Fn::GetAtt']) return longestAlarmArn(v['Fn::GetAtt'][0]);
        if (v.Ref || v['Fn::Join'] || v['Fn::Sub']) throw new Error(`unexpected token in the event pattern: ${JSON.stringify(v)}`);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
      }
      return v;
    };
    const pattern = resolve(rule.Properties.EventPattern);
    expect(JSON.stringify(pattern).length).toBeLessThanOrEqual(2048);
    for (const id of composites) {
      const event = (state: string) => ({
        source: 'aws.cloudwatch',
        'detail-type': 'CloudWatch Alarm State Change',
        resources: [longestAlarmArn(id)],
        detail: { alarmName: id, state: { value: state }, previousState: { value: 'OK' } },
      });
      expect([id, matches(pattern, event('ALARM'))]).toEqual([id, true]);
      expect([id, matches(pattern, event('OK'))]).toEqual([id, false]);
    }
    // A trigger's own state change is not matched: the composite is the one thing that starts a rollback.
    const trigger = { source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change', resources: [longestAlarmArn('RollbackAlarmsGreenBackendErrorRate')], detail: { state: { value: 'ALARM' } } };
    expect(matches(pattern, trigger)).toBe(false);
  });

  test('THEN the rollback Lambda knows the topology and the release to stop, and its timeout is the computed budget (lambda/rollback/budget.ts)', () => {
    const [, fn] = functions.find(([id]) => id === rollbackId)!;
    expect(fn.Properties.Timeout).toBe(ROLLBACK_TIMEOUT_SECONDS);
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
    // The rules of this environment's production listener (a pattern: one statement whatever the number of services).
    expect(JSON.stringify(modify.Resource)).toMatch(/:listener-rule\/.*LoadBalancerAlbHttps[0-9A-F]{8}/);
    const stop = statements.find((s) => s.Action === 'states:StopExecution');
    expect(JSON.stringify(stop.Resource)).toMatch(/:execution:/);
    expect(JSON.stringify(stop.Resource)).toMatch(/ReleaseStateMachine/);
  });

  test('GIVEN a rollback that fails THEN it pages: RollbackFailed, RollbackIncomplete and Lambda errors alarm to the topic (monitoring stack)', () => {
    const topic = { 'Fn::ImportValue': Match.stringLikeRegexp('^Production-Stateless:ExportsOutputRefNotificationsTopic') };
    for (const metric of ['RollbackFailed', 'RollbackIncomplete', 'ReleaseSafeStateFailed']) {
      monitoring.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: 'SafeReleases',
        Dimensions: [{ Name: 'Environment', Value: 'production' }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topic],
      });
    }
    monitoring.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { 'Fn::ImportValue': Match.stringLikeRegexp(`^Production-Stateless:ExportsOutputRef${rollbackId}`) } }],
      AlarmActions: [topic],
    });
    // None of them in the stateless stack: it keeps its room for ten services.
    expect(resourcesOf(stateless, 'AWS::CloudWatch::Alarm').filter(([, a]) => ['RollbackFailed', 'RollbackIncomplete', 'ReleaseSafeStateFailed'].includes(a.Properties.MetricName))).toEqual([]);
  });
});

describe('live weights (production)', () => {
  test('THEN the dashboard graphs the weights traffic control publishes, carrying the last value forward', () => {
    const [[, dashboard]] = resourcesOf(monitoring, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('live weights');
    for (const service of ['frontend', 'backend']) {
      for (const color of ['blue', 'green']) expect(body).toContain(`FILL(w_${service}_${color}, REPEAT)`);
    }
    expect(body).toContain('TrafficWeightPercent');
  });

  test('THEN every role that shifts traffic may publish metrics to the SafeReleases namespace only', () => {
    const publishers = [...resourcesOf(stateless, 'AWS::IAM::Policy'), ...resourcesOf(monitoring, 'AWS::IAM::Policy')].filter(([, p]) =>
      (p.Properties.PolicyDocument.Statement as any[]).some((s) => s.Action === 'cloudwatch:PutMetricData'),
    );
    expect(publishers.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'AutomatedRollbackHandlerRoleDefaultPolicy',
      // Rolls back through the rollback core, which publishes the weights after a move (monitoring stack).
      'CrashDetectionHandlerRoleDefaultPolicy',
      'ReleaseHandlerRoleDefaultPolicy',
      'TrafficControlSwitchRoleDefaultPolicy',
    ]);
    for (const [, p] of publishers) {
      const statement = (p.Properties.PolicyDocument.Statement as any[]).find((s) => s.Action === 'cloudwatch:PutMetricData');
      expect(statement.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'SafeReleases' } });
    }
  });
});

describe('crash detection (production), in the monitoring stack', () => {
  const stack = synthEnvironment('production').stage.monitoring;
  const template = monitoring;
  const fnId = stack.getLogicalId(stack.crashDetection.handler.function.node.defaultChild as CfnResource);
  const roleId = stack.getLogicalId(stack.crashDetection.handler.role.node.defaultChild as CfnResource);
  const crashConfig = ENVIRONMENTS.production.monitoring.crash;

  test('the rule matches crash-like STOPPED service tasks of this cluster only and invokes the crash Lambda with retries', () => {
    const [[, rule]] = resourcesOf(template, 'AWS::Events::Rule').filter(([id]) => id.startsWith('CrashDetectionOnTaskStopped'));
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change'],
      detail: {
        // The stateless stack's cluster, through its export.
        clusterArn: [{ 'Fn::ImportValue': expect.stringMatching(/^Production-Stateless:ExportsOutputFnGetAttCluster/) }],
        lastStatus: ['STOPPED'],
        group: [{ prefix: 'service:' }],
        $or: [{ stopCode: ['EssentialContainerExited', 'TaskFailedToStart'] }, { stoppedReason: [{ prefix: 'Task failed' }] }],
      },
    });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 600 } }),
    ]);
    // Within EventBridge's 2,048-character pattern quota (the deploy-invariant rule passes on it).
    expect(EventPatternSize(stack.crashDetection.rule.node.defaultChild as CfnResource)).toBe(NagRuleCompliance.COMPLIANT);
  });

  test('the crash Lambda gets its thresholds from config, the rollback budget as timeout, and failed async invocations go to the topic', () => {
    const fn = template.toJSON().Resources[fnId];
    expect(fn.Properties.Timeout).toBe(120);
    expect(fn.Properties.Environment.Variables).toMatchObject({
      CRASH_TASKS: String(crashConfig.tasks),
      CRASH_WINDOW_SECONDS: String(crashConfig.windowSeconds),
      RELEASE_STATE_MACHINE_ARN: { 'Fn::ImportValue': expect.stringMatching(/^Production-Stateless:ExportsOutputRefReleaseStateMachine/) },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      AlarmActions: [Match.anyValue()],
    });
  });

  test("the crash Lambda's role is the rollback's: traffic control, the topic, and the release state machine's executions", () => {
    const statements = resourcesOf(template, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const actions = new Set(statements.flatMap((s) => [s.Action].flat()));
    for (const a of ['states:ListExecutions', 'states:StopExecution', 'sns:Publish', 'elasticloadbalancing:ModifyRule', 'ecs:UpdateService', 'dynamodb:UpdateItem']) expect(actions).toContain(a);
    const stop = statements.find((s) => [s.Action].flat().includes('states:StopExecution'))!;
    expect(JSON.stringify(stop.Resource)).toContain(':execution:');
    expect(actions).not.toContain('dynamodb:DeleteTable');
  });
});
