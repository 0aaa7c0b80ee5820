/** Shared unit-test fixtures: a topology, mocked SDK clients and rule/health shapes. */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { Topology } from '../../lambda/shared/topology';
import { logger, TrafficContext } from '../../lambda/traffic';

logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const NOW = new Date('2030-01-01T00:00:00.000Z');
export const NOW_S = NOW.getTime() / 1000;

const tg = (s: string, c: string) => `arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/${s}-${c}/abc`;

export const topology: Topology = {
  environment: 'dev',
  clusterName: 'dev-cluster',
  services: {
    frontend: {
      listenerRuleArn: 'arn:rule/frontend',
      colors: {
        blue: { targetGroupArn: tg('frontend', 'blue'), serviceName: 'fe-blue', scaling: { minCapacity: 2, maxCapacity: 6 } },
        green: { targetGroupArn: tg('frontend', 'green'), serviceName: 'fe-green', scaling: { minCapacity: 2, maxCapacity: 6 } },
      },
    },
    backend: {
      listenerRuleArn: 'arn:rule/backend',
      colors: {
        blue: { targetGroupArn: tg('backend', 'blue'), serviceName: 'be-blue' },
        green: { targetGroupArn: tg('backend', 'green'), serviceName: 'be-green' },
      },
    },
  },
  lockTableName: 'lock',
  ledgerTableName: 'ledger',
  rollbackAlarmNames: { blue: ['blue-5xx'], green: ['green-5xx', 'green-latency'] },
  minHealthyTargetsPerAz: 1,
};

export function mocks() {
  const elbv2 = mockClient(ElasticLoadBalancingV2Client);
  const ecs = mockClient(ECSClient);
  const ddb = mockClient(DynamoDBClient);
  const cloudwatch = mockClient(CloudWatchClient);
  const autoscaling = mockClient(ApplicationAutoScalingClient);
  const ctx: TrafficContext = {
    clients: {
      elbv2: new ElasticLoadBalancingV2Client({ region: 'us-east-1' }),
      ecs: new ECSClient({ region: 'us-east-1' }),
      dynamodb: new DynamoDBClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      autoscaling: new ApplicationAutoScalingClient({ region: 'us-east-1' }),
    },
    topology,
    retry: { sleep: async () => undefined, random: () => 0.5 },
    now: () => NOW,
    randomSuffix: () => 'r4nd',
  };
  // Every service of both colors runs 2 tasks unless a test says otherwise (the shift guard reads desired counts).
  ecs.on(DescribeServicesCommand).resolves(runningServices());
  const restore = () => [elbv2, ecs, ddb, cloudwatch, autoscaling].forEach((m) => m.restore());
  return { elbv2, ecs, ddb, cloudwatch, autoscaling, ctx, restore };
}

export function rule(service: 'frontend' | 'backend', blue: number, green: number, extra: Partial<Rule> = {}): Rule {
  const colors = topology.services[service].colors;
  return {
    RuleArn: topology.services[service].listenerRuleArn,
    Priority: '10',
    Actions: [
      {
        Type: 'forward',
        Order: 1,
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: colors.blue.targetGroupArn, Weight: blue },
            { TargetGroupArn: colors.green.targetGroupArn, Weight: green },
          ],
          TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
        },
      },
    ],
    ...extra,
  };
}

export function healthy(...azs: string[]) {
  return {
    TargetHealthDescriptions: azs.map((az, i) => ({
      Target: { Id: `10.0.0.${i}`, Port: 80, AvailabilityZone: az },
      TargetHealth: { State: 'healthy' as const },
    })),
  };
}

export function throttled() {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
}

export function conditionalCheckFailed() {
  return Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', $metadata: {} });
}

/** DescribeServices output: every service of both colors ACTIVE with `desired` tasks, `overrides` by service name. */
export function runningServices(desired = 2, overrides: Record<string, number> = {}) {
  const names = Object.values(topology.services).flatMap((s) => Object.values(s.colors).map((c) => c.serviceName));
  return {
    services: names.map((serviceName) => ({
      serviceName,
      status: 'ACTIVE',
      desiredCount: overrides[serviceName] ?? desired,
      runningCount: overrides[serviceName] ?? desired,
    })),
  };
}
