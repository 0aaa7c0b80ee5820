/**
 * Crash detection (README "Crash detection"): an ECS task of a color stopped crashing. Receives its clients; no module
 * state. Order: validate → map the task to service and color → count the crash (idempotent, per task) → below the
 * threshold: done → a release is running whose new color crashed: roll it back now through the rollback core's path
 * (rollBackColor: the same marker, traffic move, fence, record and notification as an alarm) → otherwise notify, once
 * per window.
 *
 * At-least-once and out of order: a crash is counted once per task (a string set, ADD is idempotent), at the task's
 * stop time, never its arrival; a redelivered event re-runs the decision, and the rollback's marker makes a second
 * rollback of the same color a duplicate (its claim refuses an event older than the last completed rollback). An old
 * task's stop arriving after the release ended finds no running release: it notifies, it never rolls back.
 */
import { ReturnValue, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { Color, otherColor } from '../shared/topology';
import { call, TrafficContext } from '../traffic/context';
import { toAttributes } from '../traffic/dynamo-items';
import { logger } from '../traffic/logger';
import { readActiveRelease, RollbackContext, RollbackOutcome, rollBackColor } from '../rollback/core';
import type { AlarmEvent } from '../rollback/event';
import { readMarker } from '../rollback/marker';
import { publish } from '../rollback/notify';
import { colorOfGroup, parseTaskEvent, TaskStop, thresholdReached } from './event';

export interface CrashSettings {
  /** Crashed tasks of one color within the window that trigger. */
  readonly tasks: number;
  readonly windowSeconds: number;
}

export type CrashOutcome =
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'counted'; readonly color: Color; readonly crashes: number }
  | { readonly status: 'notified' | 'notify-suppressed'; readonly color: Color; readonly crashes: number; readonly reason: string }
  | { readonly status: 'rollback'; readonly color: Color; readonly crashes: number; readonly rollback: RollbackOutcome };

/** Name the crash trigger carries where an alarm trigger carries its alarm's (ledger, marker, notification). */
export const crashTriggerName = (color: Color) => `crash-detection-${color}`;
export const crashKey = (environment: string, color: Color) => `${environment}#crash#${color}`;

/** Element of the crash set: `<task id>@<stop time ms>`. */
const element = (s: TaskStop) => `${s.taskId}@${s.stoppedAtMs}`;
const stopTimes = (set: readonly string[]): Map<string, number> => {
  const byTask = new Map<string, number>();
  for (const e of set) {
    const [task, ms] = e.split('@');
    if (Number.isFinite(Number(ms))) byTask.set(task, Math.min(byTask.get(task) ?? Infinity, Number(ms)));
  }
  return byTask;
};

/** Records the crash (idempotent) and returns every crash of the color still on record. */
async function countCrash(ctx: TrafficContext, color: Color, stop: TaskStop, windowMs: number): Promise<Map<string, number>> {
  const Key = toAttributes({ pk: crashKey(ctx.topology.environment, color) });
  const out = await call(ctx, 'crash count', () =>
    ctx.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: ctx.topology.lockTableName,
        Key,
        // A set: adding the same task's crash again changes nothing. expiresAt is the table's TTL attribute: the item
        // goes a day after its last crash's window, whatever happens to the pruning below.
        UpdateExpression: 'ADD crashes :c SET expiresAt = :exp',
        ExpressionAttributeValues: { ':c': { SS: [element(stop)] }, ':exp': { N: String(Math.ceil((stop.stoppedAtMs + windowMs) / 1000) + 86_400) } },
        ReturnValues: ReturnValue.ALL_NEW,
      }),
    ),
  );
  // A string set, which dynamo-items.ts does not convert: read as is.
  const set = out.Attributes?.crashes?.SS ?? [];
  // Best effort: forget crashes older than two windows before this one, so the item stays small.
  const old = set.filter((e) => Number(e.split('@')[1]) < stop.stoppedAtMs - 2 * windowMs);
  if (old.length > 0) {
    await ctx.clients.dynamodb
      .send(new UpdateItemCommand({ TableName: ctx.topology.lockTableName, Key, UpdateExpression: 'DELETE crashes :old', ExpressionAttributeValues: { ':old': { SS: old } } }))
      .catch(() => undefined);
  }
  return stopTimes(set);
}

