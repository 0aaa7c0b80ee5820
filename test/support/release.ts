/**
 * Release-level additions to the moto fixture (fixture.ts) for the rollback Lambda's tests, bench and rehearsal:
 * an SNS notification topic, a release state machine with a dummy definition and RUNNING executions, CloudWatch
 * "Alarm State Change" events as EventBridge delivers them, alarm state driving, and reading what SNS published.
 */
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateStateMachineCommand, DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { writeTopology } from '../../lambda/shared/topology-store';
import { type Color, type ServiceName, Topology } from '../../lambda/shared/topology';
import { SERVICES } from './services';
import { readRules, type TrafficContext } from '../../lambda/traffic';
import { buildFixture, Fixture, FixtureConfig, FixtureOptions } from './fixture';

export const ACCOUNT = '123456789012';

export interface ReleaseFixture extends Fixture {
  /** The fixture topology plus notificationTopicArn. */
  readonly topology: Topology;
  readonly notificationTopicArn: string;
  readonly stateMachineArn: string;
  /** Starts an execution of the release state machine (it stays RUNNING in moto) and returns its ARN. */
  startRelease(name?: string): Promise<string>;
  /** Status of an execution: RUNNING, ABORTED, … */
  executionStatus(executionArn: string): Promise<string | undefined>;
}

/** A Wait state of an hour: moto keeps executions RUNNING until stopped, and the definition is valid on AWS too. */
export const DUMMY_RELEASE_DEFINITION = JSON.stringify({
  Comment: 'test double of the release state machine',
  StartAt: 'Canary',
  States: { Canary: { Type: 'Wait', Seconds: 3600, End: true } },
});

let releaseCounter = 0;

