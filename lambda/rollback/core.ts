/**
 * Automated rollback on a rollback alarm (see README.md). Receives SDK clients and the topology; no module state.
 *
 * Order: validate the event → read everything in parallel (rules, desired counts, the stable color's target health,
 * marker, release record, newest ledger page) → decide (ignore / duplicate / notify only / unknown) → move traffic
 * back to the stable color (every service at once, kept where it moved, the rest retried: the first write of the
 * invocation) → claim the rollback marker → fence and stop the running release (revoke its lock, StopExecution) →
 * read the weights again and correct a late write → scale the failed color to 0 → ledger entry, marker done and the
 * notification to send (one transaction) → notification → marker notified → metrics.
 *
 * Invariant: after an invocation and its retries, no traffic is on the failing color, exactly one rollback is
 * recorded and a notification went out — or the failure is loud (RollbackFailed / RollbackIncomplete metric, which
 * alarm, an invocation error, and a notification attempt).
 */
import { randomBytes } from 'node:crypto';
import { ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { Color, COLORS, otherColor, scopeTopology, ServiceName, serviceNamesOf } from '../shared/topology';
import { readReleaseRecord } from '../release/record';
import { AllClients } from '../traffic/notification-clients';
import { call, nowOf, TrafficContext } from '../traffic/context';
import { errorMessage, GuardRefused, MoveIncomplete } from '../traffic/errors';
import { readLock, revokeLock } from '../traffic/lock';
import { appendLedgerQuietly, buildLedgerEntry, readLedger, WeightsByService } from '../traffic/ledger';
import { logger } from '../traffic/logger';
import { ScaleResult, scaleColor } from '../traffic/scale';
import { moveAllTo, shift, ShiftResult } from '../traffic/shift';
import { realSleep } from '../traffic/retry';
import { attemptBoundMs } from '../traffic/client-config';
import { publishTrafficWeights } from '../traffic/weights-metric';
import { readDesiredCounts, readRules, readTargetHealth, RuleState, TargetHealthSummary } from '../traffic/state';
import { ActiveRelease, findStableColor, LEDGER_LOOKBACK, StableColor } from '../traffic/stable';
import { formatWeights, weightsForPercent } from '../traffic/weights';
import { RollbackFailed, RollbackIncomplete } from './errors';
import { AlarmEvent, parseAlarmEvent } from './event';
import { claimMarker, completeMarker, failMarker, markNotified, readMarker, RollbackMarker } from './marker';
import { emfLine, MetricSink, stdoutSink } from './metrics';
import { formatWeightsByService, Notification, publish, publishQuietly } from './notify';

export const ROLLBACK_ACTOR = 'rollback-lambda';
/** Error name given to StopExecution of the release execution. */
export const STOP_ERROR = 'AlarmRollback';

export interface RollbackContext extends TrafficContext {
  /** Needs the Step Functions and SNS clients too (createAllClients). */
  readonly clients: AllClients;
  /** The environment's release state machine; its RUNNING executions are stopped. Absent: nothing to stop. */
  readonly releaseStateMachineArn?: string;
  /** Lease of the in-progress claim in seconds (default 120; the Lambda timeout must be shorter). */
  readonly leaseSeconds?: number;
  /** Where EMF metric lines go (default stdout). */
  readonly metricSink?: MetricSink;
  /** Claim owner token of this invocation (default: random). */
  readonly invocationId?: string;
  /** Called once traffic is verified on the stable color (bench and tests). */
  readonly onSafe?: () => void;
  /**
   * How long to wait after revoking a stopped release's lock before reading the weights again, so that a write the
   * release's Lambda had already sent lands before the check that corrects it. @default - one attempt bound (4 s)
   */
  readonly fenceSettleMs?: number;
}

interface Base {
  readonly reason: string;
  readonly alarmName: string;
}
export type RollbackOutcome =
  /** Not a rollback alarm of this environment, or not an ALARM state: nothing read or changed. */
  | (Base & { readonly status: 'ignored' })
  /** Automatic rollback is not possible or not safe; a notification was published, nothing changed. */
  | (Base & {
      readonly status: 'notify-only';
      readonly failedColor: Color;
      readonly stableColor: Color;
      readonly weights: WeightsByService;
      readonly notificationId?: string;
    })
  /** Already rolled back, or being rolled back by another invocation: nothing (more) to do. */
  | (Base & {
      readonly status: 'duplicate';
      readonly failedColor: Color;
      readonly stableColor: Color;
      readonly weights: WeightsByService;
    })
  | (Base & {
      readonly status: 'rolled-back';
      readonly failedColor: Color;
      readonly stableColor: Color;
      readonly weightsBefore: WeightsByService;
      readonly weightsAfter: WeightsByService;
      /** False when the weights were already on the stable color (the alarm fired before traffic was added). */
      readonly trafficChanged: boolean;
      readonly stoppedExecutions: readonly string[];
      readonly scale: ScaleResult;
      readonly ledgerSk: string;
      readonly notificationId?: string;
      readonly timeToSafeMs: number;
    });

function weightsOf(rules: Record<ServiceName, RuleState>): WeightsByService {
  const out: WeightsByService = {};
  for (const s of Object.keys(rules)) out[s] = rules[s].weights;
  return out;
}

/**
 * Fences and stops every RUNNING execution of the release state machine; returns their ARNs. Fence first: the lock of
 * the execution (its owner is the execution ARN) is revoked before StopExecution, because a stopped execution's
 * Lambda keeps running and its every fenced write re-checks the lock (traffic/shift.ts).
 */
async function stopReleaseExecutions(ctx: RollbackContext, sfn: SFNClient, event: AlarmEvent, failed: Color): Promise<{ stopped: string[]; revoked: string[] }> {
  const stateMachineArn = ctx.releaseStateMachineArn;
  if (!stateMachineArn) {
    logger.warn('RELEASE_STATE_MACHINE_ARN not set: no release execution to stop', { alarmName: event.alarmName });
    return { stopped: [], revoked: [] };
  }
  const running: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await call(ctx, 'states:ListExecutions', () =>
      sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken })),
    );
    for (const e of page.executions ?? []) if (e.executionArn) running.push(e.executionArn);
    nextToken = page.nextToken;
  } while (nextToken);
  const cause =
    `Rollback alarm ${event.alarmName} (${failed}) of ${ctx.topology.environment} went to ALARM at ${event.time}: ` +
    `${event.reason}. Traffic was moved back to ${otherColor(failed)} by the rollback Lambda.`;
  const revoked: string[] = [];
  const failures: string[] = [];
  for (const executionArn of running) {
    // A revoke that fails must not keep the execution running: stop it anyway, report the revoke.
    await revokeLock(ctx, executionArn).then(
      (r) => r && revoked.push(executionArn),
      (e) => failures.push(`revoking the lock of ${executionArn}: ${errorMessage(e)}`),
    );
    try {
      await call(ctx, 'states:StopExecution', () =>
        sfn.send(new StopExecutionCommand({ executionArn, error: STOP_ERROR, cause: cause.slice(0, 32768) })),
      );
    } catch (e) {
      // It finished between listing and stopping: nothing to stop.
      if ((e as { name?: string })?.name !== 'ExecutionDoesNotExist') failures.push(`stopping ${executionArn}: ${errorMessage(e)}`);
    }
  }
  if (failures.length > 0) throw new Error(failures.join('; '));
  return { stopped: running, revoked };
}

