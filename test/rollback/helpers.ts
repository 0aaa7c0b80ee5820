/**
 * Unit-test world of the rollback core: every SDK client mocked with aws-sdk-client-mock over a small stateful fake
 * (rule weights follow ModifyRule, desired counts follow UpdateService), and one ordered log of every command sent.
 */
import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { RollbackContext } from '../../lambda/rollback';
import { Color, ServiceName, Topology } from '../../lambda/shared/topology';
import { LedgerEntry, logger } from '../../lambda/traffic';
import { item } from '../support/dynamo';
import { alarmStateChangeEvent } from '../support/release';

import { topology as trafficTopology } from '../lambda/helpers';
logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const NOW = new Date('2030-01-01T00:05:00.000Z');
export const EVENT_TIME = new Date('2030-01-01T00:04:00.000Z');
export const SM_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:dev-release';
export const EXEC_ARN = 'arn:aws:states:us-east-1:123456789012:execution:dev-release:r1';

/** The traffic core's unit-test topology, with the notification topic the rollback publishes to. */
export const topology: Topology = { ...trafficTopology, notificationTopicArn: 'arn:aws:sns:us-east-1:123456789012:dev-release' };

export function rule(service: ServiceName, blue: number, green: number): Rule {
  const colors = topology.services[service].colors;
  return {
    RuleArn: topology.services[service].listenerRuleArn,
    Priority: '10',
    Actions: [
      {
        Type: 'forward',
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: colors.blue.targetGroupArn, Weight: blue },
            { TargetGroupArn: colors.green.targetGroupArn, Weight: green },
          ],
        },
      },
    ],
  };
}

export function throttled() {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
}

export interface WorldOptions {
  weights?: Record<ServiceName, [number, number]>;
  desired?: Record<Color, number>;
  marker?: Record<string, unknown>;
  ledger?: Partial<LedgerEntry>[];
  running?: string[];
  healthyTargets?: number;
  /** The release record (lock table item `<env>#release`). @default - none */
  release?: Record<string, unknown>;
}

