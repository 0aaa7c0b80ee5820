import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ServiceConfig } from '../config';
import { COLORS, type Color, scalableTargetResourceId, type ServiceName } from '../lambda/shared/topology';
import { migrationStreamPrefix } from '../lambda/shared/database-task';
import type { TrafficResourceProvider } from './traffic-resources';

/** Every color's target group health check (also the crash timeline's input, scripts/lib/crash-timeline.ts). */
export const TARGET_HEALTH_CHECK = { intervalSeconds: 10, timeoutSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 3 } as const;
/** Every service container's health check (ECS stops a task that fails it `retries` times after `startPeriodSeconds`). */
export const CONTAINER_HEALTH_CHECK = { intervalSeconds: 15, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 30 } as const;

/**
 * AWS Distro for OpenTelemetry collector, run as a sidecar for APM; its bundled `ecs-xray.yaml`
 * receives OTLP on localhost:4317/4318 and sends traces to X-Ray.
 * https://aws-otel.github.io/docs/setup/ecs
 */
export const ADOT_COLLECTOR_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1';

export interface ColoredServiceProps {
  /** The service's name in config (`services.<name>`): log stream prefix, trace service name. */
  readonly serviceName: ServiceName;
  readonly cluster: ecs.ICluster;
  readonly config: ServiceConfig;
  /** Shared by both colors, so data stores allow the service once, whatever color runs. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Plain environment variables; never put secret values here, use `secrets`. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Injected by ECS from Secrets Manager at task start. `TaskSecret`s rather than plain `ecs.Secret`s,
   * so the execution role can also decrypt each secret's KMS key. @default - none
   */
  readonly secrets?: Readonly<Record<string, TaskSecret>>;
  /**
   * A one-off task per color for the release's migration: the same image and environment, with ONLY these secrets
   * (the schema owner's credentials), so the serving tasks never hold DDL rights. @default - no migration task
   */
  readonly migrationSecrets?: Readonly<Record<string, TaskSecret>>;
  readonly logRetention: logs.RetentionDays;
  /** Key for the log groups. */
  readonly logKey: kms.IKey;
  /** Sets the starting counts once; afterwards traffic control owns them. */
  readonly provider: TrafficResourceProvider;
  /** Trace with an ADOT collector sidecar to X-Ray. @default false */
  readonly apm?: boolean;
  /** Environment name, for traces. @default - not set */
  readonly environmentName?: string;
}

/**
 * An ECS secret from Secrets Manager whose `grantRead` also lets the grantee decrypt with the
 * secret's own KMS key, on its own IAM policy.
 *
 * `ecs.Secret.fromSecretsManager` leaves the key to the secret's `grantRead`, which grants it through
 * the key's policy. For a secret of another stack (imported together with its imported key, so this
 * stack's roles never enter the other stack's key policy), that statement has no policy to go to
 * and is silently dropped: the execution role can fetch the secret but not decrypt it, and tasks
 * fail with ResourceInitializationError. This grant adds kms:Decrypt on exactly that key, only for
 * calls Secrets Manager makes on the role's behalf (kms:ViaService), to the role's own policy; the
 * key policy already lets this account's IAM policies grant the key.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
 */
export class TaskSecret extends ecs.Secret {
  /** Like `ecs.Secret.fromSecretsManager`: the whole secret, or one JSON `field` of it. */
  static fromSecretsManager(secret: secretsmanager.ISecret, field?: string): TaskSecret {
    return new TaskSecret(secret, field);
  }

  readonly arn: string;
  readonly hasField: boolean;
  /** The secret; its `encryptionKey` (if any) is what `grantRead` lets the grantee decrypt with. */
  readonly secret: secretsmanager.ISecret;

  private constructor(secret: secretsmanager.ISecret, field?: string) {
    super();
    this.secret = secret;
    this.arn = field ? `${secret.secretArn}:${field}::` : secret.secretArn;
    this.hasField = !!field;
  }