/**
 * The release in progress according to its record, an Error when it cannot be read, undefined when none. A record
 * counts only while its execution holds the release lock: a record left `running` by an execution that died without
 * its clean-up must not name the stable color for ever.
 */
export async function readActiveRelease(ctx: RollbackContext): Promise<ActiveRelease | Error | undefined> {
  try {
    const [r, lock] = await Promise.all([readReleaseRecord(ctx), readLock(ctx)]);
    if (!r?.stable || !r.candidate || lock?.owner !== r.executionArn || lock.expired) return undefined;
    return { executionArn: r.executionArn, status: r.status, stable: r.stable, candidate: r.candidate, ...(r.services ? { services: r.services } : {}) };
  } catch (e) {
    return e instanceof Error ? e : new Error(errorMessage(e));
  }
}

/** Target health of every service of `color` (the shift's health guard reuses it). */
async function readColorHealth(ctx: RollbackContext, color: Color): Promise<Record<ServiceName, TargetHealthSummary>> {
  const out = await Promise.all(serviceNamesOf(ctx.topology).map((s) => readTargetHealth(ctx, ctx.topology.services[s].colors[color].targetGroupArn)));
  return Object.fromEntries(serviceNamesOf(ctx.topology).map((s, i) => [s, out[i]])) as Record<ServiceName, TargetHealthSummary>;
}