/** A green canary at 10% with a RUNNING release, unless told otherwise. */
export function world(o: WorldOptions = {}) {
  const order: string[] = [];
  const state = {
    weights: { ...(o.weights ?? { frontend: [90, 10], backend: [90, 10] }) } as Record<ServiceName, [number, number]>,
    desired: {
      'fe-blue': o.desired?.blue ?? 2,
      'be-blue': o.desired?.blue ?? 2,
      'fe-green': o.desired?.green ?? 2,
      'be-green': o.desired?.green ?? 2,
    } as Record<string, number>,
  };
  const elbv2 = mockClient(ElasticLoadBalancingV2Client);
  const ecs = mockClient(ECSClient);
  const ddb = mockClient(DynamoDBClient);
  const cloudwatch = mockClient(CloudWatchClient);
  const autoscaling = mockClient(ApplicationAutoScalingClient);
  const sfn = mockClient(SFNClient);
  const sns = mockClient(SNSClient);
  const log = (name: string) => order.push(name);

  elbv2.on(DescribeRulesCommand).callsFake((input: { RuleArns: string[] }) => {
    log('DescribeRules');
    return {
      Rules: input.RuleArns.map((arn) => {
        const svc: ServiceName = arn.endsWith('frontend') ? 'frontend' : 'backend';
        return rule(svc, ...state.weights[svc]);
      }),
    };
  });
  elbv2.on(ModifyRuleCommand).callsFake((input: { RuleArn: string; Actions: { ForwardConfig: { TargetGroups: { Weight: number }[] } }[] }) => {
    log('ModifyRule');
    const svc: ServiceName = input.RuleArn.endsWith('frontend') ? 'frontend' : 'backend';
    const g = input.Actions[0].ForwardConfig.TargetGroups;
    state.weights[svc] = [g[0].Weight, g[1].Weight];
    return {};
  });
  elbv2.on(DescribeTargetHealthCommand).callsFake(() => {
    log('DescribeTargetHealth');
    const n = o.healthyTargets ?? 2;
    return {
      TargetHealthDescriptions: Array.from({ length: n }, (_, i) => ({
        Target: { Id: `10.0.0.${i}`, Port: 80, AvailabilityZone: i % 2 ? 'us-east-1b' : 'us-east-1a' },
        TargetHealth: { State: 'healthy' as const },
      })),
    };
  });
  ecs.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => {
    log('DescribeServices');
    return {
      services: input.services.map((name) => ({
        serviceName: name,
        status: 'ACTIVE',
        desiredCount: state.desired[name],
        runningCount: state.desired[name],
        taskDefinition: `arn:td/${name}:1`,
      })),
    };
  });
  ecs.on(DescribeTaskDefinitionCommand).callsFake(() => {
    log('DescribeTaskDefinition');
    return { taskDefinition: { containerDefinitions: [{ name: 'app', image: 'repo/app:1.0.0', essential: true }] } };
  });
  ecs.on(UpdateServiceCommand).callsFake((input: { service: string; desiredCount: number }) => {
    log('UpdateService');
    state.desired[input.service] = input.desiredCount;
    return {};
  });
  autoscaling.on(RegisterScalableTargetCommand).callsFake(() => {
    log('RegisterScalableTarget');
    return {};
  });
  ddb.on(GetItemCommand).callsFake((input: { Key: { pk: { S: string } } }) => {
    log('GetItem');
    if (input.Key.pk.S.endsWith('#release')) return o.release ? { Item: item({ pk: input.Key.pk.S, ...o.release }) } : {};
    // The release lock: held by the release's execution when the world has a release record.
    if (input.Key.pk.S === 'dev') return o.release ? { Item: item({ pk: 'dev', owner: o.release.executionArn, expiresAt: 9e9 }) } : {};
    return o.marker ? { Item: item(o.marker) } : {};
  });
  ddb.on(DeleteItemCommand).callsFake(() => {
    log('DeleteItem');
    return {};
  });
  ddb.on(QueryCommand).callsFake(() => {
    log('Query');
    return {
      Items: (o.ledger ?? [
        {
          pk: 'dev',
          sk: '2030-01-01T00:00:00.000Z#a',
          action: 'shift',
          weightsBefore: { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } },
          weightsAfter: { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } },
        },
      ]).map(item),
    };
  });
  ddb.on(UpdateItemCommand).callsFake(() => {
    log('UpdateItem');
    return {};
  });
  ddb.on(PutItemCommand).callsFake(() => {
    log('PutItem');
    return {};
  });
  ddb.on(TransactWriteItemsCommand).callsFake(() => {
    log('TransactWriteItems');
    return {};
  });
  sfn.on(ListExecutionsCommand).callsFake(() => {
    log('ListExecutions');
    return { executions: (o.running ?? [EXEC_ARN]).map((executionArn) => ({ executionArn, status: 'RUNNING' })) };
  });
  sfn.on(StopExecutionCommand).callsFake(() => {
    log('StopExecution');
    return {};
  });
  sns.on(PublishCommand).callsFake(() => {
    log('Publish');
    return { MessageId: 'msg-1' };
  });

  const metrics: Record<string, unknown>[] = [];
  const ctx: RollbackContext = {
    clients: {
      elbv2: new ElasticLoadBalancingV2Client({ region: 'us-east-1' }),
      ecs: new ECSClient({ region: 'us-east-1' }),
      dynamodb: new DynamoDBClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      autoscaling: new ApplicationAutoScalingClient({ region: 'us-east-1' }),
      sfn: new SFNClient({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
    },
    topology,
    retry: { sleep: async () => undefined, random: () => 0.5 },
    now: () => NOW,
    randomSuffix: () => 'r4nd',
    releaseStateMachineArn: SM_ARN,
    metricSink: (line) => metrics.push(JSON.parse(line)),
    invocationId: 'rollback:test',
  };
  const restore = () => [elbv2, ecs, ddb, cloudwatch, autoscaling, sfn, sns].forEach((m) => m.restore());
  return { elbv2, ecs, ddb, cloudwatch, autoscaling, sfn, sns, ctx, order, state, metrics, restore };
}

export function event(alarmName = 'green-5xx', extra: { datapoints?: number[]; state?: 'ALARM' | 'OK' } = {}) {
  return alarmStateChangeEvent({ alarmName, time: EVENT_TIME, id: 'evt-1', ...extra });
}

export const writes = (order: string[]) => order.filter((c) => !/^(Describe|List|Get|Query)/.test(c));
