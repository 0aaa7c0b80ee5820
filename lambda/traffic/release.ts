/** Release-level operations composed from shift and scale: promote and rollback. */
import { Color, COLORS, otherColor, serviceNamesOf } from '../shared/topology';
import { TrafficContext } from './context';
import { GuardRefused } from './errors';
import { readLedger } from './ledger';
import { ScaleResult, scaleColor } from './scale';
import { shift, ShiftResult } from './shift';
import { findStableColor, LEDGER_LOOKBACK } from './stable';
import { readRules } from './state';

/**
 * The stable color now (stable.ts): the one that carried all traffic most recently. Refuses (GuardRefused 'input')
 * when it cannot be told: the caller names the color instead of this guessing it.
 */
async function stableColor(ctx: TrafficContext): Promise<{ color: Color; rules: Awaited<ReturnType<typeof readRules>> }> {
  const [rules, ledger] = await Promise.all([readRules(ctx), readLedger(ctx, LEDGER_LOOKBACK).catch((e: Error) => e)]);
  const stable = await findStableColor(ctx, Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, rules[s].weights])), ledger);
  if (stable.source === 'unknown') {
    throw new GuardRefused('input', `cannot tell which color is stable (${stable.why}); name the color (--to blue or --to green)`);
  }
  return { color: stable.color, rules };
}

/**
 * Sends all traffic of every service to the new color, the one that is not stable (guards apply; the
 * caller must hold the lock). During a canary past 50 % that is still the new color, not the old one.
 */
export async function promote(
  ctx: TrafficContext,
  req: { owner: string; actor: string; reason?: string },
): Promise<ShiftResult & { to: Color }> {
  const to = otherColor((await stableColor(ctx)).color);
  const result = await shift(ctx, { ...req, target: { to, percent: 100 }, reason: req.reason ?? `promote ${to}` });
  return { ...result, to };
}

export interface RollbackResult {
  readonly to: Color;
  readonly shift: ShiftResult;
  /** The other color scaled to 0, unless `scaleDown` was false. */
  readonly scale?: ScaleResult;
}

/**
 * Sends all traffic back to `to` (default: the stable color, the one that carried all traffic most recently, see stable.ts) ignoring the lock and alarms, then
 * scales the other color to 0. Without `to`, refuses when no traffic is on the other color (nothing to roll back;
 * undoing a completed promote needs the color named explicitly).
 */
export async function rollback(
  ctx: TrafficContext,
  req: { to?: Color; actor: string; reason?: string; scaleDown?: boolean },
): Promise<RollbackResult> {
  if (req.to !== undefined && !COLORS.includes(req.to)) {
    throw new GuardRefused('input', `rollback color must be blue or green, got ${JSON.stringify(req.to)}`);
  }
  let to = req.to;
  if (!to) {
    const stable = await stableColor(ctx);
    const rules = stable.rules;
    to = stable.color;
    const other = otherColor(to);
    if (serviceNamesOf(ctx.topology).every((s) => rules[s].weights[other] === 0)) {
      throw new GuardRefused(
        'input',
        `nothing to roll back: all traffic of ${ctx.topology.environment} is already on ${to}; ` +
          `to undo a completed promote, name the color to roll back to (${other})`,
      );
    }
  }
  const reason = req.reason ?? `rollback to ${to}`;
  const shifted = await shift(ctx, { target: { to, percent: 100 }, actor: req.actor, reason, rollback: true });
  const scale =
    req.scaleDown === false
      ? undefined
      : await scaleColor(ctx, { color: otherColor(to), desiredCount: 0, actor: req.actor, reason: `${reason}: scale ${otherColor(to)} to 0` });
  return { to, shift: shifted, scale };
}