/** Claims the notification of this window for `stop`'s task (a redelivery of the same task claims again). */
async function claimNotification(ctx: TrafficContext, color: Color, stop: TaskStop, windowMs: number): Promise<boolean> {
  try {
    await call(ctx, 'crash notice', () =>
      ctx.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: ctx.topology.lockTableName,
          Key: toAttributes({ pk: crashKey(ctx.topology.environment, color) }),
          UpdateExpression: 'SET notifiedAtMs = :t, notifiedTask = :task',
          ConditionExpression: 'attribute_not_exists(notifiedAtMs) OR notifiedAtMs <= :since OR notifiedTask = :task',
          ExpressionAttributeValues: toAttributes({ ':t': stop.stoppedAtMs, ':task': stop.taskId, ':since': stop.stoppedAtMs - windowMs }),
        }),
      ),
    );
    return true;
  } catch (e) {
    if ((e as { name?: string })?.name === 'ConditionalCheckFailedException') return false;
    throw e;
  }
}

/** Handles one task state change event. Throws (so Lambda retries, and its Errors alarm pages) when it cannot decide. */
export async function handleTaskEvent(ctx: RollbackContext, settings: CrashSettings, raw: unknown): Promise<CrashOutcome> {
  const { topology } = ctx;
  const environment = topology.environment;
  const stop = parseTaskEvent(raw);
  const log = { environment, ...stop };
  const where = stop.crash ? colorOfGroup(topology, stop.group) : undefined;
  if (!where) {
    logger.info('not a crash of a color', log);
    return { status: 'ignored', reason: stop.crash ? `group ${stop.group} is no color of ${environment}` : `no crash: ${stop.stopCode}` };
  }
  const { service, color } = where;
  const windowMs = settings.windowSeconds * 1000;
  const counted = await countCrash(ctx, color, stop, windowMs);
  const times = [...counted.values()];
  const inWindow = times.filter((t) => Math.abs(t - stop.stoppedAtMs) <= windowMs).length;
  logger.warn('task crashed', { ...log, service, color, inWindow });
  // The task's first recorded stop: a repeat of its event with another time is still the same crash.
  if (!thresholdReached(times, counted.get(stop.taskId) ?? stop.stoppedAtMs, settings.tasks, windowMs)) return { status: 'counted', color, crashes: inWindow };

  const reason = `${inWindow} tasks of ${color} crashed within ${settings.windowSeconds} s; ${service} task ${stop.taskId}: ${stop.crash}`;
  const trigger: AlarmEvent = {
    id: `crash:${stop.eventId}`,
    time: stop.stoppedAt,
    timeMs: stop.stoppedAtMs,
    alarmArn: stop.taskArn,
    alarmName: crashTriggerName(color),
    state: 'ALARM',
    previousState: 'OK',
    reason,
    metrics: {},
  };
  const release = await readActiveRelease(ctx);
  // Cannot tell whether a release is running: fail, Lambda retries the event (and the Errors alarm says so).
  if (release instanceof Error) throw release;
  const inRelease = release && release.candidate === color && (!release.services?.length || release.services.includes(service));
  // A crash rollback of this color that an earlier invocation started (claimed) and did not record: the rollback
  // stopped the release and revoked its lock, so no release looks active any more, but the retry must finish it.
  const marker = inRelease ? undefined : await readMarker(ctx, color);
  if (inRelease || (marker && marker.state !== 'done' && marker.alarmName === trigger.alarmName)) {
    logger.error('new color crashing: rolling back', { ...log, reason, marker });
    return { status: 'rollback', color, crashes: inWindow, rollback: await rollBackColor(ctx, trigger, color) };
  }

  const why = release ? `${color} is not the new color of the release in progress` : 'no release in progress';
  if (!(await claimNotification(ctx, color, stop, windowMs))) {
    return { status: 'notify-suppressed', color, crashes: inWindow, reason: why };
  }
  // A publish that fails throws: Lambda retries the event, and the claim is this task's, so the retry publishes.
  await publish(ctx, ctx.clients.sns, {
      kind: 'notify-only',
      event: trigger,
      failedColor: color,
      stableColor: otherColor(color),
      headline: `Tasks of ${color} are crashing (${reason}); nothing moved: ${why}.`,
      done: [],
      action: `investigate ${service} ${color} (its stopped tasks); at most one notice per ${settings.windowSeconds} s`,
    });
  return { status: 'notified', color, crashes: inWindow, reason: why };
}
