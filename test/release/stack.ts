import { JUDGE_DEFAULTS } from '../../config/shared';
/**
 * A minimal stack around ReleaseStateMachine for template assertions and the local rehearsal: VPC, ALB with a
 * production and a test listener and one weighted rule per service, four Fargate services with target groups, the lock
 * and ledger tables, an SNS topic, a PostgreSQL instance and one rollback alarm per color.
 */
import { BACKEND, FRONTEND } from '../../config/shared';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { ReleasePolicy } from '../../config/types';
import { Color, COLORS, ServiceName, Topology } from '../../lambda/shared/topology';
import { SERVICES } from '../support/services';
import { TopologyDocument } from '../../lib/topology-document';
import { TrafficResourceProvider } from '../../lib/traffic-resources';
import { ReleaseStateMachine } from '../../lib/release';

export const TEST_POLICY: ReleasePolicy = {
  strategy: 'canary',
  canarySteps: [10, 25, 50, 100],
  bakeSeconds: 300,
  finalBakeSeconds: 300,
  approvalAfterFirstStep: true,
  approvalTimeoutSeconds: 3600,
  rollbackWindowSeconds: 1800,
  stabilizeTimeoutSeconds: 900,
  backupBeforeRelease: true,
  migrationCommand: ['npm', 'run', 'db:migrate'],
  migrationTimeoutSeconds: 900,
  judge: JUDGE_DEFAULTS,
};

export interface ReleaseTestStack {
  readonly stack: Stack;
  readonly release: ReleaseStateMachine;
  readonly template: Template;
}

export function buildReleaseTestStack(policy: ReleasePolicy = TEST_POLICY): ReleaseTestStack {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'ReleaseTest', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
  const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true });
  const listener = alb.addListener('Http', { port: 80, defaultAction: elbv2.ListenerAction.fixedResponse(404) });
  const sg = new ec2.SecurityGroup(stack, 'Tasks', { vpc });

  const services: ecs.FargateService[] = [];
  const rules: elbv2.ApplicationListenerRule[] = [];
  const taskDefinitions = {} as Record<ServiceName, Record<Color, ecs.FargateTaskDefinition>>;
  const topoServices = {} as Record<ServiceName, Topology['services'][ServiceName]>;
  for (const [i, name] of SERVICES.entries()) {
    taskDefinitions[name] = {} as Record<Color, ecs.FargateTaskDefinition>;
    const tgs = {} as Record<Color, elbv2.ApplicationTargetGroup>;
    const svcs = {} as Record<Color, ecs.FargateService>;
    for (const color of COLORS) {
      const td = new ecs.FargateTaskDefinition(stack, `${name}-${color}-Task`, { cpu: 256, memoryLimitMiB: 512 });
      td.addContainer(name, { image: ecs.ContainerImage.fromRegistry(`example/${name}:1.0.0`), portMappings: [{ containerPort: 8080 }] });
      const svc = new ecs.FargateService(stack, `${name}-${color}`, { cluster, taskDefinition: td, securityGroups: [sg], desiredCount: 1 });
      tgs[color] = new elbv2.ApplicationTargetGroup(stack, `${name}-${color}-Tg`, { vpc, port: 8080, protocol: elbv2.ApplicationProtocol.HTTP, targets: [svc] });
      taskDefinitions[name][color] = td;
      svcs[color] = svc;
      services.push(svc);
    }
    const rule = new elbv2.ApplicationListenerRule(stack, `${name}-Rule`, {
      listener,
      priority: 10 + i,
      conditions: [elbv2.ListenerCondition.hostHeaders([`${name}.example.com`])],
      action: elbv2.ListenerAction.weightedForward([
        { targetGroup: tgs.blue, weight: 100 },
        { targetGroup: tgs.green, weight: 0 },
      ]),
    });
    rules.push(rule);
    topoServices[name] = {
      listenerRuleArn: rule.listenerRuleArn,
      colors: {
        blue: { targetGroupArn: tgs.blue.targetGroupArn, serviceName: svcs.blue.serviceName },
        green: { targetGroupArn: tgs.green.targetGroupArn, serviceName: svcs.green.serviceName },
      },
    };
  }
  const table = (id: string, sort: boolean) =>
    new dynamodb.TableV2(stack, id, {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      ...(sort ? { sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING } } : {}),
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
    });
  const lockTable = table('Lock', false);
  const ledgerTable = table('Ledger', true);
  const topic = new sns.Topic(stack, 'Topic', { masterKey: key });
  const database = new rds.DatabaseInstance(stack, 'Db', {
    vpc,
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
  });
  const alarms = COLORS.map(
    (color) =>
      new cloudwatch.Alarm(stack, `${color}-5xx`, {
        alarmName: `test-${color}-5xx`,
        metric: new cloudwatch.Metric({ namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_Target_5XX_Count', period: Duration.minutes(1) }),
        threshold: 5,
        evaluationPeriods: 1,
      }),
  );
  const topology: Topology = {
    environment: 'test',
    clusterName: cluster.clusterName,
    services: topoServices,
    lockTableName: lockTable.tableName,
    ledgerTableName: ledgerTable.tableName,
    rollbackAlarmNames: { blue: [alarms[0].alarmName], green: [alarms[1].alarmName] },
    minHealthyTargetsPerAz: 1,
    notificationTopicArn: topic.topicArn,
    testListener: { port: 8443, colorHeader: 'x-color', hosts: { frontend: 'frontend.example.com', backend: 'backend.example.com' }, checks: { frontend: FRONTEND.preTrafficChecks, backend: BACKEND.preTrafficChecks } },
  };
  const provider = new TrafficResourceProvider(stack, 'TrafficResources', { vpc, encryptionKey: key, logRetention: logs.RetentionDays.ONE_MONTH });
  const release = new ReleaseStateMachine(stack, 'Release', {
    policy,
    topology: new TopologyDocument(stack, 'Topology', { topology, table: lockTable, provider }),
    vpc,
    encryptionKey: key,
    logRetention: logs.RetentionDays.ONE_MONTH,
    notificationTopic: topic,
    lockTable,
    ledgerTable,
    productionListener: listener,
    cluster,
    database,
    migration: { service: 'backend', taskDefinitions: taskDefinitions.backend, containerName: 'backend', subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, securityGroup: sg },
  });
  // As lib/monitoring-stack.ts does, here in the same stack.
  release.addSafeStateFailedAlarm(stack, topic);
  return { stack, release, template: Template.fromStack(stack) };
}
