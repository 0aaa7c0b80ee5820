/**
 * Builds a complete blue/green environment in a local moto server with SDK calls (no templates), and returns the
 * matching Topology. Used by the integration tests and scripts/bench-traffic.ts.
 *
 * Layout: a VPC with two subnets (us-east-1a, us-east-1b), an ALB with an HTTP listener (moto does not need
 * certificates; the production listener is HTTPS), per service one host-header rule with a weighted forward
 * (blue 100 / green 0) to its blue and green target groups (the frontend rule keeps a stickiness config), two ip
 * targets per target group (one per AZ), an ECS cluster with four Fargate services, the lock and ledger tables,
 * one rollback alarm per color and scalable targets for every service.
 */
import {
  ApplicationAutoScalingClient,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { Color, COLORS, ServiceName, Topology } from '../../lambda/shared/topology';
import { SERVICES } from './services';
import { TOPOLOGY_TABLE_OUTPUT, writeTopology } from '../../lambda/shared/topology-store';
import { createClients, destroyClients, type TrafficClients } from '../../lambda/traffic/clients';
import { type MotoServer, startMoto } from './moto';

export interface FixtureConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface FixtureTarget {
  readonly id: string;
  readonly port: number;
  readonly availabilityZone: string;
}

export interface Fixture {
  readonly topology: Topology;
  readonly loadBalancerArn: string;
  readonly listenerArn: string;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
  /** Targets registered per service and color. */
  readonly targets: Readonly<Record<ServiceName, Readonly<Record<Color, readonly FixtureTarget[]>>>>;
  /** Image versions the task definitions were registered with. */
  readonly versions: Readonly<Record<Color, string>>;
}

export interface FixtureOptions {
  readonly environment?: string;
  readonly minHealthyTargetsPerAz?: number;
  readonly desiredCount?: number;
  /** The environment's services, in order. @default - the plan's frontend and backend */
  readonly services?: readonly string[];
  /** Services whose green color runs blue's version (nothing new to release). @default - none */
  readonly unchanged?: readonly string[];
}

const AZS = ['us-east-1a', 'us-east-1b'] as const;

/**
 * Minimal EC2 Query API call (there is no EC2 SDK client in this project). moto routes the request by the service in
 * the Authorization header's credential scope and does not check signatures.
 */
async function ec2(cfg: FixtureConfig, action: string, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: '2016-11-15', ...params }).toString();
  const res = await fetch(cfg.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: `AWS4-HMAC-SHA256 Credential=${cfg.credentials.accessKeyId}/20240101/${cfg.region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`EC2 ${action} failed: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return text;
}

function xmlValue(xml: string, tag: string): string {
  const m = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml);
  if (!m) throw new Error(`no <${tag}> in EC2 response: ${xml.slice(0, 300)}`);
  return m[1];
}

