import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ReleasePolicy } from '../config/types';
import {
  HANDLER_TIMEOUT_SECONDS,
  POLL_SECONDS,
  stateMachineTimeoutSeconds,
  TASK_TIMEOUT_SECONDS,
} from '../lambda/release/policy';
import { METRICS_NAMESPACE, RELEASE_METRICS } from '../lambda/shared/metrics';
import type { Color } from '../lambda/shared/topology';
import { grantWeightsMetric } from './traffic-control';
import { HandlerFunction } from './handler-function';
import type { TopologyDocument } from './topology-document';
import { acknowledgeKmsGrantWildcards, iam5ResourceFinding } from './nag';
import { grantTrafficWrites } from './traffic-resources';

/** The one-off migration task: the idle color's task definition of one service runs with `policy.migrationCommand`. */
export interface ReleaseMigrationProps {
  /** The service whose image holds the migrations (config `runsMigration`): a release without it runs no migration. */
  readonly service: string;
  /** That service's migration task definition per color; the release runs the idle (new) color's. */
  readonly taskDefinitions: Readonly<Record<Color, ecs.ITaskDefinition>>;
  /** Container whose command is overridden with the migration command. */
  readonly containerName: string;
  /** Subnets of the migration task (Fargate, no public IP). */
  readonly subnets: ec2.SubnetSelection;
  /** Security group of the migration task (its service's: it may reach the database). */
  readonly securityGroup: ec2.ISecurityGroup;
}

export interface ReleaseStateMachineProps {
  /** The environment's release policy (config/<env>.ts `release`): steps, bakes, timeouts, backup, migration. */
  readonly policy: ReleasePolicy;
  /**
   * The environment's stored topology, which the handlers read at run time. Its notification topic must be
   * `notificationTopic`; its rules must be on `productionListener` and its services in `cluster`.
   */
  readonly topology: TopologyDocument;
  readonly vpc: ec2.IVpc;
  /** Key of the handler's environment and logs and of the state machine's log group. */
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Every step publishes here. */
  readonly notificationTopic: sns.ITopic;
  /** The release lock (and the release record item `<env>#release`). */
  readonly lockTable: dynamodb.ITableV2;
  readonly ledgerTable: dynamodb.ITableV2;
  /**
   * The listener whose rules carry the services' weights: the release may modify its rules (any number of services,
   * one IAM statement).
   */
  readonly productionListener: elbv2.IApplicationListener;
  /** The cluster of every service and color (scaled by the release, and where the migration runs). */
  readonly cluster: ecs.ICluster;
  /** The database backed up before a release; required when `policy.backupBeforeRelease`. */
  readonly database?: rds.IDatabaseInstance;
  /** Required when `policy.migrationCommand` is set. */
  readonly migration?: ReleaseMigrationProps;
  /**
   * The ECR repository of each service: the PreflightChecks step requires the new version's image in it (and, with
   * `policy.imageScan`, no scan finding at or above the configured severity).
   * @default - no image check
   */
  readonly repositories?: Readonly<Record<string, ecr.IRepository>>;
  /**
   * The load balancer's certificates: the PreflightChecks step requires each ISSUED and valid for more than 14 days.
   * @default - no certificate check
   */
  readonly certificates?: readonly acm.ICertificate[];
  /**
   * Base URL of the pre-traffic checks instead of `https://<host>:<testListener.port>` (Host and color headers kept).
   * @default - the topology's test listener
   */
  readonly testListenerBaseUrl?: string;
  /**
   * Watch the new color's target health during the bakes (Bake, FinalBake, RollbackWindow): a loop of a short Wait and
   * a `watch` step instead of one long Wait; `unhealthyPolls` bad polls in a row end in CandidateUnhealthy → SafeState
   * (config monitoring.crash and monitoring.unhealthyTargetsPercent).
   * @default - a plain Wait per bake (the gate after it judges the alarms only)
   */
  readonly bakeWatch?: BakeWatchProps;
}

/** How the bake loop polls the new color's target health. */
export interface BakeWatchProps {
  /** Seconds between polls (at most MAX_WATCH_POLL_SECONDS: the overall timeout counts one poll past each bake). */
  readonly pollSeconds: number;
  /** Bad polls in a row that fail the bake. */
  readonly unhealthyPolls: number;
  /** Percent of a service's targets `unhealthy` that makes a poll bad. */
  readonly unhealthyTargetsPercent: number;
}

/** Error name of a release held for an alarm of the stable color (lambda/release/errors.ts ReleaseHeld). */
export const RELEASE_HELD_ERROR = 'ReleaseHeld';
/** Error name of a step that found the weights changed by someone else (lambda/release/errors.ts OperatorOverride): held too. */
export const OPERATOR_OVERRIDE_ERROR = 'OperatorOverride';
/** Error of a safe state whose own work failed (lambda/release/errors.ts SafeStateFailed); reported by the step. */
export const SAFE_STATE_FAILED_ERROR = 'SafeStateFailed';
/** Name of the Fail state (and error) of a Finish that did not complete; never followed by a rollback. */
export const FINISH_INCOMPLETE_ERROR = 'FinishIncomplete';

