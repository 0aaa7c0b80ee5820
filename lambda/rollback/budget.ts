/**
 * The rollback's time budget, computed from the request bounds and the retry policy rather than measured: how long
 * the path from the alarm event to traffic verified on the stable color can take in the worst case. `npm run bench`
 * reports it next to the measured time, and a test holds it to the 30 s target.
 *
 * The path to safe (core.ts) is a fixed number of sequential round trips; the calls within one run in parallel:
 *   0. cold start only: the topology document (DynamoDB GetItem);
 *   1. every read: DescribeRules (both rules), DescribeServices (every service and color), DescribeTargetHealth of the
 *      stable color (one per service), the rollback marker, the release record and the newest ledger page (GetItem,
 *      GetItem, Query);
 *   2. ModifyRule of every service at once (the shift's guards reuse the reads of step 1: no call);
 *   3. DescribeRules read-back of every service (one call; up to two more after 100 and 200 ms while it lags: the
 *      budget counts all three, DescribeRules being eventually consistent).
 * The stable color comes from the release record, the weights or the first ledger page; only a split with no release
 * in progress and an inconclusive first page reads further back (not on this budget: it is rare and the rollback then
 * reports the color unknown rather than guess, see lambda/traffic/stable.ts).
 */
import { attemptBoundMs, TRAFFIC_REQUEST_BOUNDS, type RequestBounds } from '../traffic/client-config';

/** Time kept at the end of an invocation to report a failure (metric line, failure marker, notification attempt). */
export const REPORT_RESERVE_MS = 10_000;

/**
 * The rollback Lambda's timeout: the worst case to safe (about 28 s), the steps after it (fence and stop the release,
 * settle and re-check twice, scale down, record, notify: about 13 round trips), and REPORT_RESERVE_MS.
 */
export const ROLLBACK_TIMEOUT_SECONDS = 120;

/** Sequential round trips from the event to traffic verified safe (warm; a cold start adds one). */
export const ROUND_TRIPS_TO_SAFE = 3;

/** Default base delay of the core's retry policy (lambda/traffic/retry.ts). */
const RETRY_BASE_DELAY_MS = 100;
/** The read-back's reads and the waits between them when the first reads lag (lambda/traffic/shift.ts moveAllTo). */
const READ_BACK_READS = 3;
const READ_BACK_WAITS_MS = 100 + 200;

export interface TimeToSafeBudget {
  /** The longest one attempt can take: connect + idle timeout. */
  readonly attemptBoundMs: number;
  readonly roundTrips: number;
  /** Every round trip at its attempt bound, the read-back lagging twice, no fault. */
  readonly slowestNoFaultMs: number;
  /** One call hangs (times out once, retried after the first backoff), every other round trip at its bound. */
  readonly oneHangMs: number;
}

/** The worst-case time to traffic safe under `bounds`, cold start included. */
export function timeToSafeBudget(bounds: RequestBounds = TRAFFIC_REQUEST_BOUNDS, coldStart = true): TimeToSafeBudget {
  const attempt = attemptBoundMs(bounds);
  const roundTrips = ROUND_TRIPS_TO_SAFE + (coldStart ? 1 : 0);
  const slowestNoFaultMs = (roundTrips - 1 + READ_BACK_READS) * attempt + READ_BACK_WAITS_MS;
  // The hung attempt costs one full attempt bound, then the first backoff (full jitter: at most the base delay).
  return { attemptBoundMs: attempt, roundTrips, slowestNoFaultMs, oneHangMs: slowestNoFaultMs + attempt + RETRY_BASE_DELAY_MS };
}