export async function buildReleaseFixture(cfg: FixtureConfig, options: FixtureOptions = {}): Promise<ReleaseFixture> {
  const fx = await buildFixture(cfg, options);
  const env = fx.topology.environment;
  const sns = new SNSClient(cfg);
  const sfn = new SFNClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  try {
    const topic = await sns.send(new CreateTopicCommand({ Name: `${env}-release-notifications` }));
    const sm = await sfn.send(
      new CreateStateMachineCommand({
        name: `${env}-release`,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/${env}-release`,
        definition: DUMMY_RELEASE_DEFINITION,
      }),
    );
    const stateMachineArn = sm.stateMachineArn!;
    const topology = { ...fx.topology, notificationTopicArn: topic.TopicArn! };
    // Stored as the deployed stack stores it, for handlers run as Lambda runs them (TOPOLOGY_TABLE).
    await writeTopology(ddb, topology.lockTableName, JSON.stringify(topology));
    return {
      ...fx,
      topology,
      notificationTopicArn: topic.TopicArn!,
      stateMachineArn,
      async startRelease(name = `release-${process.pid}-${++releaseCounter}`) {
        const c = new SFNClient(cfg);
        try {
          const out = await c.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ to: 'green' }) }));
          return out.executionArn!;
        } finally {
          c.destroy();
        }
      },
      async executionStatus(executionArn: string) {
        const c = new SFNClient(cfg);
        try {
          return (await c.send(new DescribeExecutionCommand({ executionArn }))).status;
        } finally {
          c.destroy();
        }
      },
    };
  } finally {
    sns.destroy();
    sfn.destroy();
    ddb.destroy();
  }
}

export interface AlarmEventOptions {
  readonly alarmName: string;
  readonly state?: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  readonly previousState?: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  /** Recent datapoints of the metric (default [12]). */
  readonly datapoints?: readonly number[];
  readonly threshold?: number;
  readonly time?: Date;
  readonly region?: string;
  readonly id?: string;
}

let eventCounter = 0;

/** The reason text and reasonData CloudWatch writes for a threshold alarm. */
export function thresholdReason(datapoints: readonly number[], threshold: number, time: Date) {
  const stamp = time.toISOString().replace(/\.\d{3}Z$/, '.000+0000');
  const reason =
    `Threshold Crossed: ${datapoints.length} datapoint${datapoints.length === 1 ? '' : 's'} ` +
    `[${datapoints.map((d) => `${d.toFixed(1)} (${stamp})`).join(', ')}] was greater than the threshold (${threshold.toFixed(1)}).`;
  const reasonData = JSON.stringify({
    version: '1.0',
    queryDate: stamp,
    startDate: stamp,
    statistic: 'Sum',
    period: 60,
    recentDatapoints: datapoints,
    threshold,
    evaluatedDatapoints: datapoints.map((value) => ({ timestamp: stamp, sampleCount: 1, value })),
  });
  return { reason, reasonData };
}

/** A "CloudWatch Alarm State Change" event exactly as EventBridge delivers it to a Lambda target. */
export function alarmStateChangeEvent(o: AlarmEventOptions) {
  const time = o.time ?? new Date();
  const region = o.region ?? 'us-east-1';
  const datapoints = o.datapoints ?? [12];
  const threshold = o.threshold ?? 5;
  const { reason, reasonData } = thresholdReason(datapoints, threshold, time);
  const state = o.state ?? 'ALARM';
  return {
    version: '0',
    id: o.id ?? `c4c1c1c9-6542-e61b-6ef0-8c4d36933a${String(++eventCounter % 100).padStart(2, '0')}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:cloudwatch:${region}:${ACCOUNT}:alarm:${o.alarmName}`],
    detail: {
      alarmName: o.alarmName,
      state: {
        value: state,
        reason: state === 'ALARM' ? reason : 'Threshold Crossed: no datapoints were greater than the threshold.',
        reasonData,
        timestamp: time.toISOString().replace('Z', '+0000'),
      },
      previousState: {
        value: o.previousState ?? 'OK',
        reason: 'Threshold Crossed: 1 datapoint [0.0] was not greater than the threshold (5.0).',
        timestamp: new Date(time.getTime() - 300_000).toISOString().replace('Z', '+0000'),
      },
      configuration: {
        description: `rollback alarm ${o.alarmName}`,
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: { namespace: 'AWS/ApplicationELB', name: 'HTTPCode_Target_5XX_Count', dimensions: {} },
              period: 60,
              stat: 'Sum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
}

/** Drives an alarm's state in moto with SetAlarmState (moto never evaluates alarms) using the event's reason. */
export async function setAlarmState(
  cfg: FixtureConfig,
  alarmName: string,
  state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA',
  datapoints: readonly number[] = [12],
  threshold = 5,
): Promise<void> {
  const cw = new CloudWatchClient(cfg);
  try {
    const { reason, reasonData } = thresholdReason(datapoints, threshold, new Date());
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: reason, StateReasonData: reasonData }));
  } finally {
    cw.destroy();
  }
}

export interface PublishedNotification {
  readonly topicArn: string;
  readonly messageId: string;
  readonly subject?: string;
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/** Everything published to SNS topics of the moto server (moto's introspection API). */
/** A message published with one text per protocol (lambda/shared/headline.ts `snsNotification`) → its text. */
function textOf(message: string): string {
  try {
    const m = JSON.parse(message) as { default?: unknown };
    return typeof m?.default === 'string' ? m.default : message;
  } catch {
    return message;
  }
}

export async function publishedNotifications(endpoint: string): Promise<PublishedNotification[]> {
  const res = await fetch(`${endpoint}/moto-api/data.json`);
  if (!res.ok) throw new Error(`moto data.json: HTTP ${res.status}`);
  const data = (await res.json()) as { sns?: { Topic?: { arn: string; sent_notifications?: unknown[][] }[] } };
  const out: PublishedNotification[] = [];
  for (const t of data.sns?.Topic ?? []) {
    for (const n of t.sent_notifications ?? []) {
      out.push({
        topicArn: t.arn,
        messageId: String(n[0]),
        message: textOf(String(n[1])),
        subject: n[2] === null || n[2] === undefined ? undefined : String(n[2]),
        attributes: (n[3] as Record<string, unknown>) ?? {},
      });
    }
  }
  return out;
}

/** Every service's weights now (the traffic core's read), `{ frontend: {blue, green}, backend: … }`. */
export async function currentWeights(ctx: Pick<TrafficContext, 'clients' | 'topology'>): Promise<Record<ServiceName, { blue: number; green: number }>> {
  const r = await readRules(ctx as TrafficContext);
  return Object.fromEntries(SERVICES.map((s) => [s, r[s].weights])) as Record<ServiceName, { blue: number; green: number }>;
}

/** Every service's desired count of one color, `{ frontend: n, backend: n }`, straight from ECS. */
export async function desiredCountsOf(ecs: ECSClient, topology: Topology, color: Color): Promise<Record<string, number | undefined>> {
  const names = SERVICES.map((s) => topology.services[s].colors[color].serviceName);
  const out = await ecs.send(new DescribeServicesCommand({ cluster: topology.clusterName, services: names }));
  return Object.fromEntries(SERVICES.map((s, i) => [s, out.services!.find((x) => x.serviceName === names[i])!.desiredCount]));
}
