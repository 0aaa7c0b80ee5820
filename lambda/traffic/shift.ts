/**
 * Guarded, coordinated, verified weight shifts.
 *
 * A shift moves the listener-rule weights of the environment's services (in the topology's order, or one named service)
 * to a target. Before any shift that adds traffic to a color the guards run (weights valid, lock held, no rollback
 * alarm in ALARM, the color healthy in every AZ it serves); a refused shift changes nothing and writes a `refused`
 * ledger entry. No shift ever sends traffic to a color whose ECS service has desired count 0 (scaled down or scaling
 * down: its targets may still answer health checks while they drain) or that has no healthy target.
 *
 * A coordinated shift writes service by service; each write is read back (VerifyMismatch on difference). If a later
 * service fails, the services already written are restored to their previous weights and ShiftFailed (VerifyMismatch
 * when a read-back differed) says so. A shift made for a lock owner (a release) re-checks right before each write that
 * the owner still holds the lock (the fence: a release execution stopped by the rollback, whose Lambda still runs,
 * must not write after the rollback revoked its lock).
 *
 * A rollback (`rollback: true`) is different: moving traffic OFF a failing color must never be undone. It writes every
 * service at once, reads them all back, writes again whatever is not there yet (a failed or lost write), and throws
 * MoveIncomplete naming what moved and what did not; it restores nothing. Shifting to the weights already set is a
 * no-op success that still verifies.
 *
 * Once every written rule has been verified (traffic is where it should be, never before or between the weight writes),
 * a shift that changed the weights publishes them as the `TrafficWeightPercent` metric (./weights-metric.ts): best
 * effort, one attempt, never failing the shift. A no-op shift publishes nothing.
 */
import { Action, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Color, COLORS, ServiceName, serviceNamesOf } from '../shared/topology';
import { call, TrafficContext } from './context';
import { errorMessage, GuardRefused, MoveIncomplete, ShiftFailed, VerifyMismatch } from './errors';
import { appendLedger, appendLedgerQuietly, LedgerAction, WeightsByService } from './ledger';
import { assertLockHeld } from './lock';
import { logger } from './logger';
import { realSleep } from './retry';
import { DesiredCounts, readAlarms, readDesiredCounts, readRules, readTargetHealth, RuleState, TargetHealthSummary } from './state';
import { publishTrafficWeights } from './weights-metric';
import { addsTrafficTo, formatWeights, sameWeights, validateWeights, Weights, weightsForPercent } from './weights';

export type ShiftTarget = { readonly to: Color; readonly percent: number } | { readonly weights: { blue: number; green: number } };

export interface ShiftRequest {
  /** Green percent (`{to:'green', percent:10}`) or explicit weights (`{weights:{blue:90, green:10}}`). */
  readonly target: ShiftTarget;
  /** Only this service; default: every service of the environment, moved together. */
  readonly service?: ServiceName;
  /** Lock owner token; the caller must hold the environment's release lock (not checked for rollbacks). */
  readonly owner?: string;
  /** Who asked (person, pipeline, alarm); recorded in the ledger. */
  readonly actor: string;
  readonly reason?: string;
  /**
   * Rollback: skips the lock and alarm guards (never waits on or is blocked by a lock, stale or not) but still refuses
   * to send traffic to a color without any healthy target.
   */
  readonly rollback?: boolean;
  /**
   * Alarm names the alarm guard does not count: the release passes the alarms its gate has judged no fault of the new
   * color (the stable color's comparisons and composite, which fire when the new color is better). @default - none
   */
  readonly ignoreAlarms?: readonly string[];
  /**
   * Default true. False: no ledger entry on success, because the caller records the whole operation in one entry
   * (the rollback Lambda). Refusals and failures are still recorded.
   */
  readonly ledgerOnSuccess?: boolean;
  /**
   * The rules as the caller has just read them (readRules), to save a DescribeRules. Writes are verified by read-back
   * either way; these weights are what a failed shift restores.
   */
  readonly currentRules?: Readonly<Partial<Record<ServiceName, RuleState>>>;
  /**
   * Default true: a shift that changed the weights publishes them (TrafficWeightPercent, ./weights-metric.ts) after
   * the read-back and before returning. False: the caller publishes `weightsAfter` itself with publishTrafficWeights
   * once its own time-critical part is done (e.g. the rollback Lambda after traffic is verified safe), so the
   * PutMetricData is not on that path.
   */
  readonly publishWeights?: boolean;
  /**
   * State the caller has just read for the guards (the rollback reads it in parallel with the rules, saving round trips
   * before traffic is safe): desired counts of every service and color, target health of the colors gaining traffic.
   * What is missing is read. @default - everything is read
   */
  readonly guardState?: {
    readonly desired?: DesiredCounts;
    readonly health?: Partial<Record<ServiceName, Partial<Record<Color, TargetHealthSummary>>>>;
  };
}