  grantRead(grantee: iam.IGrantable): iam.Grant {
    const grant = this.secret.grantRead(grantee);
    const key = this.secret.encryptionKey;
    // Without a customer managed key, Secrets Manager uses aws/secretsmanager, whose policy
    // already allows this account's principals through Secrets Manager.
    if (!key) return grant;
    return grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:Decrypt'],
        resourceArns: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this.secret).region}.amazonaws.com` } },
      }),
    );
  }
}

/** One color of a service: what a blue/green switch moves traffic between. */
export interface ServiceColor {
  readonly color: Color;
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly logGroup: logs.LogGroup;
  /** The color's migration task (`migrationSecrets`); its container is named `App` like the service's. */
  readonly migrationTaskDefinition?: ecs.FargateTaskDefinition;
}

/**
 * A service (one entry of config `services`) as two Fargate services, blue and green, each with its own task
 * definition, image version, target group and log group. Which color serves users is decided by
 * the listener rule weights, not here.
 *
 * Task counts belong to traffic control: the services have no DesiredCount in the template (so an
 * update never resets it) and Custom::ServiceCounts sets the starting counts and scalable targets
 * once (lambda/custom-resources/service-counts.ts): blue at the configured count, green at 0.
 */
export class ColoredService extends Construct {
  readonly colors: Readonly<Record<Color, ServiceColor>>;
  /** Sets the starting counts and scalable targets once, after the services exist. */
  readonly counts: CustomResource;
  /** The role the application's containers run with, shared by both colors (they run the same service). */
  readonly taskRole: iam.Role;
  /** The role ECS pulls images, writes logs and fetches secrets with, shared by both colors. */
  readonly executionRole: iam.Role;
  /** The service's log group, both colors' streams (prefixed `blue/`, `green/`) and its migration task's. */
  readonly logGroup: logs.LogGroup;
  /** The ECR repository of the service's images (config `repositoryName`), both colors'. */
  readonly repository: ecr.IRepository;

  constructor(scope: Construct, id: string, props: ColoredServiceProps) {
    super(scope, id);
    const { config: c } = props;
    // One task role and one execution role per service rather than per color: both colors of a service need the same
    // permissions, and each role with its policy is two or three of CloudFormation's 500 resources per stack, which
    // ten services must fit in (test/cdk/services.test.ts). The migration task keeps roles of its own: only it may
    // fetch the schema owner's credentials. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
    this.taskRole = new iam.Role(this, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    this.executionRole = new iam.Role(this, 'ExecutionRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    // One log group per service too, its streams prefixed with the color: every line carries its color (APP_COLOR,
    // README "Log contract"), so one set of metric filters per service counts both colors by the `color` field.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const repository = (this.repository = ecr.Repository.fromRepositoryName(this, 'Repository', c.repositoryName));
    const colors = {} as Record<Color, ServiceColor>;
    for (const color of COLORS) {
      colors[color] = this.addColor(color, repository, props);
    }
    this.colors = colors;

    const scaling = c.autoscaling && { MinCapacity: c.autoscaling.minCapacity, MaxCapacity: c.autoscaling.maxCapacity };
    props.provider.grantServiceCounts(props.cluster);
    this.counts = new CustomResource(this, 'Counts', {
      serviceToken: props.provider.serviceToken,
      serviceTimeout: props.provider.serviceTimeout,
      resourceType: 'Custom::ServiceCounts',
      properties: {
        ClusterName: props.cluster.clusterName,
        Colors: Object.fromEntries(
          COLORS.map((color) => [
            color,
            {
              ServiceName: colors[color].service.serviceName,
              InitialDesiredCount: color === 'blue' ? c.desiredCount : 0,
              InitialScaling: scaling && (color === 'blue' ? scaling : { MinCapacity: 0, MaxCapacity: 0 }),
              Scaling: scaling,
            },
          ]),
        ),
      },
    });

    if (c.autoscaling) {
      for (const color of COLORS) {
        // Attached by resource ID rather than to an AWS::ApplicationAutoScaling::ScalableTarget: the
        // target is registered by Custom::ServiceCounts so that its bounds stay with traffic control.
        const policy = new appscaling.CfnScalingPolicy(this, `${color === 'blue' ? 'Blue' : 'Green'}CpuScaling`, {
          policyName: `${id}-${color}-cpu`,
          policyType: 'TargetTrackingScaling',
          serviceNamespace: 'ecs',
          scalableDimension: 'ecs:service:DesiredCount',
          resourceId: scalableTargetResourceId(props.cluster.clusterName, colors[color].service.serviceName),
          targetTrackingScalingPolicyConfiguration: {
            targetValue: c.autoscaling.targetCpuPercent,
            predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
            scaleInCooldown: 60,
            scaleOutCooldown: 60,
          },
        });
        policy.node.addDependency(this.counts);
      }
    }
  }

  private addColor(color: Color, repository: ecr.IRepository, props: ColoredServiceProps): ServiceColor {
    const { config: c } = props;
    const scope = new Construct(this, color === 'blue' ? 'Blue' : 'Green');
    const version = c.colors[color].version;

    const logGroup = this.logGroup;
    const taskDefinition = new ecs.FargateTaskDefinition(scope, 'Task', {
      cpu: c.cpu,
      memoryLimitMiB: c.memoryMiB,
      taskRole: this.taskRole,
      executionRole: this.executionRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    taskDefinition.addContainer('App', {
      image: ecs.ContainerImage.fromEcrRepository(repository, version),
      portMappings: [{ containerPort: c.containerPort }],
      environment: { ...props.environment, APP_COLOR: color, APP_VERSION: version, PORT: String(c.containerPort) },
      secrets: props.secrets ? { ...props.secrets } : undefined,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: color }),
      healthCheck: {
        // The image must ship curl; the same endpoint serves the ALB health check.
        command: ['CMD-SHELL', `curl -fsS http://localhost:${c.containerPort}${c.healthCheckPath} || exit 1`],
        interval: Duration.seconds(CONTAINER_HEALTH_CHECK.intervalSeconds),
        timeout: Duration.seconds(CONTAINER_HEALTH_CHECK.timeoutSeconds),
        retries: CONTAINER_HEALTH_CHECK.retries,
        startPeriod: Duration.seconds(CONTAINER_HEALTH_CHECK.startPeriodSeconds),
      },
    });

    if (props.apm) this.addCollector(taskDefinition, logGroup, color, version, props);

    let migrationTaskDefinition: ecs.FargateTaskDefinition | undefined;
    if (props.migrationSecrets) {
      // Run once per release with the migration command as its command (lib/release.ts): no port, no health check.
      migrationTaskDefinition = new ecs.FargateTaskDefinition(scope, 'MigrationTask', {
        cpu: c.cpu,
        memoryLimitMiB: c.memoryMiB,
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      migrationTaskDefinition.addContainer('App', {
        image: ecs.ContainerImage.fromEcrRepository(repository, version),
        environment: { ...props.environment, APP_COLOR: color, APP_VERSION: version },
        secrets: { ...props.migrationSecrets },
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: migrationStreamPrefix(color) }),
      });
    }

    for (const td of [taskDefinition, migrationTaskDefinition].filter((t): t is ecs.FargateTaskDefinition => !!t)) {
      Validations.of(td).acknowledge({
        id: 'AwsSolutions-ECS2',
        reason: 'Only non-secret settings (host names, ports, color, version) are environment variables; credentials are ECS secrets from Secrets Manager, and a test checks no secret value reaches the template',
      });
      Validations.of(td.obtainExecutionRole()).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken supports no resource-level permissions; pulls are limited to the one repository',
      });
    }

    const targetGroup = new elbv2.ApplicationTargetGroup(scope, 'TargetGroup', {
      vpc: props.cluster.vpc,
      port: c.containerPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      // Shorter than the 300 s default: a rollback should not wait five minutes for draining.
      deregistrationDelay: Duration.seconds(30),
      healthCheck: {
        path: c.healthCheckPath,
        healthyHttpCodes: '200',
        interval: Duration.seconds(TARGET_HEALTH_CHECK.intervalSeconds),
        timeout: Duration.seconds(TARGET_HEALTH_CHECK.timeoutSeconds),
        healthyThresholdCount: TARGET_HEALTH_CHECK.healthyThresholdCount,
        unhealthyThresholdCount: TARGET_HEALTH_CHECK.unhealthyThresholdCount,
      },
    });

    const service = new ecs.FargateService(scope, 'Service', {
      cluster: props.cluster,
      taskDefinition,
      securityGroups: [props.securityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableECSManagedTags: true,
    });
    service.attachToApplicationTargetGroup(targetGroup);

    return { color, service, taskDefinition, targetGroup, logGroup, migrationTaskDefinition };
  }

  private addCollector(taskDefinition: ecs.FargateTaskDefinition, logGroup: logs.ILogGroup, color: Color, version: string, props: ColoredServiceProps): void {
    taskDefinition.addContainer('OtelCollector', {
      image: ecs.ContainerImage.fromRegistry(ADOT_COLLECTOR_IMAGE),
      command: ['--config=/etc/ecs/ecs-xray.yaml'],
      // Losing traces must not take the application down with it.
      essential: false,
      memoryReservationMiB: 64,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: `${color}-otel` }),
    });
    const app = taskDefinition.defaultContainer!;
    app.addEnvironment('OTEL_EXPORTER_OTLP_ENDPOINT', 'http://localhost:4317');
    app.addEnvironment('OTEL_SERVICE_NAME', props.serviceName);
    app.addEnvironment('OTEL_RESOURCE_ATTRIBUTES', `deployment.environment=${props.environmentName ?? ''},service.version=${version},release.color=${color}`);
    taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
        resources: ['*'],
      }),
    );
    Validations.of(taskDefinition.taskRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray trace and sampling actions support no resource-level permissions',
    });
  }
}
