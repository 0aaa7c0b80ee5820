/**
 * Which color is the stable one to roll back to. Never a guess from the weights of the moment: during a canary past
 * 50 %, or in the final bake and rollback window (the new color at 100 %, the old one still running), the color that
 * carries most traffic is the NEW one. In order:
 *   1. a release in progress (its record names its stable and candidate colors): its stable color;
 *   2. the color carrying all traffic of every service now;
 *   3. the ledger, newest first, however far back (up to LEDGER_SEARCH_LIMIT entries): the color that carried all
 *      traffic before the split.
 * When none of these answers (the record or the ledger cannot be read, or the ledger does not say), the answer is
 * "unknown" and the caller must not move traffic on its own. Used by the rollback Lambda and by every rollback or
 * promote that does not name its color (CLI, switch Lambda).
 */
import { COLORS, type Color, otherColor } from '../shared/topology';
import type { ContextWith } from './context';
import { findInLedger, type LedgerEntry, type WeightsByService } from './ledger';

/** How many ledger entries (newest first) the first read fetches. */
export const LEDGER_LOOKBACK = 50;
/** How far back the ledger is searched before the stable color is declared unknown. */
export const LEDGER_SEARCH_LIMIT = 1000;

/**
 * The color carrying all traffic of every one of `services` in `w`, if any (a service missing from `w` answers no).
 * @param services the environment's services; @default - the services in `w`
 */
export function allTrafficOn(w: WeightsByService | undefined, services: readonly string[] = w ? Object.keys(w) : []): Color | undefined {
  if (!w || services.length === 0) return undefined;
  return COLORS.find((c) => services.every((s) => w[s] !== undefined && w[s]![c] > 0 && w[s]![otherColor(c)] === 0));
}

/** What the release record says of a release in progress (lambda/release/record.ts). */
export interface ActiveRelease {
  readonly executionArn: string;
  readonly status: string;
  readonly stable: Color;
  readonly candidate: Color;
  /** The services the release moves (the others stay where they are). @default - every service */
  readonly services?: readonly string[];
}

/**
 * Release record statuses of a release that still owns the environment's traffic decisions. Not `held`: a held release
 * handed them to the operator (its record stays until the next release, however long after and whatever the operator
 * did since); the weights and the ledger answer for it.
 */
export const ACTIVE_RELEASE_STATUSES: readonly string[] = ['running', 'awaiting-approval'];

export type StableColor =
  | {
      readonly color: Color;
      /** release: the release in progress says so; current: it carries all traffic now; ledger: it did before. */
      readonly source: 'release' | 'current' | 'ledger';
      /** The ledger entry that showed it. */
      readonly sk?: string;
      /** The release execution whose record showed it. */
      readonly executionArn?: string;
    }
  | { readonly color?: undefined; readonly source: 'unknown'; readonly why: string };

/**
 * The ledger's answer: the newest entry whose weights (after, then before) put all traffic of every one of `services`
 * on one color (a shift of one service alone records only that service, and does not answer).
 */
export function stableInEntry(entry: LedgerEntry, services: readonly string[]): { color: Color; sk: string } | undefined {
  const c = allTrafficOn(entry.weightsAfter, services) ?? allTrafficOn(entry.weightsBefore, services);
  return c ? { color: c, sk: entry.sk } : undefined;
}

/** Pure: the stable color from what has been read (see the file comment for the order). */
export function stableColorOf(
  current: WeightsByService,
  ledger: readonly LedgerEntry[] | Error,
  release?: ActiveRelease | Error,
): StableColor {
  if (release && !(release instanceof Error) && ACTIVE_RELEASE_STATUSES.includes(release.status)) {
    return { color: release.stable, source: 'release', executionArn: release.executionArn };
  }
  const now = allTrafficOn(current);
  if (now) return { color: now, source: 'current' };
  if (release instanceof Error) return { source: 'unknown', why: `traffic is split and the release record could not be read: ${release.message}` };
  if (ledger instanceof Error) return { source: 'unknown', why: `traffic is split and the ledger could not be read: ${ledger.message}` };
  for (const entry of ledger) {
    const found = stableInEntry(entry, Object.keys(current));
    if (found) return { ...found, source: 'ledger' };
  }
  return { source: 'unknown', why: `traffic is split and no ledger entry within the ${ledger.length} read shows all traffic on one color` };
}

/**
 * stableColorOf, searching the ledger further back (pages of 100, up to LEDGER_SEARCH_LIMIT entries) when the first
 * page does not say.
 */
export async function findStableColor(
  ctx: ContextWith<'dynamodb'>,
  current: WeightsByService,
  firstPage: readonly LedgerEntry[] | Error,
  release?: ActiveRelease | Error,
): Promise<StableColor> {
  const quick = stableColorOf(current, firstPage, release);
  if (quick.source !== 'unknown' || firstPage instanceof Error || release instanceof Error || firstPage.length < LEDGER_LOOKBACK) return quick;
  try {
    const found = await findInLedger(ctx, (e) => stableInEntry(e, Object.keys(current)), { firstPage, maxEntries: LEDGER_SEARCH_LIMIT });
    if (found) return { ...found, source: 'ledger' };
    return { source: 'unknown', why: `traffic is split and none of the newest ${LEDGER_SEARCH_LIMIT} ledger entries shows all traffic on one color` };
  } catch (e) {
    return { source: 'unknown', why: `traffic is split and the ledger could not be read past its first page: ${(e as Error).message}` };
  }
}
