/** SNS notifications of the rollback Lambda: one human-readable message per outcome. */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { headline, snsNotification } from '../shared/headline';
import type { Color } from '../shared/topology';
import { call, TrafficContext } from '../traffic/context';
import { errorMessage } from '../traffic/errors';
import { WeightsByService } from '../traffic/ledger';
import { logger } from '../traffic/logger';
import { formatWeights } from '../traffic/weights';
import { AlarmEvent, AlarmMetrics } from './event';

export type NotificationKind = 'rolled-back' | 'notify-only' | 'rollback-failed' | 'rollback-incomplete';

export interface Notification {
  readonly kind: NotificationKind;
  readonly event: AlarmEvent;
  readonly failedColor: Color;
  readonly stableColor: Color;
  /** One line: what happened. */
  readonly headline: string;
  readonly weightsBefore?: WeightsByService;
  readonly weightsAfter?: WeightsByService;
  /** What was done, one item per line. */
  readonly done: readonly string[];
  /** What a person must do, if anything. */
  readonly action?: string;
}

/** The verdict of the first line (lambda/shared/headline.ts), by outcome. */
const VERDICT: Record<NotificationKind, string> = {
  'rolled-back': 'Automatic rollback',
  'notify-only': 'ACTION NEEDED, no automatic rollback',
  'rollback-failed': 'ROLLBACK FAILED',
  'rollback-incomplete': 'Rollback incomplete',
};

export function formatMetrics(m: AlarmMetrics): string {
  const parts: string[] = [];
  if (m.recentDatapoints) parts.push(`recent datapoints ${m.recentDatapoints.length ? m.recentDatapoints.join(', ') : '(none)'}`);
  if (m.threshold !== undefined) parts.push(`threshold ${m.threshold}`);
  if (m.statistic) parts.push(`statistic ${m.statistic}`);
  if (m.period !== undefined) parts.push(`period ${m.period} s`);
  if (m.unparsed !== undefined) parts.push(`reasonData (unparsed): ${m.unparsed}`);
  return parts.length ? parts.join('; ') : 'not reported by the alarm';
}

export function formatWeightsByService(w: WeightsByService | undefined): string {
  if (!w) return 'unknown';
  // In the order the weights were recorded: the topology's service order.
  const parts = Object.keys(w).filter((s) => w[s]).map((s) => `${s} ${formatWeights(w[s]!)}`);
  return parts.length ? parts.join(', ') : 'unknown';
}

/** The first line: environment, verdict, alarm, services, colors (traffic moved only when rolled back). */
export function glanceOf(environment: string, n: Notification): string {
  const w = n.weightsAfter ?? n.weightsBefore;
  const moved = n.kind === 'rolled-back' || n.kind === 'rollback-incomplete';
  return headline({
    environment,
    verdict: VERDICT[n.kind],
    step: `alarm ${n.event.alarmName}`,
    services: w ? Object.keys(w).filter((s) => w[s]) : undefined,
    colors: moved ? `${n.failedColor} -> ${n.stableColor}` : `${n.failedColor} failing`,
  });
}

/** SNS subject: the first line, ASCII, under 100 characters. */
export function subjectOf(environment: string, n: Notification): string {
  return snsNotification(glanceOf(environment, n), '').Subject;
}

export function messageOf(environment: string, n: Notification): string {
  const e = n.event;
  return [
    n.headline,
    '',
    `Environment:    ${environment}`,
    `Alarm:          ${e.alarmName} (${n.failedColor})`,
    `Alarm ARN:      ${e.alarmArn}`,
    `State change:   ${e.previousState} -> ${e.state} at ${e.time}${e.id ? ` (event ${e.id})` : ''}`,
    `Reason:         ${e.reason}`,
    `Metric values:  ${formatMetrics(e.metrics)}`,
    `Weights before: ${formatWeightsByService(n.weightsBefore)}`,
    `Weights after:  ${formatWeightsByService(n.weightsAfter)}`,
    '',
    'Done:',
    ...(n.done.length ? n.done.map((d) => `  - ${d}`) : ['  - nothing was changed']),
    ...(n.action ? ['', `Action needed: ${n.action}`] : []),
  ].join('\n');
}

/**
 * Publishes `n` to the topology's topic (with retries). Returns the message id, or undefined when the topology has
 * no topic. Throws when publishing fails.
 */
export async function publish(ctx: TrafficContext, sns: SNSClient, n: Notification): Promise<string | undefined> {
  const topicArn = ctx.topology.notificationTopicArn;
  const environment = ctx.topology.environment;
  if (!topicArn) {
    logger.warn('no notification topic in the topology; notification only logged', { kind: n.kind, headline: n.headline });
    return undefined;
  }
  const out = await call(ctx, 'sns:Publish', () =>
    sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        ...snsNotification(glanceOf(environment, n), messageOf(environment, n)),
        MessageAttributes: {
          environment: { DataType: 'String', StringValue: environment },
          outcome: { DataType: 'String', StringValue: n.kind },
          alarmName: { DataType: 'String', StringValue: n.event.alarmName },
        },
      }),
    ),
  );
  return out.MessageId;
}

/** Like publish, but never throws (failure paths, where the original error must surface). */
export async function publishQuietly(ctx: TrafficContext, sns: SNSClient, n: Notification): Promise<string | undefined> {
  try {
    return await publish(ctx, sns, n);
  } catch (e) {
    logger.error('could not publish the rollback notification', { kind: n.kind, error: errorMessage(e) });
    return undefined;
  }
}
