/**
 * Automated rollback on a rollback alarm (see README.md). Receives SDK clients and the topology; no module state.
 *
 * Order: validate the event → read (rules, ECS, marker; in parallel) → decide (ignore / duplicate / notify only) →
 * move traffic back to the stable color (one verified write per service; the first write of the invocation) →
 * claim the rollback marker → stop the running release execution → scale the failed color to 0 → ledger entry and
 * marker done (one transaction) → notification → metrics.
 */
import { randomBytes } from 'node:crypto';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { Color, COLORS, otherColor, ServiceName, SERVICES } from '../shared/topology';
import { AllClients } from '../traffic/notification-clients';
import { call, nowOf, TrafficContext } from '../traffic/context';
import { errorMessage, GuardRefused } from '../traffic/errors';
import { appendLedgerQuietly, buildLedgerEntry, readLedger, WeightsByService } from '../traffic/ledger';
import { logger } from '../traffic/logger';
import { ScaleResult, scaleColor } from '../traffic/scale';
import { shift, ShiftResult } from '../traffic/shift';
import { publishTrafficWeights } from '../traffic/weights-metric';
import { readRules, RuleState } from '../traffic/state';
import { LEDGER_LOOKBACK, stableColorOf } from '../traffic/stable';
import { formatWeights, weightsForPercent } from '../traffic/weights';
import { RollbackFailed, RollbackIncomplete } from './errors';
import { AlarmEvent, parseAlarmEvent } from './event';
import { claimMarker, completeMarker, failMarker, readMarker, RollbackMarker } from './marker';
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

interface EcsCounts {
  readonly found: boolean;
  readonly desiredCount: number;
}

/** Desired counts of every service and color (one DescribeServices call, no task definitions). */
async function readDesiredCounts(ctx: TrafficContext): Promise<Record<ServiceName, Record<Color, EcsCounts>>> {
  const names = SERVICES.flatMap((s) => COLORS.map((c) => ctx.topology.services[s].colors[c].serviceName));
  const out = await call(ctx, 'ecs:DescribeServices', () =>
    ctx.clients.ecs.send(new DescribeServicesCommand({ cluster: ctx.topology.clusterName, services: names })),
  );
  const byName = new Map((out.services ?? []).filter((s) => s.status !== 'INACTIVE').map((s) => [s.serviceName!, s]));
  const result = {} as Record<ServiceName, Record<Color, EcsCounts>>;
  for (const s of SERVICES) {
    result[s] = {} as Record<Color, EcsCounts>;
    for (const c of COLORS) {
      const svc = byName.get(ctx.topology.services[s].colors[c].serviceName);
      result[s][c] = { found: !!svc, desiredCount: svc?.desiredCount ?? 0 };
    }
  }
  return result;
}

function weightsOf(rules: Record<ServiceName, RuleState>): WeightsByService {
  const out: WeightsByService = {};
  for (const s of SERVICES) out[s] = rules[s].weights;
  return out;
}