/** Validates the event and rolls back if it is a rollback alarm in ALARM. See README.md for every outcome. */
export async function handleAlarmEvent(ctx: RollbackContext, raw: unknown): Promise<RollbackOutcome> {
  const { topology } = ctx;
  const environment = topology.environment;

  let event: AlarmEvent;
  try {
    event = parseAlarmEvent(raw);
  } catch (e) {
    logger.error('malformed alarm event rejected; nothing changed', { environment, error: errorMessage(e) });
    throw e;
  }
  const alarmName = event.alarmName;
  const log = { environment, alarmName, eventId: event.id, eventTime: event.time, alarmState: event.state };

  if (event.state !== 'ALARM') {
    const reason = `alarm ${alarmName} changed to ${event.state}, not ALARM: nothing to roll back`;
    logger.error('alarm event ignored', { ...log, reason });
    return { status: 'ignored', reason, alarmName };
  }
  const colors = COLORS.filter((c) => topology.rollbackAlarmNames[c].includes(alarmName));
  if (colors.length !== 1) {
    const reason =
      colors.length === 0
        ? `alarm ${alarmName} is not a rollback alarm of ${environment} (rollback alarms: ${COLORS.map(
            (c) => `${c}: ${topology.rollbackAlarmNames[c].join(', ') || 'none'}`,
          ).join('; ')})`
        : `alarm ${alarmName} is configured as a rollback alarm of both colors: cannot tell which color failed`;
    logger.error('alarm event ignored', { ...log, reason });
    return { status: 'ignored', reason, alarmName };
  }
  return rollBackColor(ctx, event, colors[0]);
}

/**
 * Rolls `failed` back to the other color for `event`: the path after an alarm event is resolved to its color, shared
 * with crash detection (lambda/crash), which passes a trigger of the same shape naming the crash. Same invariant, same
 * marker (one rollback per color, whichever trigger reports it), same ledger entry and notification.
 */
