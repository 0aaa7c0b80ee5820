/** Weight validation and conversions. ALB accepts integer weights 0–999 per target group (moto accepts anything). */
import { Color } from '../shared/topology';
import { GuardRefused } from './errors';

export const MAX_WEIGHT = 999;

export interface Weights {
  readonly blue: number;
  readonly green: number;
}

/** Throws GuardRefused('weights') unless both weights are integers 0–999 and not both zero. */
export function validateWeights(w: { blue: unknown; green: unknown }): Weights {
  const problems: string[] = [];
  for (const c of ['blue', 'green'] as const) {
    const v = w[c];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_WEIGHT) {
      problems.push(`${c} weight must be an integer 0–${MAX_WEIGHT}, got ${JSON.stringify(v)}`);
    }
  }
  if (problems.length === 0 && w.blue === 0 && w.green === 0) problems.push('weights must not all be zero');
  if (problems.length > 0) throw new GuardRefused('weights', problems.join('; '));
  return { blue: w.blue as number, green: w.green as number };
}

/** Throws GuardRefused('weights') unless percent is an integer 0–100. */
export function validatePercent(percent: unknown): number {
  if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new GuardRefused('weights', `percent must be an integer 0–100, got ${JSON.stringify(percent)}`);
  }
  return percent;
}

/** `percent` of the traffic to `color`, the rest to the other color, as weights summing to 100. */
export function weightsForPercent(color: Color, percent: number): Weights {
  const p = validatePercent(percent);
  return color === 'green' ? { blue: 100 - p, green: p } : { blue: p, green: 100 - p };
}

/** Share of a color in percent (0 when both are zero). */
export function percentOf(w: Weights, color: Color): number {
  const total = w.blue + w.green;
  return total === 0 ? 0 : (w[color] * 100) / total;
}

/** True when `after` gives `color` a larger share of the traffic than `before` (weights compared as fractions). */
export function addsTrafficTo(color: Color, before: Weights, after: Weights): boolean {
  const bTotal = before.blue + before.green;
  const aTotal = after.blue + after.green;
  if (aTotal === 0) return false;
  if (bTotal === 0) return after[color] > 0;
  return after[color] * bTotal > before[color] * aTotal;
}

export function sameWeights(a: Weights, b: Weights): boolean {
  return a.blue === b.blue && a.green === b.green;
}

/**
 * Live color: the color carrying at least half of the weight; on an exact tie (including 0/0) blue is live.
 * So green is live only when it carries strictly more weight than blue.
 */
export function liveColorOf(w: Weights): Color {
  return w.green > w.blue ? 'green' : 'blue';
}

/**
 * The environment's live color while a release moves every service together: the first service's (config order) live
 * color. Services whose weights disagree with it are a split the release refuses (steps.ts `begin`), so no caller
 * acts on this color for a service that is not live on it without checking that service's own weights.
 */
export function environmentLiveColor(rules: Readonly<Record<string, { readonly weights: Weights }>>, services: readonly string[]): Color {
  const first = services[0];
  if (first === undefined || !rules[first]) throw new Error('environmentLiveColor: the environment has no service');
  return liveColorOf(rules[first].weights);
}

export function formatWeights(w: Weights): string {
  return `blue ${w.blue} / green ${w.green}`;
}