/** Stops every RUNNING execution of the release state machine; returns their ARNs. */
async function stopReleaseExecutions(ctx: RollbackContext, sfn: SFNClient, event: AlarmEvent, failed: Color): Promise<string[]> {
  const stateMachineArn = ctx.releaseStateMachineArn;
  if (!stateMachineArn) {
    logger.warn('RELEASE_STATE_MACHINE_ARN not set: no release execution to stop', { alarmName: event.alarmName });
    return [];
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
  for (const executionArn of running) {
    try {
      await call(ctx, 'states:StopExecution', () =>
        sfn.send(new StopExecutionCommand({ executionArn, error: STOP_ERROR, cause: cause.slice(0, 32768) })),
      );
    } catch (e) {
      // It finished between listing and stopping: nothing to stop.
      if ((e as { name?: string })?.name !== 'ExecutionDoesNotExist') throw e;
    }
  }
  return running;
}

/** Validates the event and rolls back if it is a rollback alarm in ALARM. See README.md for every outcome. */
export async function handleAlarmEvent(ctx: RollbackContext, raw: unknown): Promise<RollbackOutcome> {
  const started = Date.now();
  const { topology } = ctx;
  const environment = topology.environment;
  const metric = ctx.metricSink ?? stdoutSink;
  const { sfn, sns } = ctx.clients;

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
  const failed = colors[0];
  const stable = otherColor(failed);
  const actor = ROLLBACK_ACTOR;
  const rollbackReason = `automatic rollback: rollback alarm ${alarmName} (${failed}) in ALARM since ${event.time}`;
  Object.assign(log, { failedColor: failed });

  const [rules, ecs, marker, ledger] = await Promise.all([
    readRules(ctx),
    readDesiredCounts(ctx),
    readMarker(ctx, failed),
    readLedger(ctx, LEDGER_LOOKBACK).catch((e) => {
      logger.warn('could not read the ledger to find the stable color', { ...log, error: errorMessage(e) });
      return [];
    }),
  ]);
  const weightsBefore = weightsOf(rules);
  const stableFound = stableColorOf(weightsBefore, ledger);
  logger.info('rollback alarm in ALARM', { ...log, weights: weightsBefore, stable: stableFound, marker });

  const duplicate = (reason: string): RollbackOutcome => {
    logger.info('rollback not needed', { ...log, reason, weights: weightsBefore });
    return { status: 'duplicate', reason, alarmName, failedColor: failed, stableColor: stable, weights: weightsBefore };
  };
  const notifyOnly = async (reason: string, action: string): Promise<RollbackOutcome> => {
    logger.error('automatic rollback not possible; notifying only', { ...log, reason, weights: weightsBefore });
    const notificationId = await publishQuietly(ctx, sns, {
      kind: 'notify-only',
      event,
      failedColor: failed,
      stableColor: stableFound.color,
      headline: `Rollback alarm ${alarmName} of ${failed} in ${environment} is in ALARM, and traffic was NOT moved: ${reason}.`,
      weightsBefore,
      weightsAfter: weightsBefore,
      done: [],
      action,
    });
    return {
      status: 'notify-only',
      reason,
      alarmName,
      failedColor: failed,
      stableColor: stableFound.color,
      weights: weightsBefore,
      notificationId,
    };
  };

  if (marker?.completedAtMs !== undefined && marker.completedAtMs >= event.timeMs) {
    return duplicate(`already handled: the rollback of ${failed} completed at ${marker.completedAt} after this alarm fired`);
  }
  if (stableFound.color === failed) {
    return notifyOnly(
      stableFound.source === 'current'
        ? `${failed} carries all traffic (it is the live color) and ${stable} has none to return to`
        : `${failed} is the stable color (${stableFound.source === 'ledger' ? `it carried all traffic before the release, ledger entry ${stableFound.sk}` : 'the live color; the ledger does not show which color carried all traffic before'}); ` +
            `moving all traffic to the new color ${stable} is not a rollback`,
      stableFound.source === 'current'
        ? `investigate ${failed}; to undo a completed promote run the traffic CLI rollback naming ${stable} once it is running and healthy`
        : `investigate ${failed}; decide by hand whether to pause the release of ${stable}`,
    );
  }
  const notRunning = SERVICES.filter((s) => !ecs[s][stable].found || ecs[s][stable].desiredCount === 0);
  if (notRunning.length > 0) {
    return notifyOnly(
      `the stable color ${stable} is not running (${notRunning.map((s) => `${s}: desired count 0`).join(', ')})`,
      `bring ${stable} back (traffic CLI: scale --color ${stable} --count N), then roll back by hand (rollback --to ${stable}); or fix ${failed}`,
    );
  }

  // 1. Traffic back to the stable color: the first write of this invocation.
  let shifted: ShiftResult;
  try {
    shifted = await shift(ctx, {
      target: { to: stable, percent: 100 },
      actor,
      reason: rollbackReason,
      rollback: true,
      ledgerOnSuccess: false,
      currentRules: rules,
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
    const message = `automatic rollback of ${environment} to ${stable} FAILED, ${failed} may still carry traffic: ${errorMessage(e)}`;
    logger.error('rollback failed: traffic not moved', { ...log, error: errorMessage(e) });
    metric(emfLine(environment, { RollbackFailed: 1 }, { alarmName, failedColor: failed, error: errorMessage(e) }, nowOf(ctx)));
    const current = await readRules(ctx).then(weightsOf, () => undefined);
    await publishQuietly(ctx, sns, {
      kind: 'rollback-failed',
      event,
      failedColor: failed,
      stableColor: stable,
      headline: message,
      weightsBefore,
      weightsAfter: current,
      done: [],
      action: `move traffic to ${stable} by hand now (traffic CLI rollback --to ${stable}), then check the listener rules`,
    });
    throw new RollbackFailed(message, e);
  }
  const timeToSafeMs = Date.now() - started;
  const weightsAfter = shifted.weightsAfter;
  ctx.onSafe?.();
  logger.info('traffic verified on the stable color', { ...log, changed: shifted.changed, weightsAfter, timeToSafeMs });
  // Never throws; after the safe point, so the dashboard's weights follow without delaying safety.
  if (shifted.changed) await publishTrafficWeights(ctx, weightsAfter);

  const failedScaledDown = SERVICES.every((s) => ecs[s][failed].desiredCount === 0);
  if (!shifted.changed && failedScaledDown && marker?.state !== 'failed') {
    return duplicate(`already rolled back: all traffic on ${stable} and ${failed} scaled to 0`);
  }

  // 2. Claim: from here on exactly one invocation works and records.
  const owner = ctx.invocationId ?? `rollback:${randomBytes(8).toString('hex')}`;
  const done: string[] = [
    shifted.changed
      ? `traffic moved to ${stable} (${formatWeights(weightsForPercent(stable, 100))}) on ${SERVICES.join(', ')}, verified by read-back`
      : `traffic was already on ${stable} (${formatWeights(weightsForPercent(stable, 100))}), verified by read-back`,
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

  // 3. Stop the release, 4. scale the failed color to 0.
  let stoppedExecutions: string[] = [];
  try {
    stoppedExecutions = await stopReleaseExecutions(ctx, sfn, event, failed);
    done.push(
      stoppedExecutions.length
        ? `stopped release execution${stoppedExecutions.length > 1 ? 's' : ''} ${stoppedExecutions.join(', ')} (error ${STOP_ERROR})`
        : ctx.releaseStateMachineArn
          ? 'no release execution was running'
          : 'no release state machine configured: nothing to stop',
    );
  } catch (e) {
    errors.push({ step: 'stop release execution', error: errorMessage(e) });
  }
  let scale: ScaleResult | undefined;
  try {
    scale = await scaleColor(ctx, { color: failed, desiredCount: 0, actor, reason: `${rollbackReason}: scale ${failed} to 0` });
    const bounded = Object.keys(scale.scalableTargets);
    done.push(
      `scaled ${failed} to 0 (${SERVICES.map((s) => `${s} ${scale!.before[s]} -> 0`).join(', ')})` +
        (bounded.length ? `; scalable targets of ${bounded.join(', ')} set to min 0 / max 0` : ''),
    );
  } catch (e) {
    errors.push({ step: `scale ${failed} to 0`, error: errorMessage(e) });
  }

  // 5. Record: ledger entry + marker done, in one transaction.
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
        trafficChanged: shifted.changed,
        stoppedExecutions,
        scaledTo0: scale?.after,
        scalableTargets: scale?.scalableTargets,
        timeToSafeMs,
      },
    });
    try {
      if (await completeMarker(ctx, { color: failed, owner, ledgerEntry: entry })) {
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
    metric(emfLine(environment, { RollbackIncomplete: 1 }, { alarmName, failedColor: failed, failedSteps }, nowOf(ctx)));
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

  // 6. Notify.
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
  let notificationId: string | undefined;
  try {
    notificationId = await publish(ctx, sns, notification);
  } catch (e) {
    // Everything is done and recorded; only the notification is missing. Fail the invocation so it is seen.
    logger.error('rollback done but the notification failed', { ...log, error: errorMessage(e) });
    metric(emfLine(environment, { RollbackIncomplete: 1 }, { alarmName, failedColor: failed, failedSteps: ['notify'] }, nowOf(ctx)));
    throw new RollbackIncomplete(`automatic rollback of ${environment} to ${stable} completed, but the notification failed: ${errorMessage(e)}`, ['notify']);
  }
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
