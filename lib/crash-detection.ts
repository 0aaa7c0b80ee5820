import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { CrashDetectionConfig } from '../config/types';
import { ROLLBACK_TIMEOUT_SECONDS } from '../lambda/rollback/budget';
import { CRASH_STOP_CODES, HEALTH_CHECK_STOP_PREFIX, TASK_EVENT_DETAIL_TYPE, TASK_EVENT_SOURCE } from '../lambda/crash/event';
import { HandlerFunction } from './handler-function';
import { grantRollback } from './rollback';
import type { TrafficControl } from './traffic-control';

export interface CrashDetectionProps {
  readonly environment: string;
  /** The cluster running every service and color: its task state changes are watched. */
  readonly cluster: ecs.ICluster;
  /** Thresholds (config monitoring.crash). */
  readonly crash: Pick<CrashDetectionConfig, 'tasks' | 'windowSeconds'>;
  readonly trafficControl: TrafficControl;
  /** Its running execution is stopped when its new color crashes. */
  readonly releaseStateMachine: sfn.IStateMachine;
  readonly topic: sns.ITopic;
  readonly vpc: ec2.IVpc;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Crash detection in seconds (README "Crash detection"): ECS sends a task state change event when a task stops
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html); a rule on the crash-like stops
 * of this cluster's service tasks invokes a small Lambda (lambda/crash) that counts them per color and, when a
 * running release's new color crashes `tasks` times within `windowSeconds`, rolls it back through the rollback core
 * (same marker, record and notification as an alarm); otherwise it notifies, once per window. Its role is the
 * rollback's (it runs the same core) and its failures page like the rollback's: RollbackFailed / RollbackIncomplete
 * are the same metrics, and its own errors and failed async invocations go to the topic.
 */
export class CrashDetection extends Construct {
  readonly handler: HandlerFunction;
  readonly rule: events.Rule;
  readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CrashDetectionProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'Handler', {
      entry: 'lambda/crash/handler.ts',
      description: `${props.environment}: crash detection (ECS task stops of a color; rollback of a crashing new color)`,
      vpc: props.vpc,
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      // It may run the whole rollback: the rollback Lambda's budget (lambda/rollback/budget.ts).
      timeout: Duration.seconds(ROLLBACK_TIMEOUT_SECONDS),
      environment: {
        ...props.trafficControl.topologyDocument.handlerEnvironment,
        RELEASE_STATE_MACHINE_ARN: props.releaseStateMachine.stateMachineArn,
        CRASH_TASKS: String(props.crash.tasks),
        CRASH_WINDOW_SECONDS: String(props.crash.windowSeconds),
      },
    });
    const fn = this.handler.function;
    fn.configureAsyncInvoke({ retryAttempts: 2, onFailure: new destinations.SnsDestination(props.topic) });
    grantRollback(this.handler, props);

    // Only crash-like stops of service tasks (group "service:…") of this cluster: a deployment's or scale-in's stop
    // (ServiceSchedulerInitiated without a failed health check, UserInitiated, Spot) never invokes the Lambda. The
    // Lambda checks again (exit codes), so a pattern that lets more through costs an invocation, never a rollback.
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html ($or, prefix)
    this.rule = new events.Rule(this, 'OnTaskStopped', {
      description: `${props.environment}: a service task stopped crashing (essential container exit, failed health checks, failed start)`,
      eventPattern: {
        source: [TASK_EVENT_SOURCE],
        detailType: [TASK_EVENT_DETAIL_TYPE],
        detail: {
          clusterArn: [props.cluster.clusterArn],
          lastStatus: ['STOPPED'],
          group: [{ prefix: 'service:' }],
          $or: [{ stopCode: [...CRASH_STOP_CODES] }, { stoppedReason: [{ prefix: HEALTH_CHECK_STOP_PREFIX }] }],
        },
      },
      // A crash older than the window no longer counts anyway; retries cover a throttled or failed delivery.
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.minutes(10) })],
    });

    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription: `${props.environment}: the crash detection Lambda failed an invocation (a crashing new color may not have been rolled back)`,
      metric: fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.errorsAlarm.addAlarmAction(new actions.SnsAction(props.topic));
  }
}
