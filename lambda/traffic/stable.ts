/**
 * Which color is the stable one to roll back to: the color that carried all traffic most recently.
 * During a canary past 50 % the live color is the NEW one, so "the live color" is not the answer;
 * the ledger remembers where all traffic was before the release. Used by the rollback Lambda and by
 * every rollback that does not name its color (CLI, switch Lambda).
 */
import { COLORS, type Color, otherColor, SERVICES } from '../shared/topology';
import type { LedgerEntry, WeightsByService } from './ledger';
import { liveColorOf } from './weights';

/** How many ledger entries (newest first) are searched for the state before the release. */
export const LEDGER_LOOKBACK = 50;

/** The color carrying all traffic of every service in `w`, if any. */
export function allTrafficOn(w: WeightsByService | undefined): Color | undefined {
  if (!w) return undefined;
  return COLORS.find((c) => SERVICES.every((s) => w[s] !== undefined && w[s]![c] > 0 && w[s]![otherColor(c)] === 0));
}

export interface StableColor {
  readonly color: Color;
  /** current: it carries all traffic now; ledger: it carried all traffic before the release; live: fallback. */
  readonly source: 'current' | 'ledger' | 'live';
  /** The ledger entry that showed it. */
  readonly sk?: string;
}

/**
 * The stable color: the color that carried all traffic of every service most recently — now, or else before the
 * release according to the ledger (newest entry first; its weightsAfter, then its weightsBefore). When the ledger does
 * not say (no entry within LEDGER_LOOKBACK), the live color (>= 50% of the frontend weight, blue on a tie).
 */
export function stableColorOf(current: WeightsByService, ledger: readonly LedgerEntry[]): StableColor {
  const now = allTrafficOn(current);
  if (now) return { color: now, source: 'current' };
  for (const entry of ledger) {
    const c = allTrafficOn(entry.weightsAfter) ?? allTrafficOn(entry.weightsBefore);
    if (c) return { color: c, source: 'ledger', sk: entry.sk };
  }
  return { color: liveColorOf(current.frontend ?? { blue: 1, green: 0 }), source: 'live' };
}