export async function buildFixture(cfg: FixtureConfig, options: FixtureOptions = {}): Promise<Fixture> {
  const environment = options.environment ?? 'dev';
  const desiredCount = options.desiredCount ?? 2;
  const elbv2 = new ElasticLoadBalancingV2Client(cfg);
  const ecs = new ECSClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  const cw = new CloudWatchClient(cfg);
  const aas = new ApplicationAutoScalingClient(cfg);
  try {
    const vpcId = xmlValue(await ec2(cfg, 'CreateVpc', { CidrBlock: '10.0.0.0/16' }), 'vpcId');
    const subnetIds: string[] = [];
    for (const [i, az] of AZS.entries()) {
      const xml = await ec2(cfg, 'CreateSubnet', { VpcId: vpcId, CidrBlock: `10.0.${i + 1}.0/24`, AvailabilityZone: az });
      subnetIds.push(xmlValue(xml, 'subnetId'));
    }
    const securityGroupId = xmlValue(
      await ec2(cfg, 'CreateSecurityGroup', { GroupName: `${environment}-services`, GroupDescription: 'services', VpcId: vpcId }),
      'groupId',
    );

    const lb = await elbv2.send(
      new CreateLoadBalancerCommand({
        Name: `${environment}-alb`,
        Subnets: subnetIds,
        SecurityGroups: [securityGroupId],
        Scheme: 'internet-facing',
        Type: 'application',
      }),
    );
    const loadBalancerArn = lb.LoadBalancers![0].LoadBalancerArn!;
    const listener = await elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: loadBalancerArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain' } }],
      }),
    );
    const listenerArn = listener.Listeners![0].ListenerArn!;

    await ecs.send(new CreateClusterCommand({ clusterName: `${environment}-cluster` }));
    const versions: Record<Color, string> = { blue: '1.0.0', green: '1.1.0' };

    const services: Partial<Record<ServiceName, Topology['services'][ServiceName]>> = {};
    const targets: Partial<Record<ServiceName, Record<Color, FixtureTarget[]>>> = {};
    const serviceNames = options.services ?? SERVICES;
    for (const [si, service] of serviceNames.entries()) {
      const colors: Partial<Record<Color, { targetGroupArn: string; serviceName: string; scaling: { minCapacity: number; maxCapacity: number } }>> = {};
      targets[service] = { blue: [], green: [] };
      for (const [ci, color] of COLORS.entries()) {
        const tg = await elbv2.send(
          new CreateTargetGroupCommand({
            Name: `${environment}-${service}-${color}`,
            Protocol: 'HTTP',
            Port: 8080,
            VpcId: vpcId,
            TargetType: 'ip',
            HealthCheckPath: '/health',
          }),
        );
        const targetGroupArn = tg.TargetGroups![0].TargetGroupArn!;
        const registered = AZS.map((az, ai) => ({ id: `10.0.${ai + 1}.${10 + si * 10 + ci * 5}`, port: 8080, availabilityZone: az }));
        await elbv2.send(
          new RegisterTargetsCommand({
            TargetGroupArn: targetGroupArn,
            Targets: registered.map((t) => ({ Id: t.id, Port: t.port, AvailabilityZone: t.availabilityZone })),
          }),
        );
        targets[service]![color] = registered;

        const family = `${environment}-${service}-${color}`;
        await ecs.send(
          new RegisterTaskDefinitionCommand({
            family,
            networkMode: 'awsvpc',
            requiresCompatibilities: ['FARGATE'],
            cpu: '256',
            memory: '512',
            containerDefinitions: [
              {
                name: service,
                image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${service}:${options.unchanged?.includes(service) ? versions.blue : versions[color]}`,
                essential: true,
                portMappings: [{ containerPort: 8080 }],
              },
            ],
          }),
        );
        const serviceName = `${environment}-${service}-${color}`;
        await ecs.send(
          new CreateServiceCommand({
            cluster: `${environment}-cluster`,
            serviceName,
            taskDefinition: family,
            desiredCount,
            launchType: 'FARGATE',
            networkConfiguration: {
              awsvpcConfiguration: { subnets: subnetIds, securityGroups: [securityGroupId], assignPublicIp: 'DISABLED' },
            },
            loadBalancers: [{ targetGroupArn, containerName: service, containerPort: 8080 }],
          }),
        );
        const scaling = { minCapacity: 2, maxCapacity: 6 };
        await aas.send(
          new RegisterScalableTargetCommand({
            ServiceNamespace: 'ecs',
            ScalableDimension: 'ecs:service:DesiredCount',
            ResourceId: `service/${environment}-cluster/${serviceName}`,
            MinCapacity: scaling.minCapacity,
            MaxCapacity: scaling.maxCapacity,
          }),
        );
        colors[color] = { targetGroupArn, serviceName, scaling };
      }
      const rule = await elbv2.send(
        new CreateRuleCommand({
          ListenerArn: listenerArn,
          Priority: 10 + si,
          Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [`${service}.${environment}.example.com`] } }],
          Actions: [
            {
              Type: 'forward',
              ForwardConfig: {
                TargetGroups: [
                  { TargetGroupArn: colors.blue!.targetGroupArn, Weight: 100 },
                  { TargetGroupArn: colors.green!.targetGroupArn, Weight: 0 },
                ],
                TargetGroupStickinessConfig: service === 'frontend' ? { Enabled: true, DurationSeconds: 300 } : { Enabled: false },
              },
            },
          ],
        }),
      );
      services[service] = {
        listenerRuleArn: rule.Rules![0].RuleArn!,
        colors: { blue: colors.blue!, green: colors.green! },
      };
    }

    const lockTableName = `${environment}-release-lock`;
    const ledgerTableName = `${environment}-release-ledger`;
    await ddb.send(
      new CreateTableCommand({
        TableName: lockTableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    await ddb.send(
      new CreateTableCommand({
        TableName: ledgerTableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );

    const rollbackAlarmNames: Record<Color, string[]> = { blue: [], green: [] };
    for (const color of COLORS) {
      for (const service of serviceNames) {
        const name = `${environment}-${service}-${color}-5xx`;
        await cw.send(
          new PutMetricAlarmCommand({
            AlarmName: name,
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'HTTPCode_Target_5XX_Count',
            Dimensions: [{ Name: 'TargetGroup', Value: services[service]!.colors[color].targetGroupArn.split(':').pop()! }],
            Statistic: 'Sum',
            Period: 60,
            EvaluationPeriods: 1,
            Threshold: 5,
            ComparisonOperator: 'GreaterThanThreshold',
            TreatMissingData: 'notBreaching',
          }),
        );
        rollbackAlarmNames[color].push(name);
      }
    }

    const topology: Topology = {
      environment,
      clusterName: `${environment}-cluster`,
      services: Object.fromEntries(serviceNames.map((s) => [s, services[s]!])),
      lockTableName,
      ledgerTableName,
      rollbackAlarmNames,
      minHealthyTargetsPerAz: options.minHealthyTargetsPerAz ?? 1,
    };
    // As Custom::TopologyDocument does at deploy time: the handlers and the CLIs read it from the lock table.
    await writeTopology(ddb, lockTableName, JSON.stringify(topology));
    return {
      topology,
      loadBalancerArn,
      listenerArn,
      vpcId,
      subnetIds,
      securityGroupId,
      targets: targets as Fixture['targets'],
      versions,
    };
  } finally {
    elbv2.destroy();
    ecs.destroy();
    ddb.destroy();
    cw.destroy();
    aas.destroy();
  }
}

/** What `useMotoFixture` gives each test: the server, clients pointed at it, a fresh fixture. */
export interface MotoFixtureState {
  readonly moto: MotoServer;
  readonly clients: TrafficClients;
  readonly fx: Fixture;
}

/**
 * The emulator suites' setup, once: one moto server per test file (started before all tests,
 * stopped after), state reset and the fixture rebuilt before each test. `onEach` receives it.
 */
export function useMotoFixture(onEach: (state: MotoFixtureState) => void | Promise<void>, options: FixtureOptions = {}): void {
  let moto: MotoServer | undefined;
  let clients: TrafficClients | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    clients = createClients(moto.clientConfig);
  });
  afterAll(async () => {
    if (clients) destroyClients(clients);
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto!.reset();
    await onEach({ moto: moto!, clients: clients!, fx: await buildFixture(moto!.clientConfig, options) });
  });
}

/**
 * Stands in for a deployed `<Stage>-Stateless` stack in moto: its outputs (`TopologyTable`, and whatever else is
 * given, e.g. `ReleaseStateMachineArn`) and the topology document it stores, which is all the CLIs read.
 */
export async function deployStackOutputs(cfg: FixtureConfig, topology: Topology, more: Record<string, string> = {}, stackName = 'Dev-Stateless'): Promise<void> {
  const cfn = new CloudFormationClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  try {
    await writeTopology(ddb, topology.lockTableName, JSON.stringify(topology));
    const outputs = Object.fromEntries(Object.entries({ [TOPOLOGY_TABLE_OUTPUT]: topology.lockTableName, ...more }).map(([k, v]) => [k, { Value: v }]));
    await cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({ Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } }, Outputs: outputs }),
      }),
    );
  } finally {
    cfn.destroy();
    ddb.destroy();
  }
}