/**
 * Errors of Lambda itself (not of the handler's code) worth another attempt. Runtime.ExitError: the execution
 * environment died mid-step (a crash, out of memory, the host went away); the step did not finish, and every step is
 * safe to run again after an attempt that did part of its work (as after Lambda.Unknown): each re-reads what it
 * changes (Shift accepts its own target, Finish re-checks the lock and the weights, the backup and the migration are
 * idempotent per execution). Without it one crash rolled a good release back (or ended Finish incomplete). A crash
 * that repeats ends in the catch as before. Sandbox.Timedout is not retried: a step that hung for the function's
 * whole timeout goes to the safe state rather than keep traffic split for three more timeouts.
 */
/** Failed polls (not CandidateUnhealthy) in one bake after which the bake finishes without polling. */
export const BAKE_POLL_ERRORS = 3;
/** The watch step's verdict: the new color's targets are unhealthy (lambda/release/errors.ts). */
const CANDIDATE_UNHEALTHY_ERROR = 'CandidateUnhealthy';

const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  'Runtime.ExitError',
];

/**
 * The release state machine of one environment (Step Functions Standard), started with
 * `{"strategy": "canary" | "blue-green", "actor": "..."}` (both optional; strategy defaults to the policy's):
 *
 * Preflight (lock, alarms, versions) → PreflightChecks (images in ECR and their scans, certificates) → Backup? → Migration? (RunTask + poll) → ScaleUp → WaitForStable loop →
 * PreTraffic (test listener) → Shift → Bake → Gate → Judge [→ Bake again while inconclusive] [→ Approval after the first
 * canary step] → … → 100% →
 * FinalBake → FinalGate → RollbackWindow → WindowGate → Finish (old color to 0, unlock); Shift, the gates and Finish may
 * end in HoldState → ReleaseHeld (an alarm of the stable color, or OperatorOverride: someone else moved the weights).
 * Finish never goes to SafeState: once the new color serves 100% and the window passed, a failure (at or after the
 * scale-down of the old color, which is irreversible) is reported and ends in FinishIncomplete, never in a rollback.
 * A safe state whose own work fails emits ReleaseSafeStateFailed (alarmed here) and ends in SafeStateFailed.
 *
 * Every Task has a timeout, retries Lambda's transient errors and catches everything into SafeState: traffic back to
 * the stable color if any moved (then the new color to 0), lock released, notification, Fail. The gates judge the new
 * color only: an alarm of the stable color alone (ReleaseHeld, from a gate or a refused shift) goes to HoldState
 * instead: traffic stays where it is, record `held`, lock released, a notification with the promote / rollback
 * commands, Fail `ReleaseHeld`. An execution that ends without reaching SafeState or HoldState (overall timeout,
 * StopExecution, FAILED otherwise) triggers the same clean-up as SafeState through an EventBridge rule.
 * All work is done by one Lambda (`lambda/release/handler.ts`) built on the traffic core, except the Backup step: its
 * own small Lambda (`lambda/release/backup-handler.ts`), the only one with the RDS client and the RDS permissions, and
 * the PreflightChecks step: its own Lambda (`lambda/release/preflight-checks-handler.ts`), the only one with ECR and ACM,
 * and the Judge step: its own small Lambda (`lambda/release/judge-handler.ts`), the only one with GetMetricData.
 */
