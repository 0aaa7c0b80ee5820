import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambda/shared/metrics';
import { COLORS, type Color, type ServiceName, type Topology } from '../lambda/shared/topology';
import { HandlerFunction } from './handler-function';
import { acknowledgeKmsGrantWildcards } from './nag';
import type { ServiceRouting } from './routing';
import type { ColoredService } from './services';
import { TopologyDocument } from './topology-document';
import { grantAutoscalingServiceLinkedRole, grantTrafficWrites, type TrafficResourceProvider } from './traffic-resources';

/** The traffic core publishes verified weights as a metric (lambda/traffic/weights-metric.ts), to this namespace only. */
export function grantWeightsMetric(grantee: iam.IGrantable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      // PutMetricData takes no resource; the namespace condition is its scope.
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
    }),
  );
}

export interface TrafficControlProps {
  readonly environment: string;
  readonly cluster: ecs.ICluster;
  readonly services: Readonly<Record<ServiceName, ColoredService>>;
  readonly routing: Readonly<Record<ServiceName, ServiceRouting>>;
  /** The listener of `routing`'s weighted rules: the traffic core may modify its rules (one statement for any number of services). */
  readonly productionListener: elbv2.IApplicationListener;
  /** Autoscaling bounds a color gets back when brought up, per service. @default - no autoscaling */
  readonly scaling?: Partial<Record<ServiceName, { readonly minCapacity: number; readonly maxCapacity: number }>>;
  readonly minHealthyTargetsPerAz: number;
  /** Alarms that must be OK before a color gets more traffic, per color. @default - none */
  readonly rollbackAlarms?: Readonly<Record<Color, readonly cloudwatch.IAlarm[]>>;
  /** Which of `rollbackAlarms` compare a color with the other (the release gate ignores the stable color's). @default - none */
  readonly comparisonAlarms?: Readonly<Record<Color, readonly cloudwatch.IAlarm[]>>;
  /** Release and rollback notifications. @default - none */
  readonly notificationTopic?: sns.ITopic;
  /** Where the test listener answers. @default - unknown to traffic control */
  readonly testListener?: Topology['testListener'];
  readonly vpc: ec2.IVpc;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Keep the ledger when the stack is deleted. */
  readonly retainLedger: boolean;
  /** Writes the topology document at deploy time. */
  readonly provider: TrafficResourceProvider;
}

/**
 * Traffic control of one environment: the release lock (one release or manual shift at a time, with
 * an expiring lease), the append-only ledger of every shift, refusal, scale and rollback, the
 * environment's topology, and the switch Lambda that moves traffic with the shared core.
 */
export class TrafficControl extends Construct {
  readonly lockTable: dynamodb.TableV2;
  readonly ledgerTable: dynamodb.TableV2;
  readonly topology: Topology;
  /** The topology as stored for the handlers and the CLI. */
  readonly topologyDocument: TopologyDocument;
  readonly switchFunction: HandlerFunction;
  /** What `grantTrafficControl` scopes its statements to. */
  private readonly granted: Pick<TrafficControlProps, 'services' | 'routing' | 'productionListener' | 'cluster'>;

  constructor(scope: Construct, id: string, props: TrafficControlProps) {
    super(scope, id);
    this.granted = props;
    const encryption = dynamodb.TableEncryptionV2.customerManagedKey(props.encryptionKey);
    this.lockTable = new dynamodb.TableV2(this, 'Lock', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      encryption,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.ledgerTable = new dynamodb.TableV2(this, 'Ledger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      encryption,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.retainLedger,
      removalPolicy: props.retainLedger ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    const alarmNames = (c: Color) => (props.rollbackAlarms?.[c] ?? []).map((a) => a.alarmName);
    this.topology = {
      environment: props.environment,
      clusterName: props.cluster.clusterName,
      services: Object.fromEntries(
        Object.keys(props.services).map((s) => [
          s,
          {
            listenerRuleArn: props.routing[s].listenerRuleArn,
            colors: Object.fromEntries(
              COLORS.map((c) => [
                c,
                {
                  targetGroupArn: props.services[s].colors[c].targetGroup.targetGroupArn,
                  serviceName: props.services[s].colors[c].service.serviceName,
                  scaling: props.scaling?.[s],
                },
              ]),
            ),
          },
        ]),
      ) as unknown as Topology['services'],
      lockTableName: this.lockTable.tableName,
      ledgerTableName: this.ledgerTable.tableName,
      rollbackAlarmNames: { blue: alarmNames('blue'), green: alarmNames('green') },
      comparisonAlarmNames: props.comparisonAlarms && { blue: props.comparisonAlarms.blue.map((a) => a.alarmName), green: props.comparisonAlarms.green.map((a) => a.alarmName) },
      minHealthyTargetsPerAz: props.minHealthyTargetsPerAz,
      notificationTopicArn: props.notificationTopic?.topicArn,
      testListener: props.testListener,
    };
    this.topologyDocument = new TopologyDocument(this, 'Topology', { topology: this.topology, table: this.lockTable, provider: props.provider });

    this.switchFunction = new HandlerFunction(this, 'Switch', {
      entry: 'lambda/switch/handler.ts',
      description: `Traffic switch of ${props.environment}: status, shift, scale, rollback`,
      vpc: props.vpc,
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      environment: this.topologyDocument.handlerEnvironment,
    });
    this.grantTrafficControl(this.switchFunction);
  }

  /** Everything the traffic core does, scoped to this environment's rules, services, tables and alarms. */
  grantTrafficControl(grantee: iam.IGrantable & Construct): void {
    const props = this.granted;
    const policy = (actions: string[], resources: string[]) => grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    grantTrafficWrites(grantee, props);
    // Describe* of ELB, ECS task definitions, CloudWatch alarms and Application Auto Scaling take no
    // resource-level permissions. https://docs.aws.amazon.com/service-authorization/latest/reference/list_elasticloadbalancingv2.html
    policy(
      [
        'elasticloadbalancing:DescribeRules',
        'elasticloadbalancing:DescribeTargetHealth',
        'ecs:DescribeTaskDefinition',
        'cloudwatch:DescribeAlarms',
        'application-autoscaling:DescribeScalableTargets',
        'application-autoscaling:RegisterScalableTarget',
      ],
      ['*'],
    );
    grantAutoscalingServiceLinkedRole(grantee);
    grantWeightsMetric(grantee);
    // Includes GetItem of the topology document in the lock table.
    this.lockTable.grantReadWriteData(grantee);
    this.ledgerTable.grantReadWriteData(grantee);
    acknowledgeKmsGrantWildcards(grantee, 'the lock and ledger tables');
    Validations.of(grantee).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Describe actions of ELB, ECS task definitions, CloudWatch alarms and Application Auto Scaling, RegisterScalableTarget, and Lambda VPC ENI actions support no resource-level permissions; every write is scoped to this environment',
    });
  }
}