export async function rollBackColor(ctx: RollbackContext, event: AlarmEvent, failed: Color): Promise<RollbackOutcome> {
  const started = Date.now();
  const { topology } = ctx;
  const environment = topology.environment;
  const metric = ctx.metricSink ?? stdoutSink;
  const { sfn, sns } = ctx.clients;
  const alarmName = event.alarmName;
  const log = { environment, alarmName, eventId: event.id, eventTime: event.time, alarmState: event.state };
  const stable = otherColor(failed);
  const actor = ROLLBACK_ACTOR;
  const rollbackReason = `automatic rollback: rollback alarm ${alarmName} (${failed}) in ALARM since ${event.time}`;
  Object.assign(log, { failedColor: failed });
  const loud = (name: 'RollbackFailed' | 'RollbackIncomplete', properties: Record<string, unknown>) =>
    metric(emfLine(environment, { [name]: 1 }, { alarmName, failedColor: failed, ...properties }, nowOf(ctx)));
  /** Traffic was not (all) moved: RollbackFailed metric, a ROLLBACK FAILED notification attempt, the error. */
  const failBeforeSafe = async (
    message: string,
    error: string,
    n: { weightsBefore?: WeightsByService; weightsAfter?: WeightsByService; done?: string[]; action: string },
    cause?: unknown,
  ): Promise<never> => {
    logger.error('rollback failed: traffic not moved', { ...log, error });
    loud('RollbackFailed', { error });
    await publishQuietly(ctx, sns, { kind: 'rollback-failed', event, failedColor: failed, stableColor: stable, headline: message, done: [], ...n });
    throw new RollbackFailed(message, cause);
  };

  // Every read at once: one round trip before the first write.
  const [rulesRead, desiredRead, stableHealthRead, marker, release, ledger] = await Promise.all([
    readRules(ctx),
    readDesiredCounts(ctx),
    readColorHealth(ctx, stable),
    readMarker(ctx, failed),
    readActiveRelease(ctx),
    readLedger(ctx, LEDGER_LOOKBACK).catch((e: unknown) => (e instanceof Error ? e : new Error(errorMessage(e)))),
  ]).catch(async (e: unknown): Promise<never> => {
    // A read that keeps failing (every DescribeRules hanging until the retry deadline, a denied DescribeServices, …)
    // used to escape as the raw SDK error (errorType TimeoutError / AccessDenied…): no RollbackFailed metric and no
    // notification, though the failed color may still carry traffic. Found by test/faults/rollback.faults.test.ts (3b).
    return failBeforeSafe(
      `automatic rollback of ${environment} NOT done: the current state could not be read (${errorMessage(e)}); ${failed} may still carry traffic`,
      errorMessage(e),
      { action: `check the listener rules; if ${failed} carries traffic, move it to the stable color by hand now (traffic CLI rollback); the Lambda retries the event` },
      e,
    );
  });
  // During a release the rollback covers that release's services only: they moved together from its stable color, the
  // others stay where they are (one of them may be live on the failed color, released earlier). Outside a release it
  // covers every service. The reads above took every service, so the scope costs no round trip.
  const scope = release && !(release instanceof Error) && release.services?.length ? release.services.filter((s) => s in ctx.topology.services) : undefined;
  if (scope?.length) ctx = { ...ctx, topology: scopeTopology(ctx.topology, scope) };
  const only = <T>(r: Record<ServiceName, T>): Record<ServiceName, T> => (scope?.length ? Object.fromEntries(Object.entries(r).filter(([s]) => scope.includes(s))) : r);
  const rules = only(rulesRead);
  const desired = only(desiredRead);
  const stableHealth = only(stableHealthRead);
  const weightsBefore = weightsOf(rules);
  const stableFound: StableColor = await findStableColor(ctx, weightsBefore, ledger, release);
  logger.info('rollback alarm in ALARM', { ...log, weights: weightsBefore, stable: stableFound, marker });

  const duplicate = (reason: string): RollbackOutcome => {
    logger.info('rollback not needed', { ...log, reason, weights: weightsBefore });
    return { status: 'duplicate', reason, alarmName, failedColor: failed, stableColor: stable, weights: weightsBefore };
  };
  /** Nothing moved on purpose: a person decides. Loud when the notification cannot be sent. */
  const notifyOnly = async (reason: string, action: string): Promise<RollbackOutcome> => {
    logger.error('automatic rollback not possible; notifying only', { ...log, reason, weights: weightsBefore });
    const n: Notification = {
      kind: 'notify-only',
      event,
      failedColor: failed,
      stableColor: stableFound.color ?? stable,
      headline: `Rollback alarm ${alarmName} of ${failed} in ${environment} is in ALARM, and traffic was NOT moved: ${reason}.`,
      weightsBefore,
      weightsAfter: weightsBefore,
      done: [],
      action,
    };
    let notificationId: string | undefined;
    try {
      notificationId = await publish(ctx, sns, n);
    } catch (e) {
      // Nobody would know that a person must act: as loud as a failed rollback.
      const message = `${n.headline} The notification could not be published: ${errorMessage(e)}`;
      logger.error('notify-only outcome, but the notification failed', { ...log, error: errorMessage(e) });
      loud('RollbackFailed', { reason, notification: 'failed', error: errorMessage(e) });
      throw new RollbackFailed(message, e);
    }
    return { status: 'notify-only', reason, alarmName, failedColor: failed, stableColor: n.stableColor, weights: weightsBefore, notificationId };
  };

  if (marker?.completedAtMs !== undefined && marker.completedAtMs >= event.timeMs) {
    // Recorded already. A notification the recording invocation did not get to publish is sent now.
    if (marker.notification && marker.ledgerSk) {
      const n = JSON.parse(marker.notification) as Notification;
      try {
        await publish(ctx, sns, n);
      } catch (e) {
        loud('RollbackIncomplete', { failedSteps: ['notify'], error: errorMessage(e) });
        throw new RollbackIncomplete(`rollback of ${failed} recorded (${marker.ledgerSk}), but its notification could not be published: ${errorMessage(e)}`, ['notify']);
      }
      await markNotified(ctx, { color: failed, ledgerSk: marker.ledgerSk });
      return duplicate(`already handled: the rollback of ${failed} completed at ${marker.completedAt}; its notification was sent now`);
    }
    return duplicate(`already handled: the rollback of ${failed} completed at ${marker.completedAt} after this alarm fired`);
  }
  if (stableFound.source === 'unknown') {
    // Never a guess: moving all traffic to the other color is a rollback only if that color is the stable one.
    return failBeforeSafe(
      `automatic rollback of ${environment} NOT done: cannot tell which color is stable (${stableFound.why}); ${failed} may still carry traffic`,
      stableFound.why,
      {
        weightsBefore,
        weightsAfter: weightsBefore,
        action: `if ${stable} is the version to keep, move traffic to it by hand now (traffic CLI rollback --to ${stable}); the Lambda retries the event`,
      },
    );
  }
  if (stableFound.color === failed) {
    return notifyOnly(
      stableFound.source === 'release'
        ? `${failed} is the stable color of the release in progress (${stableFound.executionArn}); moving all traffic to the new color ${stable} is not a rollback`
        : stableFound.source === 'current'
          ? `${failed} carries all traffic (it is the live color) and ${stable} has none to return to`
          : `${failed} is the stable color (it carried all traffic before the split, ledger entry ${stableFound.sk}); moving all traffic to the new color ${stable} is not a rollback`,
      stableFound.source === 'current'
        ? `investigate ${failed}; to undo a completed promote run the traffic CLI rollback naming ${stable} once it is running and healthy`
        : `investigate ${failed}; decide by hand whether to pause the release of ${stable}`,
    );
  }
  const notRunning = serviceNamesOf(ctx.topology).filter((s) => !desired[s][stable].found || desired[s][stable].desiredCount === 0);
  if (notRunning.length > 0) {
    return notifyOnly(
      `the stable color ${stable} is not running (${notRunning.map((s) => `${s}: desired count 0`).join(', ')})`,
      `bring ${stable} back (traffic CLI: scale --color ${stable} --count N), then roll back by hand (rollback --to ${stable}); or fix ${failed}`,
    );
  }

  // 1. Traffic back to the stable color: the first write of this invocation. Every service at once; what moved stays.
  let shifted: ShiftResult;
  try {
    shifted = await shift(ctx, {
      target: { to: stable, percent: 100 },
      actor,
      reason: rollbackReason,
      rollback: true,
      ledgerOnSuccess: false,
      currentRules: rules,
      guardState: { desired, health: Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, { [stable]: stableHealth[s] }])) },
      // Published below, once traffic is safe: nothing but the weight writes and their read-back before that.
      publishWeights: false,
    });
  } catch (e) {
    if (e instanceof GuardRefused) {
      return notifyOnly(
        `sending traffic to ${stable} was refused: ${e.reason}`,
        `${stable} cannot take the traffic; fix ${failed} or bring ${stable} back healthy, then roll back by hand`,
      );
    }
    const moved = e instanceof MoveIncomplete ? e.moved : [];
    return failBeforeSafe(
      `automatic rollback of ${environment} to ${stable} FAILED, ${failed} may still carry traffic` +
        `${moved.length ? ` (${(e as MoveIncomplete).notMoved.join(', ')} not moved; ${moved.join(', ')} moved and kept)` : ''}: ${errorMessage(e)}`,
      errorMessage(e),
      {
        weightsBefore,
        weightsAfter: await readRules(ctx).then(weightsOf, () => undefined),
        done: moved.length ? [`moved to ${stable}: ${moved.join(', ')} (kept)`] : [],
        action: `move traffic to ${stable} by hand now (traffic CLI rollback --to ${stable}), then check the listener rules; the Lambda retries the event`,
      },
      e,
    );
  }
  const timeToSafeMs = Date.now() - started;
  const target = weightsForPercent(stable, 100);
  const weightsAfter = shifted.weightsAfter;
  ctx.onSafe?.();
  logger.info('traffic verified on the stable color', { ...log, changed: shifted.changed, weightsAfter, timeToSafeMs });
  // Never throws; after the safe point, so the dashboard's weights follow without delaying safety.
  if (shifted.changed) await publishTrafficWeights(ctx, weightsAfter);

  const failedScaledDown = serviceNamesOf(ctx.topology).every((s) => desired[s][failed].desiredCount === 0);
  if (!shifted.changed && failedScaledDown && marker?.state === 'done') {
    return duplicate(`already rolled back: all traffic on ${stable} and ${failed} scaled to 0 (last rollback recorded ${marker.ledgerSk})`);
  }

  // 2. Claim: from here on exactly one invocation works and records.
  const owner = ctx.invocationId ?? `rollback:${randomBytes(8).toString('hex')}`;
  const done: string[] = [
    shifted.changed
      ? `traffic moved to ${stable} (${formatWeights(target)}) on ${serviceNamesOf(ctx.topology).join(', ')}, verified by read-back`
      : `traffic was already on ${stable} (${formatWeights(target)}), verified by read-back`,
  ];
  const errors: { step: string; error: string }[] = [];
  let claimed: boolean;
  try {
    claimed = await claimMarker(ctx, {
      color: failed,
      owner,
      alarmName,
      eventId: event.id,
      eventTimeMs: event.timeMs,
      leaseSeconds: ctx.leaseSeconds,
    });
  } catch (e) {
    // Unknown whether another invocation works on it. Stopping and scaling are idempotent, so do them anyway; without
    // a claim nothing is recorded as `rollback` and the invocation fails loudly (a retry records it).
    claimed = true;
    errors.push({ step: 'claim rollback marker', error: errorMessage(e) });
  }
  if (!claimed) {
    const current: RollbackMarker | undefined = await readMarker(ctx, failed).catch(() => undefined);
    return duplicate(
      current?.state === 'in-progress'
        ? `another invocation (alarm ${current.alarmName}) is rolling back ${failed}; traffic verified on ${stable}`
        : `already handled: the rollback of ${failed} completed at ${current?.completedAt} after this alarm fired`,
    );
  }

  /** Moves back whatever a late write put on the failed color (the rules just read), and says so. */
  const correctLateWrite = async (rulesNow: Record<ServiceName, RuleState>): Promise<void> => {
    const drifted = serviceNamesOf(ctx.topology).filter((s) => rulesNow[s].weights[failed] > 0);
    if (drifted.length === 0) return;
    logger.error('a late write put traffic back on the failed color; moving it back', { ...log, weights: weightsOf(rulesNow) });
    await moveAllTo(ctx, rulesNow, serviceNamesOf(ctx.topology), target);
    done.push(`corrected a late write that put traffic back on ${failed} (${drifted.map((s) => `${s} ${formatWeights(rulesNow[s].weights)}`).join(', ')})`);
  };

  // 3. Fence and stop the release.
  let stoppedExecutions: string[] = [];
  try {
    const r = await stopReleaseExecutions(ctx, sfn, event, failed);
    stoppedExecutions = r.stopped;
    done.push(
      r.stopped.length
        ? `stopped release execution${r.stopped.length > 1 ? 's' : ''} ${r.stopped.join(', ')} (error ${STOP_ERROR}` +
            `${r.revoked.length ? `; its release lock revoked first, so its Lambda cannot write any more` : ''})`
        : ctx.releaseStateMachineArn
          ? 'no release execution was running'
          : 'no release state machine configured: nothing to stop',
    );
  } catch (e) {
    errors.push({ step: 'stop release execution', error: errorMessage(e) });
  }

  // 4. A write sent before the fence (a release step in flight: a weight write, or Finish scaling the stable color
  // to 0) may land after our read-back. Let it land (two attempt bounds: the release's last lock read, then its write),
  // read again, and undo it: weights back to the stable color; the stable color back to its counts, in which case the
  // failed color is NOT scaled down (it would leave no color running) and the rollback ends loud.
  let stableScaledDown: ServiceName[] = [];
  try {
    await (ctx.retry?.sleep ?? realSleep)(ctx.fenceSettleMs ?? 2 * attemptBoundMs());
    const [again, countsNow] = await Promise.all([readRules(ctx), readDesiredCounts(ctx)]);
    await correctLateWrite(again);
    stableScaledDown = serviceNamesOf(ctx.topology).filter((s) => countsNow[s][stable].desiredCount < desired[s][stable].desiredCount);
    if (stableScaledDown.length > 0) {
      logger.error('the stable color was scaled down after the rollback moved traffic to it; restoring it', { ...log, stableScaledDown });
      const restore = Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, Math.max(desired[s][stable].desiredCount, countsNow[s][stable].desiredCount)]));
      await scaleColor(ctx, { color: stable, desiredCount: restore as Record<ServiceName, number>, actor, reason: `${rollbackReason}: ${stable} carries all traffic, back to its counts` });
      done.push(`restored ${stable}, scaled down by a late write (${stableScaledDown.map((s) => `${s} ${countsNow[s][stable].desiredCount} -> ${restore[s]}`).join(', ')})`);
      errors.push({ step: `keep ${stable} running`, error: `${stable} was scaled down (${stableScaledDown.join(', ')}) after traffic moved to it; restored, ${failed} left running` });
    }
  } catch (e) {
    errors.push({ step: 'verify traffic and counts after stopping the release', error: errorMessage(e) });
  }

  // 5. Scale the failed color to 0, unless the stable color needed restoring (then both keep running until a person
  // has looked: the failed color carries no traffic).
  let scale: ScaleResult | undefined;
  if (stableScaledDown.length === 0) {
    try {
      scale = await scaleColor(ctx, { color: failed, desiredCount: 0, actor, reason: `${rollbackReason}: scale ${failed} to 0` });
      const bounded = Object.keys(scale.scalableTargets);
      done.push(
        `scaled ${failed} to 0 (${serviceNamesOf(ctx.topology).map((s) => `${s} ${scale!.before[s]} -> 0`).join(', ')})` +
          (bounded.length ? `; scalable targets of ${bounded.join(', ')} set to min 0 / max 0` : ''),
      );
    } catch (e) {
      errors.push({ step: `scale ${failed} to 0`, error: errorMessage(e) });
    }
  }

  // The last look before recording: a late write that landed after the first re-read is undone here.
  try {
    await correctLateWrite(await readRules(ctx));
  } catch (e) {
    errors.push({ step: 'verify traffic before recording', error: errorMessage(e) });
  }

  // 6. Record: ledger entry + marker done + the notification to send, in one transaction.
  const notification: Notification = {
    kind: 'rolled-back',
    event,
    failedColor: failed,
    stableColor: stable,
    headline:
      `Automatic rollback of ${environment}: rollback alarm ${alarmName} of ${failed} went to ALARM; ` +
      `all traffic is back on ${stable} (was ${formatWeightsByService(weightsBefore)}).`,
    weightsBefore,
    weightsAfter,
    done,
  };
  let ledgerSk: string | undefined;
  if (errors.length === 0) {
    const entry = buildLedgerEntry(ctx, {
      actor,
      action: 'rollback',
      reason: rollbackReason,
      weightsBefore,
      weightsAfter,
      detail: {
        alarmName,
        alarmArn: event.alarmArn,
        eventId: event.id,
        eventTime: event.time,
        alarmReason: event.reason,
        metrics: event.metrics,
        failedColor: failed,
        stableColor: stable,
        stableSource: stableFound.source,
        trafficChanged: shifted.changed,
        stoppedExecutions,
        scaledTo0: scale?.after,
        scalableTargets: scale?.scalableTargets,
        timeToSafeMs,
        done,
      },
    });
    try {
      if (await completeMarker(ctx, { color: failed, owner, ledgerEntry: entry, notification: JSON.stringify({ ...notification, done: [...done, `ledger entry ${entry.sk}`] }) })) {
        ledgerSk = entry.sk;
        logger.info('ledger: rollback', { ledger: entry });
        done.push(`ledger entry ${entry.sk}`);
      } else {
        return duplicate(`the claim on the rollback of ${failed} was taken over by another invocation; it records the rollback`);
      }
    } catch (e) {
      errors.push({ step: 'ledger', error: errorMessage(e) });
    }
  }

  if (errors.length > 0) {
    const failedSteps = errors.map((e) => e.step);
    const message =
      `automatic rollback of ${environment}: traffic is back on ${stable} (verified), but ${failedSteps.join(', ')} failed: ` +
      errors.map((e) => `${e.step}: ${e.error}`).join('; ');
    logger.error('rollback incomplete', { ...log, errors, done });
    loud('RollbackIncomplete', { failedSteps });
    await failMarker(ctx, { color: failed, owner, error: message });
    await appendLedgerQuietly(ctx, {
      actor,
      action: 'rollback-failed',
      reason: message,
      weightsBefore,
      weightsAfter,
      detail: { alarmName, eventId: event.id, failedColor: failed, stableColor: stable, errors, done },
    });
    await publishQuietly(ctx, sns, {
      kind: 'rollback-incomplete',
      event,
      failedColor: failed,
      stableColor: stable,
      headline: message,
      weightsBefore,
      weightsAfter,
      done,
      action: `the Lambda retries the event; if it keeps failing, finish by hand: ${failedSteps.join(', ')}`,
    });
    throw new RollbackIncomplete(message, failedSteps);
  }

  // 7. Notify; the marker forgets the stored message once it is out.
  let notificationId: string | undefined;
  try {
    notificationId = await publish(ctx, sns, notification);
  } catch (e) {
    // Everything is done and recorded; the notification is stored in the marker and a retry of this event sends it.
    logger.error('rollback done but the notification failed', { ...log, error: errorMessage(e) });
    loud('RollbackIncomplete', { failedSteps: ['notify'] });
    throw new RollbackIncomplete(`automatic rollback of ${environment} to ${stable} completed, but the notification failed: ${errorMessage(e)}`, ['notify']);
  }
  await markNotified(ctx, { color: failed, ledgerSk: ledgerSk! });
  metric(emfLine(environment, { RollbackCompleted: 1, RollbackTimeToSafe: timeToSafeMs }, { alarmName, failedColor: failed }, nowOf(ctx)));
  logger.info('rollback completed', { ...log, done, weightsAfter, ledgerSk, notificationId });
  return {
    status: 'rolled-back',
    reason: rollbackReason,
    alarmName,
    failedColor: failed,
    stableColor: stable,
    weightsBefore,
    weightsAfter,
    trafficChanged: shifted.changed,
    stoppedExecutions,
    scale: scale!,
    ledgerSk: ledgerSk!,
    notificationId,
    timeToSafeMs,
  };
}