export interface ShiftResult {
  readonly environment: string;
  /** False when every service already had the target weights (no write, still verified). */
  readonly changed: boolean;
  readonly services: readonly ServiceName[];
  readonly weightsBefore: WeightsByService;
  readonly weightsAfter: WeightsByService;
  readonly action: LedgerAction;
}

/** Reads back a rule until its weights match (a few reads for eventual consistency), else VerifyMismatch. */
export async function verifyWeights(ctx: TrafficContext, service: ServiceName, expected: Weights, attempts = 3): Promise<void> {
  const sleep = ctx.retry?.sleep ?? realSleep;
  let actual: Weights = { blue: NaN, green: NaN };
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(100 * 2 ** (i - 1));
    actual = (await readRules(ctx, [service]))[service].weights;
    if (sameWeights(actual, expected)) return;
  }
  throw new VerifyMismatch(service, expected, actual);
}

/** The rule's actions with the forward action replaced by a weighted forward to blue and green, stickiness kept. */
export function forwardActions(ctx: TrafficContext, rule: RuleState, weights: Weights): Action[] {
  const colors = ctx.topology.services[rule.service].colors;
  return rule.actions.map((a) =>
    a.Type !== 'forward'
      ? a
      : {
          Type: 'forward',
          ...(a.Order !== undefined ? { Order: a.Order } : {}),
          ForwardConfig: {
            TargetGroups: COLORS.map((c) => ({ TargetGroupArn: colors[c].targetGroupArn, Weight: weights[c] })),
            ...(rule.stickiness ? { TargetGroupStickinessConfig: rule.stickiness } : {}),
          },
        },
  );
}

/** One ModifyRule (with retries). With `fence`, every attempt first checks that this owner still holds the lock. */
async function modifyRule(ctx: TrafficContext, rule: RuleState, weights: Weights, fence?: string): Promise<void> {
  const actions = forwardActions(ctx, rule, weights);
  await call(ctx, 'elbv2:ModifyRule', async () => {
    if (fence !== undefined) await assertLockHeld(ctx, fence);
    return ctx.clients.elbv2.send(new ModifyRuleCommand({ RuleArn: rule.ruleArn, Actions: actions }));
  });
}

/** Writes one rule's weights (with retries) and verifies them. With `fence`, only while that owner holds the lock. */
export async function writeWeights(ctx: TrafficContext, rule: RuleState, weights: Weights, fence?: string): Promise<void> {
  if (!sameWeights(rule.weights, weights)) await modifyRule(ctx, rule, weights, fence);
  await verifyWeights(ctx, rule.service, weights);
}

/**
 * The rollback's move: every service to `target` at once, never undone. Pass 1 writes all services in parallel and
 * reads them all back in one DescribeRules (a few reads for eventual consistency); pass 2 writes again, from the rules
 * just read, every service not yet at `target` (its write failed, timed out, or was overwritten), and reads back.
 * Returns when every service is at `target`; else throws MoveIncomplete naming what moved and what did not.
 */
export async function moveAllTo(
  ctx: TrafficContext,
  rules: Readonly<Record<ServiceName, RuleState>>,
  services: readonly ServiceName[],
  target: Weights,
): Promise<Record<ServiceName, RuleState>> {
  const sleep = ctx.retry?.sleep ?? realSleep;
  const errors: Record<string, string> = {};
  let current: Record<ServiceName, RuleState> = { ...rules };
  let pending = services.filter((s) => !sameWeights(current[s].weights, target));
  for (let pass = 1; pass <= 2; pass++) {
    const results = await Promise.allSettled(pending.map((s) => modifyRule(ctx, current[s], target)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') errors[pending[i]] = errorMessage(r.reason);
    });
    // Read back every service, also those whose write failed: a timed-out write may have landed.
    for (let read = 0; read < 3; read++) {
      if (read > 0) await sleep(100 * 2 ** (read - 1));
      try {
        current = { ...current, ...(await readRules(ctx, services)) };
      } catch (e) {
        for (const s of services) errors[s] ??= `read-back failed: ${errorMessage(e)}`;
        continue;
      }
      pending = services.filter((s) => !sameWeights(current[s].weights, target));
      if (pending.length === 0) return current;
    }
    pending = services.filter((s) => !sameWeights(current[s].weights, target));
  }
  const moved = services.filter((s) => !pending.includes(s));
  const message =
    `rollback of ${ctx.topology.environment} to ${formatWeights(target)} incomplete after 2 passes: ` +
    `${moved.length ? `moved ${moved.join(', ')} (kept); ` : ''}NOT moved ${pending
      .map((s) => `${s} (${formatWeights(current[s].weights)}${errors[s] ? `: ${errors[s]}` : ''})`)
      .join(', ')}`;
  throw new MoveIncomplete(message, moved, pending, Object.fromEntries(pending.map((s) => [s, errors[s] ?? 'weights differ after the write'])));
}