export class ReleaseStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly handler: HandlerFunction;
  /** The Backup step's function; present when `policy.backupBeforeRelease`. */
  readonly backupHandler?: HandlerFunction;
  /** The Judge step's function: reads both colors' ALB metrics (GetMetricData) and asks the statistical judge. */
  readonly judgeHandler: HandlerFunction;
  /** The PreflightChecks step's function (images in ECR and their scans, certificates); present with `repositories` or `certificates`. */
  readonly preflightChecksHandler?: HandlerFunction;
  /** Log group of the state machine (level ALL, with execution data). */
  readonly logGroup: logs.LogGroup;
  private readonly environment: string;

  /**
   * ReleaseSafeStateFailed >= 1 in a minute: the safe state could not finish its own work (or found the stable color not
   * running), the release lock is kept and the record says safe-failed; someone must look now. Notifies `topic`.
   * Created in `scope`, the environment's monitoring stack beside its other operations alarms (lib/monitoring-stack.ts).
   */
  addSafeStateFailedAlarm(scope: Construct, topic: sns.ITopic): cloudwatch.Alarm {
    const environment = this.environment;
    const alarm = new cloudwatch.Alarm(scope, 'ReleaseSafeStateFailedAlarm', {
      alarmDescription: `${environment}: RELEASE SAFE STATE FAILED: traffic may not be on a running color and the release lock is kept; see npm run release -- status --env ${environment}`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: RELEASE_METRICS.safeStateFailed,
        dimensionsMap: { Environment: environment },
        statistic: 'Sum',
        period: Duration.minutes(1),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(topic));
    return alarm;
  }

  constructor(scope: Construct, id: string, props: ReleaseStateMachineProps) {
    super(scope, id);
    const { policy } = props;
    const stack = Stack.of(this);
    if (policy.backupBeforeRelease && !props.database) throw new Error('ReleaseStateMachine: policy.backupBeforeRelease needs props.database');
    if (policy.migrationCommand && !props.migration) throw new Error('ReleaseStateMachine: policy.migrationCommand needs props.migration');
    const timeoutSeconds = stateMachineTimeoutSeconds(policy);
    const topology = props.topology.topology;
    const migration = policy.migrationCommand ? props.migration : undefined;

    const environment: Record<string, string> = {
      ...props.topology.handlerEnvironment,
      RELEASE_POLICY: JSON.stringify(policy),
      LOCK_TTL_SECONDS: String(timeoutSeconds),
    };
    if (migration) {
      environment.MIGRATION_TASK_DEFINITIONS = stack.toJsonString({
        blue: migration.taskDefinitions.blue.taskDefinitionArn,
        green: migration.taskDefinitions.green.taskDefinitionArn,
      });
      environment.MIGRATION_CONTAINER_NAME = migration.containerName;
      environment.MIGRATION_SERVICE = migration.service;
      environment.MIGRATION_SUBNETS = props.vpc.selectSubnets(migration.subnets).subnetIds.join(',');
      environment.MIGRATION_SECURITY_GROUPS = migration.securityGroup.securityGroupId;
    }
    if (props.testListenerBaseUrl) environment.TEST_LISTENER_BASE_URL = props.testListenerBaseUrl;

    this.handler = new HandlerFunction(this, 'Handler', {
      entry: 'lambda/release/handler.ts',
      description: `${topology.environment}: release steps (preflight, migration, scale, checks, shift, gate, safe state)`,
      vpc: props.vpc,
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      environment,
      timeout: Duration.seconds(HANDLER_TIMEOUT_SECONDS),
    });
    const testPort = topology.testListener?.port;
    if (testPort !== undefined && testPort !== 443) {
      this.handler.function.connections.allowTo(ec2.Peer.anyIpv4(), ec2.Port.tcp(testPort), 'Pre-traffic checks through the test listener');
    }
    this.grant(props, migration);
    if (policy.backupBeforeRelease && props.database) {
      this.backupHandler = new HandlerFunction(this, 'BackupHandler', {
        entry: 'lambda/release/backup-handler.ts',
        description: `${topology.environment}: release backup step (recent automated backup, manual RDS snapshot)`,
        vpc: props.vpc,
        encryptionKey: props.encryptionKey,
        logRetention: props.logRetention,
        environment: { ...props.topology.handlerEnvironment, DATABASE_INSTANCE_ID: props.database.instanceIdentifier },
        timeout: Duration.seconds(HANDLER_TIMEOUT_SECONDS),
      });
      this.grantBackup(props, this.backupHandler, props.database);
      props.topology.grantRead(this.backupHandler);
    }

    // The judge runs in its own function: only it bundles the statistics and GetMetricData and holds
    // cloudwatch:GetMetricData (the release handler's bundle is at its size limit).
    this.judgeHandler = new HandlerFunction(this, 'JudgeHandler', {
      entry: 'lambda/release/judge-handler.ts',
      description: `${topology.environment}: release judge step (new color against stable color, CloudWatch GetMetricData)`,
      vpc: props.vpc,
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      environment: { ...props.topology.handlerEnvironment, RELEASE_POLICY: JSON.stringify(policy) },
      timeout: Duration.seconds(HANDLER_TIMEOUT_SECONDS),
    });
    this.grantJudge(props, this.judgeHandler);
    props.topology.grantRead(this.judgeHandler);
    if (props.repositories || props.certificates) {
      const repositories = props.repositories ?? {};
      this.preflightChecksHandler = new HandlerFunction(this, 'PreflightChecksHandler', {
        entry: 'lambda/release/preflight-checks-handler.ts',
        description: `${topology.environment}: release preflight checks (new images in ECR and their scans, load balancer certificates)`,
        vpc: props.vpc,
        encryptionKey: props.encryptionKey,
        logRetention: props.logRetention,
        environment: {
          ...props.topology.handlerEnvironment,
          IMAGE_REPOSITORIES: stack.toJsonString(Object.fromEntries(Object.entries(repositories).map(([s, r]) => [s, r.repositoryName]))),
          CERTIFICATE_ARNS: (props.certificates ?? []).map((c) => c.certificateArn).join(','),
          ...(policy.imageScan ? { IMAGE_SCAN: JSON.stringify(policy.imageScan) } : {}),
        },
        timeout: Duration.seconds(HANDLER_TIMEOUT_SECONDS),
      });
      this.grantPreflightChecks(props, this.preflightChecksHandler, Object.values(repositories), props.certificates ?? []);
      props.topology.grantRead(this.preflightChecksHandler);
    }

    // ---- the definition --------------------------------------------------------------------------------------
    const released = new sfn.Succeed(this, 'Released', { comment: 'New color at 100%, old color scaled to 0, lock released' });
    const failed = new sfn.Fail(this, 'ReleaseFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause', comment: 'Safe state reached: traffic on the stable color, lock released' });
    const safeStateFailed = new sfn.Fail(this, 'SafeStateFailed', {
      error: 'SafeStateFailed',
      cause:
        'The safe state itself failed (record safe-failed, ReleaseSafeStateFailed alarm, lock kept on purpose): check traffic by hand ' +
        '(npm run release -- status --env <env>), then clear the lock (npm run release -- unlock --env <env>)',
    });
    const safeState = this.task('SafeState', { step: 'safe', 'executionId.$': '$$.Execution.Id', 'release.$': '$.release', 'error.$': '$.error' }, '$.safe', {
      catchToSafe: false,
      comment: 'Traffic back to the stable color if any moved (then the new color to 0), release the lock, notify',
    });
    // SafeStateFailed is the step's own verdict after its calls' retries, already reported (record safe-failed, ledger,
    // notification, metric): retrying it would only report it again, up to four times. Retriers are evaluated in
    // order, so it is matched first and never retried; a crash or timeout of the Lambda itself is retried.
    safeState.addRetry({ errors: [SAFE_STATE_FAILED_ERROR], maxAttempts: 0 });
    safeState.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    safeState.addCatch(safeStateFailed, { resultPath: '$.safeError' });
    safeState.next(failed);
    // An alarm of the STABLE color (the new one's alarms all OK) is no fault of the new color: the release stops in
    // Held, traffic stays where it is, the lock is released for the operator's decision (traffic CLI promote or
    // rollback, named in the notification), and the record says held so the Abandoned clean-up leaves it alone.
    const heldEnd = new sfn.Fail(this, 'ReleaseHeld', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
      comment: 'Held: an alarm of the stable color; traffic where it was, lock released, the operator decides (promote or roll back)',
    });
    const holdFailed = new sfn.Fail(this, 'HoldFailed', {
      error: 'HoldFailed',
      cause: 'The release was held (stable color in ALARM) but recording the hold failed: check traffic and the lock by hand (npm run traffic -- status --env <env>)',
    });
    const hold = this.task('HoldState', { step: 'hold', 'executionId.$': '$$.Execution.Id', 'release.$': '$.release', 'error.$': '$.error' }, '$.hold', {
      catchToSafe: false,
      comment: 'Traffic stays where it is; record held, release the lock, notify the alarm and the promote / rollback commands',
    });
    hold.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    hold.addCatch(holdFailed, { resultPath: '$.holdError' });
    hold.next(heldEnd);
    // Finish failed: the new color is at 100% after its rollback window; the step reported what it could (record
    // finish-incomplete, ledger, notification) and the Abandoned clean-up reports the rest. Never a rollback.
    const finishIncomplete = new sfn.Fail(this, 'FinishIncomplete', {
      error: FINISH_INCOMPLETE_ERROR,
      causePath: '$.error.Cause',
      comment: 'Finish did not complete: traffic stays on the new color, nothing rolled back; the notification names the commands',
    });
    const t = (
      id: string,
      payload: Record<string, unknown>,
      resultPath: string,
      opts: {
        comment?: string;
        resultSelector?: Record<string, unknown>;
        lambdaFunction?: lambda.IFunction;
        holdable?: boolean;
        catchAll?: sfn.IChainable;
        toSafeFirst?: readonly string[];
        catchAllResultPath?: string;
      } = {},
    ) =>
      this.task(id, payload, resultPath, { ...opts, catchToSafe: true, safeState: opts.catchAll ?? safeState, safeStateForFirst: safeState, held: opts.holdable ? hold : undefined });
    const release = { 'release.$': '$.release' };
    const poll = { 'done.$': '$.done', 'detail.$': '$.detail' };

    const init = new sfn.Pass(this, 'Init', {
      comment: 'Keep the execution input; the release state starts empty (the safe state reads it)',
      parameters: { 'input.$': '$', release: {} },
    });
    const preflight = t('Preflight', { step: 'preflight', 'executionId.$': '$$.Execution.Id', 'input.$': '$.input' }, '$.release', {
      comment: 'Lock (owner = execution), no alarm in ALARM, traffic not split, idle color on a new version',
    });
    init.next(preflight);
    let last: tasks.LambdaInvoke = preflight;
    if (this.preflightChecksHandler) {
      // A refusal (PreflightRefused) goes to the safe state like every step's: no traffic moved, nothing scaled yet,
      // so it records the release failed and releases the lock.
      const checks = t('PreflightChecks', { step: 'preflightChecks', ...release }, '$.release', {
        comment: "Every service's new image in its ECR repository (no scan finding at or above release.imageScan); load balancer certificates ISSUED, valid > 14 days",
        lambdaFunction: this.preflightChecksHandler.function,
      });
      last.next(checks);
      last = checks;
    }
    if (this.backupHandler) {
      const backup = t('Backup', { step: 'backup', ...release }, '$.release', {
        comment: 'Recent automated backup exists; manual RDS snapshot',
        lambdaFunction: this.backupHandler.function,
      });
      last.next(backup);
      last = backup;
    }
    const scaleUp = t('ScaleUp', { step: 'scaleUp', ...release }, '$.release', { comment: "Idle color to the live color's counts" });
    if (migration) {
      const start = t('StartMigration', { step: 'migrationStart', ...release }, '$.release', { comment: "RunTask of the idle color's backend with the migration command" });
      const wait = new sfn.Wait(this, 'WaitForMigration', { time: sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS)) });
      const check = t('CheckMigration', { step: 'migrationCheck', ...release }, '$.poll', { resultSelector: poll, comment: 'Exit 0 → done; other exit → MigrationFailed; deadline → MigrationTimeout' });
      const done = new sfn.Choice(this, 'MigrationDone?').when(sfn.Condition.booleanEquals('$.poll.done', true), scaleUp).otherwise(wait);
      last.next(start);
      start.next(wait);
      wait.next(check);
      check.next(done);
    } else {
      last.next(scaleUp);
    }
    const waitStable = new sfn.Wait(this, 'WaitForStable', { time: sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS)) });
    const checkStable = t('CheckStable', { step: 'stabilizeCheck', ...release }, '$.poll', {
      resultSelector: poll,
      comment: `running == desired and healthy targets in every AZ; StabilizeTimeout after ${policy.stabilizeTimeoutSeconds} s`,
    });
    const preTraffic = t('PreTrafficChecks', { step: 'preTraffic', ...release }, '$.preTraffic', {
      resultSelector: { 'passed.$': '$.passed', 'checks.$': '$.checks' },
      comment: "Each service's configured checks (path and status) on the new color via the test listener",
    });
    const shift = t('Shift', { step: 'shift', ...release }, '$.release', {
      comment: 'Next step of the new color (guards: lock, alarms, health); refused for an alarm of the stable color only → Held',
      holdable: true,
    });
    const gate = t('Gate', { step: 'gate', phase: 'bake', ...release }, '$.release', {
      comment: "The new color's rollback and comparison alarms not in ALARM, else GateFailed → rollback; a stable-color alarm → ReleaseHeld",
      holdable: true,
    });
    const judge = t('Judge', { step: 'judge', ...release }, '$.release', {
      comment:
        `New color against stable color on the same load since the step's shift (statistical judge): pass → on; fail → GateFailed → rollback; ` +
        `inconclusive → bake again (up to ${policy.judge.maxExtensions} time(s)), then onInconclusive=${policy.judge.onInconclusive}`,
      lambdaFunction: this.judgeHandler.function,
      holdable: true,
    });
    const bake = this.bakeLoop('Bake', policy.bakeSeconds, gate, props.bakeWatch, t);
    const finalGate = t('FinalGate', { step: 'gate', phase: 'final', ...release }, '$.release', { holdable: true });
    const finalBake = this.bakeLoop('FinalBake', policy.finalBakeSeconds, finalGate, props.bakeWatch, t);
    const windowGate = t('WindowGate', { step: 'gate', phase: 'window', ...release }, '$.release', { holdable: true });
    const window = this.bakeLoop('RollbackWindow', policy.rollbackWindowSeconds, windowGate, props.bakeWatch, t, 'Old color keeps running');
    const finish = t('Finish', { step: 'finish', ...release }, '$.result', {
      comment: 'Lock still ours and weights still the release\'s 100% (else OperatorOverride → Held); old color to 0, release the lock; any later failure → FinishIncomplete, never SafeState',
      holdable: true,
      catchAll: finishIncomplete,
    });

    scaleUp.next(waitStable);
    waitStable.next(checkStable);
    checkStable.next(new sfn.Choice(this, 'Stable?').when(sfn.Condition.booleanEquals('$.poll.done', true), preTraffic).otherwise(waitStable));
    preTraffic.next(shift);
    shift.next(new sfn.Choice(this, 'AtFullTraffic?').when(sfn.Condition.numberEquals('$.release.percent', 100), finalBake).otherwise(bake));
    gate.next(judge);
    // Inconclusive with extensions left: bake again, then the alarm gate and the judge look again.
    const extend = new sfn.Choice(this, 'ExtendBake?', { comment: 'The judge was inconclusive and the step has extensions left' }).when(
      sfn.Condition.booleanEquals('$.release.extend', true),
      bake,
    );
    if (policy.approvalAfterFirstStep) {
      const approvalChoice = new sfn.Choice(this, 'ApprovalNeeded?');
      const approval = new tasks.LambdaInvoke(this, 'Approval', {
        lambdaFunction: this.handler.function,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({ step: 'approvalRequest', token: sfn.JsonPath.taskToken, release: sfn.JsonPath.objectAt('$.release') }),
        resultPath: '$.approval',
        heartbeatTimeout: sfn.Timeout.duration(Duration.seconds(policy.approvalTimeoutSeconds)),
        // The extra task timeout covers the invocation that stores the token; the heartbeat bounds the wait itself.
        taskTimeout: sfn.Timeout.duration(Duration.seconds(policy.approvalTimeoutSeconds + TASK_TIMEOUT_SECONDS)),
        retryOnServiceExceptions: false,
        comment: 'Manual approval before leaving the first canary step (npm run release -- approve --env <env>)',
      });
      approval.addRetry({ errors: TRANSIENT_ERRORS, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
      approval.addCatch(safeState, { resultPath: '$.error' });
      approval.next(shift);
      approvalChoice.when(sfn.Condition.booleanEquals('$.release.awaitApproval', true), approval);
      judge.next(extend.otherwise(approvalChoice.otherwise(shift)));
    } else {
      // A Choice state needs at least one rule, so without approval the judge goes straight on.
      judge.next(extend.otherwise(shift));
    }
    finalGate.next(window);
    windowGate.next(finish);
    finish.next(released);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.encryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `${topology.environment}: blue/green and canary release`,
      definitionBody: sfn.DefinitionBody.fromChainable(init),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.seconds(timeoutSeconds),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // X-Ray and log delivery: CloudWatch Logs' vended delivery and X-Ray trace APIs have no resource-level permissions.
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'CDK-generated: logs:*LogDelivery*, logs:Describe* and xray:Put*/Get* do not support resource-level permissions',
    });
    for (const fn of [this.handler, this.backupHandler, this.judgeHandler, this.preflightChecksHandler].filter((f): f is HandlerFunction => !!f)) {
      Validations.of(this.stateMachine).acknowledge({
        id: iam5ResourceFinding(this, `${fn.functionArn}:*`),
        reason: 'CDK-generated: invoking the release handler by any version or alias',
      });
    }

    // An execution that ends without its safe state (overall timeout, StopExecution, or FAILED without the safe state
    // having run: SafeStateFailed, a state its catch does not cover) gets the same clean-up. The handler is idempotent:
    // it acts only while the release record still names this execution as running (a safe state, hold or finish that
    // ran has rewritten it) and never while a newer execution holds the lock.
    new events.Rule(this, 'Abandoned', {
      description: `${topology.environment}: clean up a release execution that timed out, was stopped or failed`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: ['TIMED_OUT', 'ABORTED', 'FAILED'] },
      },
      targets: [
        new targets.LambdaFunction(this.handler.function, {
          event: events.RuleTargetInput.fromObject({
            step: 'abandoned',
            executionArn: events.EventField.fromPath('$.detail.executionArn'),
            status: events.EventField.fromPath('$.detail.status'),
            // A held release (ReleaseHeld, OperatorOverride, or HoldFailed when recording the hold failed) and a
            // FinishIncomplete must not be rolled back.
            error: events.EventField.fromPath('$.detail.error'),
          }),
          retryAttempts: 4,
        }),
      ],
    });

    this.environment = topology.environment;
  }

  /**
   * A bake of `seconds` followed by `next`; returns the bake's first state. Without `watch` one Wait. With it, a loop:
   * `<id>` (Pass: starts the clock) → `<id>Wait` (pollSeconds) → `<id>Watch` (the new color's target health;
   * CandidateUnhealthy goes to SafeState like GateFailed, any other failure to `<id>PollFailed`, counted: after
   * BAKE_POLL_ERRORS the rest of the bake is the plain Wait `<id>Unwatched`) → `<id>Done?` (bake time up → `next`, else
   * wait again). The elapsed time is measured from the Pass's entered time, not counted in polls, so slow polls never
   * stretch the bake. Each poll adds 9 history events (lambda/release/policy.ts worstCaseHistoryEvents).
   */
  private bakeLoop(
    id: string,
    seconds: number,
    next: sfn.IChainable,
    watch: BakeWatchProps | undefined,
    t: (
      id: string,
      payload: Record<string, unknown>,
      resultPath: string,
      opts?: { comment?: string; catchAll?: sfn.IChainable; toSafeFirst?: readonly string[]; catchAllResultPath?: string },
    ) => tasks.LambdaInvoke,
    comment?: string,
  ): sfn.State {
    if (!watch) {
      const wait = new sfn.Wait(this, id, { time: sfn.WaitTime.duration(Duration.seconds(seconds)), comment });
      wait.next(next);
      return wait;
    }
    const start = new sfn.Pass(this, id, {
      comment: `${comment ? `${comment}; ` : ''}bake ${seconds} s, the new color's target health polled every ${watch.pollSeconds} s`,
      parameters: { 'since.$': '$$.State.EnteredTime', seconds, percent: watch.unhealthyTargetsPercent, polls: watch.unhealthyPolls, strikes: 0, errors: { n: 0 } },
      resultPath: '$.watch',
    });
    const wait = new sfn.Wait(this, `${id}Wait`, { time: sfn.WaitTime.duration(Duration.seconds(Math.min(watch.pollSeconds, Math.max(seconds, 1)))) });
    // A poll that fails for any other reason (DescribeTargetHealth throttled past the step's retries, a topology read,
    // a Lambda timeout) says nothing against the new color: it must not roll back a healthy release. It is counted;
    // the loop polls on, and after BAKE_POLL_ERRORS failed polls in one bake the rest of the bake is one plain Wait
    // (the alarms and the gate still judge). Without this, a bake of hundreds of polls made every transient error a
    // rollback.
    const fallback = new sfn.Wait(this, `${id}Unwatched`, {
      comment: `${BAKE_POLL_ERRORS} polls failed: the rest of the bake without polling (at most ${seconds} s)`,
      time: sfn.WaitTime.duration(Duration.seconds(seconds)),
    });
    fallback.next(next);
    const countError = new sfn.Pass(this, `${id}PollFailed`, {
      comment: 'One more failed poll of this bake',
      parameters: { 'n.$': 'States.MathAdd($.watch.errors.n, 1)' },
      resultPath: '$.watch.errors',
    });
    countError.next(new sfn.Choice(this, `${id}TooManyFailedPolls?`).when(sfn.Condition.numberGreaterThanEquals('$.watch.errors.n', BAKE_POLL_ERRORS), fallback).otherwise(wait));
    const poll = t(`${id}Watch`, { step: 'watch', 'release.$': '$.release', 'watch.$': '$.watch' }, '$.watch', {
      comment: `Unhealthy targets of the new color in ${watch.unhealthyPolls} polls in a row → CandidateUnhealthy → rollback; any other failure → ${id}PollFailed`,
      toSafeFirst: [CANDIDATE_UNHEALTHY_ERROR],
      catchAll: countError,
      catchAllResultPath: '$.watchError',
    });
    start.next(wait);
    wait.next(poll);
    poll.next(new sfn.Choice(this, `${id}Done?`).when(sfn.Condition.booleanEquals('$.watch.done', true), next).otherwise(wait));
    return start;
  }

  private task(
    id: string,
    payload: Record<string, unknown>,
    resultPath: string,
    opts: {
      catchToSafe: boolean;
      safeState?: sfn.IChainable;
      /** Where ReleaseHeld goes (caught before everything else goes to the safe state). */
      held?: sfn.IChainable;
      comment?: string;
      resultSelector?: Record<string, unknown>;
      lambdaFunction?: lambda.IFunction;
      /** Errors that go to the safe state (`$.error`) before the catch-all, when the catch-all goes elsewhere. */
      toSafeFirst?: readonly string[];
      safeStateForFirst?: sfn.IChainable;
      /** Where the catch-all puts the error. @default '$.error' */
      catchAllResultPath?: string;
    },
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, id, {
      lambdaFunction: opts.lambdaFunction ?? this.handler.function,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject(payload),
      resultPath,
      resultSelector: opts.resultSelector,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(TASK_TIMEOUT_SECONDS)),
      retryOnServiceExceptions: false,
      comment: opts.comment,
    });
    task.addRetry({ errors: TRANSIENT_ERRORS, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    // Catchers are evaluated in order: ReleaseHeld and OperatorOverride must come before States.ALL.
    if (opts.held) task.addCatch(opts.held, { errors: [RELEASE_HELD_ERROR, OPERATOR_OVERRIDE_ERROR], resultPath: '$.error' });
    if (opts.toSafeFirst?.length && opts.safeStateForFirst) task.addCatch(opts.safeStateForFirst, { errors: [...opts.toSafeFirst], resultPath: '$.error' });
    if (opts.catchToSafe && opts.safeState) task.addCatch(opts.safeState, { resultPath: opts.catchAllResultPath ?? '$.error' });
    return task;
  }

  /**
   * The Backup step's function: the RDS calls (describe the instance and its automated snapshots, create and tag the
   * release snapshot), the ledger entry and the notification. Nothing else; no other function gets RDS permissions.
   */
  private grantBackup(props: ReleaseStateMachineProps, fn: HandlerFunction, db: rds.IDatabaseInstance): void {
    const { partition, region, account } = Stack.of(this);
    const add = (actions: string[], resources: string[]) => fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
    const env = props.topology.topology.environment;
    const releaseSnapshots = `arn:${partition}:rds:${region}:${account}:snapshot:release-${env}-*`;
    // Automated snapshots are named rds:<instance>-<time>; the instance identifier is a reference to
    // the stateful stack, which cdk-nag cannot name in an acknowledgment, so describe-only access
    // covers automated snapshots of the account and region.
    const automatedSnapshots = `arn:${partition}:rds:${region}:${account}:snapshot:rds:*`;
    add(['rds:DescribeDBInstances'], [db.instanceArn]);
    add(['rds:DescribeDBSnapshots'], [db.instanceArn, automatedSnapshots]);
    add(['rds:CreateDBSnapshot'], [db.instanceArn, releaseSnapshots]);
    add(['rds:AddTagsToResource'], [releaseSnapshots]);
    Validations.of(fn).acknowledge({
      id: iam5ResourceFinding(this, releaseSnapshots),
      reason: 'Release snapshots are named release-<env>-<date>-<execution> at run time; the prefix limits the grant to them',
    });
    Validations.of(fn).acknowledge({
      id: iam5ResourceFinding(this, automatedSnapshots),
      reason: 'Describe-only access to automated snapshots (rds:*), read to confirm a recent backup of this instance',
    });
    props.ledgerTable.grant(fn, 'dynamodb:PutItem');
    if (props.ledgerTable.encryptionKey) props.ledgerTable.encryptionKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    props.notificationTopic.grantPublish(fn);
    acknowledgeKmsGrantWildcards(fn, 'the ledger table and the notification topic');
  }

  /**
   * The Judge step's function: GetMetricData, the ledger entry and the notification, the topology (granted by the
   * caller). cloudwatch:GetMetricData supports no resource-level permissions (resource `*`):
   * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
   */
  private grantJudge(props: ReleaseStateMachineProps, fn: HandlerFunction): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:GetMetricData (read-only) supports no resource-level permissions (Service Authorization Reference, Amazon CloudWatch)',
    });
    props.ledgerTable.grant(fn, 'dynamodb:PutItem');
    if (props.ledgerTable.encryptionKey) props.ledgerTable.encryptionKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    props.notificationTopic.grantPublish(fn);
    acknowledgeKmsGrantWildcards(fn, 'the ledger table and the notification topic');
  }

  /**
   * The PreflightChecks step's function: read-only ECR calls on the services' repositories, DescribeCertificate on the
   * load balancer's certificates, the ledger entry and the notification. No other function gets ECR or ACM permissions.
   */
  private grantPreflightChecks(props: ReleaseStateMachineProps, fn: HandlerFunction, repositories: readonly ecr.IRepository[], certificates: readonly acm.ICertificate[]): void {
    if (repositories.length > 0) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecr:DescribeImages', 'ecr:DescribeImageScanFindings'], resources: [...new Set(repositories.map((r) => r.repositoryArn))] }));
      // With ECR enhanced scanning (Amazon Inspector), DescribeImageScanFindings also needs the caller to hold
      // inspector2:ListFindings; without it every release of a registry on enhanced scanning fails in preflight.
      // https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-iam.html
      // ListFindings supports no resource-level permissions (Service Authorization Reference, Amazon Inspector2).
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['inspector2:ListFindings'], resources: ['*'] }));
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'inspector2:ListFindings (read-only) has no resource-level permissions; ECR requires it of DescribeImageScanFindings callers under enhanced scanning',
      });
    }
    if (certificates.length > 0) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['acm:DescribeCertificate'], resources: certificates.map((c) => c.certificateArn) }));
    }
    props.ledgerTable.grant(fn, 'dynamodb:PutItem');
    if (props.ledgerTable.encryptionKey) props.ledgerTable.encryptionKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    props.notificationTopic.grantPublish(fn);
    acknowledgeKmsGrantWildcards(fn, 'the ledger table and the notification topic');
  }

  /** Exactly what the steps call, scoped to this environment's resources. */
  private grant(props: ReleaseStateMachineProps, migration: ReleaseMigrationProps | undefined): void {
    const fn = this.handler;
    const { partition, region, account } = Stack.of(this);
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources, conditions }));

    grantTrafficWrites(fn, props);
    const describe: string[] = [
      // Read-only actions without resource-level permissions (Service Authorization Reference); DescribeAlarms as the
      // traffic core's other callers have it (lib/traffic-control.ts): the alarm list grows with every service.
      'elasticloadbalancing:DescribeRules',
      'elasticloadbalancing:DescribeTargetHealth',
      'ecs:DescribeTaskDefinition',
      'cloudwatch:DescribeAlarms',
      // Scalable targets have no ARN known at synth; the traffic core registers the four services' targets only.
      'application-autoscaling:RegisterScalableTarget',
    ];
    add(describe, ['*']);
    grantWeightsMetric(fn);
    // GetItem covers the lock and the topology document, both items of the lock table.
    // GetItem covers the rollback Lambda's marker items too (the safe state reads whether it already rolled back).
    props.lockTable.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem');
    // Query: preflight reads completed releases (refuses a downgrade).
    props.ledgerTable.grant(fn, 'dynamodb:PutItem', 'dynamodb:Query');
    for (const key of new Set([props.lockTable.encryptionKey, props.ledgerTable.encryptionKey].filter((k): k is kms.IKey => !!k))) {
      key.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    }
    props.notificationTopic.grantPublish(fn);
    acknowledgeKmsGrantWildcards(fn, 'the lock and ledger tables and the notification topic');

    if (migration) {
      const cluster = props.cluster;
      add(['ecs:RunTask'], [migration.taskDefinitions.blue.taskDefinitionArn, migration.taskDefinitions.green.taskDefinitionArn], {
        ArnEquals: { 'ecs:cluster': cluster.clusterArn },
      });
      // ListTasks (idempotent start by startedBy) has no task resource; the condition pins it to the cluster.
      add(['ecs:ListTasks'], ['*'], { ArnEquals: { 'ecs:cluster': cluster.clusterArn } });
      const clusterTasks = `arn:${partition}:ecs:${region}:${account}:task/${cluster.clusterName}/*`;
      add(['ecs:DescribeTasks', 'ecs:StopTask'], [clusterTasks]);
      const roles = [
        ...Object.values(migration.taskDefinitions).flatMap((td) => [td.taskRole, td.executionRole]),
      ].filter((r): r is iam.IRole => !!r);
      add(['iam:PassRole'], [...new Set(roles.map((r) => r.roleArn))], { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      Validations.of(fn).acknowledge({
        id: iam5ResourceFinding(this, clusterTasks),
        reason: "The migration task's ID is known only at run time; the grant covers tasks of this cluster only",
      });
    }
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'elasticloadbalancing:DescribeRules/DescribeTargetHealth, ecs:DescribeTaskDefinition, cloudwatch:DescribeAlarms (read-only) and ecs:ListTasks (pinned to the cluster by condition) ' +
        'support no resource-level permissions; application-autoscaling:RegisterScalableTarget targets have no ARN at synth',
    });
  }
}
