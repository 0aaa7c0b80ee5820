import { Arn, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, ROLLBACK_METRICS } from '../lambda/shared/metrics';
import { ROLLBACK_TIMEOUT_SECONDS } from '../lambda/rollback/budget';
import { HandlerFunction } from './handler-function';
import { acknowledgeIam5Resource, acknowledgeKmsGrantWildcards } from './nag';
import type { TrafficControl } from './traffic-control';


export interface AutomatedRollbackProps {
  readonly environment: string;
  /**
   * The alarms whose change to ALARM invokes the rollback: each color's composite alarm (one per color), which rolls up
   * every trigger of that color. An alarm on the stable color produces a notification only.
   */
  readonly alarms: readonly cloudwatch.IAlarm[];
  readonly trafficControl: TrafficControl;
  /** Its running execution is stopped by a rollback. */
  readonly releaseStateMachine: sfn.IStateMachine;
  readonly topic: sns.ITopic;
  readonly vpc: ec2.IVpc;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The 3 a.m. path: a rollback alarm's change to ALARM invokes the rollback Lambda directly through
 * EventBridge (no extra hop). It moves traffic to the stable color first, then stops the release and
 * scales the failed color to 0 (lambda/rollback/README.md). If it fails, it says so loudly: its own
 * failure metrics and Lambda errors page through the topic, and a failed async invocation lands there too.
 */
export class AutomatedRollback extends Construct {
  readonly handler: HandlerFunction;
  readonly rule: events.Rule;
  private readonly environment: string;

  constructor(scope: Construct, id: string, props: AutomatedRollbackProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'Handler', {
      entry: 'lambda/rollback/handler.ts',
      description: `${props.environment}: automated rollback on a rollback alarm`,
      vpc: props.vpc,
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      // The worst case to traffic safe, the steps after it and the time kept to report a failure
      // (lambda/rollback/budget.ts); the marker's claim lives as long as the invocation's remaining time.
      timeout: Duration.seconds(ROLLBACK_TIMEOUT_SECONDS),
      environment: {
        ...props.trafficControl.topologyDocument.handlerEnvironment,
        RELEASE_STATE_MACHINE_ARN: props.releaseStateMachine.stateMachineArn,
      },
    });
    const fn = this.handler.function;
    fn.configureAsyncInvoke({ retryAttempts: 2, onFailure: new destinations.SnsDestination(props.topic) });

    grantRollback(this.handler, props);

    // Only the composites (one per color), never every trigger: an event pattern is limited to 2,048 characters
    // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html), and 26 trigger ARNs resolved to about
    // 3,400. Two composite ARNs stay far below it however many services or triggers a color has; a composite alarm's
    // state change is an EventBridge event like a metric alarm's
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
    this.rule = new events.Rule(this, 'OnAlarm', {
      description: `${props.environment}: a color's rollback composite alarm went to ALARM`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: props.alarms.map((a) => a.alarmArn),
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.minutes(10) })],
    });

    this.environment = props.environment;
  }

  /**
   * The rollback's failure alarms (failed, incomplete, Lambda errors), each notifying `topic`, created in `scope`: the
   * environment's monitoring stack beside its other operations alarms (lib/monitoring-stack.ts), which keeps the
   * stateless stack's resources within 90 % of the quota with ten services.
   */
  addFailureAlarms(scope: Construct, topic: sns.ITopic): cloudwatch.Alarm[] {
    const fn = this.handler.function;
    const environment = this.environment;
    const notify = new actions.SnsAction(topic);
    const metric = (name: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { Environment: environment }, statistic: 'Sum', period: Duration.minutes(1) });
    return [
      ['Failed', 'ROLLBACK FAILED: traffic could not be moved back to the stable color', metric(ROLLBACK_METRICS.failed)],
      ['Incomplete', 'rollback incomplete: traffic is safe, a later step (stop release, scale down, ledger) failed', metric(ROLLBACK_METRICS.incomplete)],
      ['Errors', 'the rollback Lambda failed an invocation', fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' })],
    ].map(([alarmId, description, m]) => {
      const a = new cloudwatch.Alarm(scope, `AutomatedRollback${alarmId as string}Alarm`, {
        alarmDescription: `${environment}: ${description as string}`,
        metric: m as cloudwatch.IMetric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(notify);
      return a;
    });
  }
}

/**
 * What the rollback core (lambda/rollback/core.ts) calls: the traffic core's calls, the notification topic, and
 * listing and stopping the release state machine's executions. Shared by the rollback Lambda and crash detection
 * (lib/crash-detection.ts), which rolls back through the same core.
 */
export function grantRollback(handler: HandlerFunction, props: Pick<AutomatedRollbackProps, 'trafficControl' | 'topic' | 'releaseStateMachine'>): void {
  props.trafficControl.grantTrafficControl(handler);
  props.topic.grantPublish(handler);
  acknowledgeKmsGrantWildcards(handler, 'the notification topic');
  handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [props.releaseStateMachine.stateMachineArn] }));
  // A state machine ARN is arn:<partition>:states:<region>:<account>:stateMachine:<name> (a colon before the name,
  // not a slash), and its executions are arn:…:execution:<name>:<execution>.
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html#awsstepfunctions-resources-for-iam-policies
  const stateMachineName = Arn.split(props.releaseStateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  const executions = Stack.of(handler).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StopExecution'], resources: [executions] }));
  acknowledgeIam5Resource(handler, executions, 'Execution names are chosen at start; the pattern covers executions of this environment\'s release state machine only');
}