function targetWeights(target: ShiftTarget): Weights {
  if ('weights' in target) return validateWeights(target.weights ?? {});
  if (!COLORS.includes(target.to)) {
    throw new GuardRefused('weights', `target color must be blue or green, got ${JSON.stringify(target.to)}`);
  }
  return weightsForPercent(target.to, target.percent);
}

function weightsOf(rules: Partial<Record<ServiceName, RuleState>>, services: readonly ServiceName[]): WeightsByService {
  const out: WeightsByService = {};
  for (const s of services) if (rules[s]) out[s] = rules[s]!.weights;
  return out;
}

/**
 * Runs the guards for the colors gaining traffic; throws GuardRefused naming the first guard that refuses, in the
 * order lock, alarm, health (the reads run in parallel; the verdict order is fixed).
 */
async function runGuards(
  ctx: TrafficContext,
  req: ShiftRequest,
  services: readonly ServiceName[],
  gaining: readonly Color[],
): Promise<void> {
  if (gaining.length === 0) return;
  const checks = gaining.flatMap((color) => services.map((service) => ({ color, service })));
  const given = req.guardState;
  const [lock, alarms, health, desired] = await Promise.allSettled([
    req.rollback ? Promise.resolve(undefined) : assertLockHeld(ctx, req.owner),
    req.rollback ? Promise.resolve([]) : readAlarms(ctx),
    Promise.all(
      checks.map(
        (c) => given?.health?.[c.service]?.[c.color] ?? readTargetHealth(ctx, ctx.topology.services[c.service].colors[c.color].targetGroupArn),
      ),
    ),
    given?.desired ?? readDesiredCounts(ctx),
  ]);
  if (lock.status === 'rejected') throw lock.reason;
  if (alarms.status === 'rejected') throw alarms.reason;
  if (health.status === 'rejected') throw health.reason;
  if (desired.status === 'rejected') throw desired.reason;

  const firing = alarms.value.filter((a) => a.state === 'ALARM' && !req.ignoreAlarms?.includes(a.name));
  if (firing.length > 0) {
    throw new GuardRefused(
      'alarm',
      `rollback alarm${firing.length > 1 ? 's' : ''} in ALARM: ${firing.map((a) => `${a.name} (${a.color})`).join(', ')}`,
    );
  }
  const min = ctx.topology.minHealthyTargetsPerAz;
  for (const [i, { color, service }] of checks.entries()) {
    const h = health.value[i];
    const d = desired.value[service][color];
    // Desired count first: a service scaled to 0 keeps answering health checks until its tasks drain and stop, so
    // healthy targets alone do not prove the color will still be there in a minute.
    if (!d.found || d.desiredCount === 0) {
      throw new GuardRefused(
        'health',
        `${service} ${color} ${d.found ? 'has desired count 0 (scaled down or scaling down)' : 'has no ECS service'}: no traffic to a color without running tasks`,
      );
    }
    if (h.registered === 0) throw new GuardRefused('health', `${service} ${color} has no registered targets`);
    if (req.rollback) {
      if (h.healthy === 0) throw new GuardRefused('health', `${service} ${color} has no healthy targets`);
      continue;
    }
    const short = Object.entries(h.byAz)
      .filter(([, az]) => az.healthy < min)
      .map(([az, n]) => `${az}: ${n.healthy} healthy of ${n.healthy + n.unhealthy}`);
    if (short.length > 0) {
      throw new GuardRefused(
        'health',
        `${service} ${color} needs at least ${min} healthy target${min === 1 ? '' : 's'} in every AZ it serves; ${short.join(', ')}`,
      );
    }
  }
}

