/** SNS notifications of the rollback Lambda: one human-readable message per outcome. */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
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

const SUBJECT_PREFIX: Record<NotificationKind, string> = {
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

/** SNS subject: ASCII, no line breaks, under 100 characters. */
export function subjectOf(environment: string, n: Notification): string {
  const subject = `[${environment}] ${SUBJECT_PREFIX[n.kind]}: ${n.failedColor} alarm ${n.event.alarmName}`;
  const ascii = subject.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii;
}

export function messageOf(environment: string, n: Notification): string {
  const e = n.event;
  return [
    `${n.headline}`,
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
        Subject: subjectOf(environment, n),
        Message: messageOf(environment, n),
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