export async function shift(ctx: TrafficContext, req: ShiftRequest): Promise<ShiftResult> {
  const environment = ctx.topology.environment;
  const services: readonly ServiceName[] = req.service ? [req.service] : serviceNamesOf(ctx.topology);
  const action: LedgerAction = req.rollback ? 'rollback' : 'shift';
  const reason = req.reason ?? (req.rollback ? 'rollback' : 'shift');
  if (req.service !== undefined && !serviceNamesOf(ctx.topology).includes(req.service)) {
    throw new GuardRefused('input', `service must be one of ${serviceNamesOf(ctx.topology).join(', ')}, got ${JSON.stringify(req.service)}`);
  }

  const given = req.currentRules;
  const rules = given && services.every((s) => given[s]) ? (given as Record<ServiceName, RuleState>) : await readRules(ctx, services);
  const weightsBefore = weightsOf(rules, services);
  let target: Weights | undefined;
  try {
    target = targetWeights(req.target);
    const t = target;
    const gaining = COLORS.filter((c) => services.some((s) => addsTrafficTo(c, rules[s].weights, t)));
    await runGuards(ctx, req, services, gaining);
  } catch (e) {
    if (e instanceof GuardRefused) {
      logger.warn('shift refused', { environment, guard: e.guard, reason: e.reason });
      await appendLedgerQuietly(ctx, {
        actor: req.actor,
        action: 'refused',
        reason: `${action} refused by ${e.guard} guard: ${e.reason}`,
        weightsBefore,
        weightsAfter: weightsBefore,
        detail: { requested: req.target, guard: e.guard, requestedAction: action, reasonGiven: reason, owner: req.owner },
      });
    }
    throw e;
  }

  const weightsAfter: WeightsByService = {};
  for (const s of services) weightsAfter[s] = target;
  const changed = services.some((s) => !sameWeights(rules[s].weights, target!));

  if (req.rollback) {
    try {
      await moveAllTo(ctx, rules, services, target);
    } catch (error) {
      logger.error('rollback move incomplete', { environment, error: errorMessage(error) });
      await appendLedgerQuietly(ctx, {
        actor: req.actor,
        action: 'shift-failed',
        reason: errorMessage(error),
        weightsBefore,
        weightsAfter: await readRules(ctx, services)
          .then((r) => weightsOf(r, services))
          .catch(() => undefined),
        detail: { requested: req.target, requestedAction: action, ...(error instanceof MoveIncomplete ? { moved: error.moved, notMoved: error.notMoved } : {}) },
      });
      throw error;
    }
  }

  const written: ServiceName[] = [];
  for (const service of req.rollback ? [] : services) {
    try {
      await writeWeights(ctx, rules[service], target, req.owner);
      written.push(service);
    } catch (error) {
      // Fenced before the first write (the lock was revoked: a rollback took over): nothing changed, nothing to put back.
      if (error instanceof GuardRefused && written.length === 0) throw error;
      // Put back what we changed: the services written before, and this one if its write may have landed.
      const toRestore = error instanceof VerifyMismatch ? [...written, service] : [...written];
      const restored: ServiceName[] = [];
      const restoreErrors: string[] = [];
      let fenced = false;
      for (const s of toRestore) {
        try {
          const current = (await readRules(ctx, [s]))[s];
          // Fenced too: once the lock is revoked (the rollback took over), putting weights back would fight it.
          await writeWeights(ctx, current, rules[s].weights, req.owner);
          restored.push(s);
        } catch (re) {
          if (re instanceof GuardRefused && re.guard === 'lock') fenced = true;
          restoreErrors.push(`${s}: ${errorMessage(re)}`);
        }
      }
      const ok = restoreErrors.length === 0;
      const restoredText = restored.map((s) => `${s} restored to ${formatWeights(rules[s].weights)}`).join(', ');
      const message =
        `${action} of ${environment} to ${formatWeights(target)} failed on ${service}: ${errorMessage(error)}; ` +
        (toRestore.length === 0
          ? 'nothing was changed'
          : ok
            ? `${restoredText}`
            : fenced
              ? `not restored: this shift lost the release lock (a rollback took over and owns the weights now)`
              : `RESTORE FAILED (${restoreErrors.join('; ')})${restoredText ? `; ${restoredText}` : ''}: ` +
                `services are split, fix the listener rules by hand`);
      logger.error('shift failed', { environment, service, error: errorMessage(error), restored, restoreErrors });
      await appendLedgerQuietly(ctx, {
        actor: req.actor,
        action: 'shift-failed',
        reason: message,
        weightsBefore,
        weightsAfter: await readRules(ctx, services)
          .then((r) => weightsOf(r, services))
          .catch(() => undefined),
        detail: { requested: req.target, failedService: service, restored, restoreErrors, requestedAction: action },
      });
      if (error instanceof VerifyMismatch) {
        throw new VerifyMismatch(error.service, error.expected, error.actual, { message, restored: ok, restoredServices: restored });
      }
      throw new ShiftFailed(message, service, ok, restored, error);
    }
  }

  // Every rule is written and verified: traffic is safe. Publish the new weights (never throws) alongside the ledger.
  const published = changed && req.publishWeights !== false ? publishTrafficWeights(ctx, weightsAfter) : Promise.resolve(true);
  if (req.ledgerOnSuccess === false) {
    await published;
    return { environment, changed, services, weightsBefore, weightsAfter, action };
  }
  await Promise.all([
    published,
    appendLedger(ctx, {
      actor: req.actor,
      action,
      reason,
      weightsBefore,
      weightsAfter,
      detail: { requested: req.target, changed, owner: req.owner },
    }),
  ]);
  return { environment, changed, services, weightsBefore, weightsAfter, action };
}
