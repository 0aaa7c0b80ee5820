/**
 * The canary judge: new color against stable color of each service in the release, on the same load over the same
 * window. Pure (metric series in, verdict out); the gate queries CloudWatch and acts on the verdict.
 * README, "How the judge decides", explains the statistics; scripts/bench-judge.ts measures them.
 *
 * Per service, two tests, each with three outcomes:
 * - error rate: the new color's failed-request rate minus the stable color's, d, over the look's window (sums).
 *   fail  when a one-sided exact conditional test (binomialUpperTail) says the new color is worse (p <= the look's alpha share)
 *         AND the observed d exceeds `errorRateMarginPoints` (worse by more than the margin);
 *   pass  when the upper 95 % confidence bound of d (Agresti–Caffo, unpooled) is below the margin;
 *   else inconclusive. Fewer than `minRequests` on either color: inconclusive.
 * - p99 latency: the per-minute ratio new p99 / stable p99, paired by minute (both colors see the same minute's load,
 *   so the load's own swings cancel), tested on its logarithm with a one-sided paired t-test; same three rules, with
 *   the ratio's margin `latencyMarginPercent`. Per-minute p99 samples are too few (5 in a 5-minute bake) for a rank
 *   test at these alphas: Mann–Whitney's smallest one-sided p with 5 against 5 is 1/252 = 0.004.
 * A service fails if either test fails, passes if both pass; the release verdict fails if any service fails.
 *
 * False rollbacks over a whole canary: every fail needs p <= alpha_look / (2 × services), and the looks spend
 * alpha_look = alpha / (look × (look + 1)), whose sum over any number of looks is below alpha (it telescopes to
 * alpha × (1 − 1/(n+1))). The union bound holds whatever the looks' windows and correlation, extensions included. The
 * first look, at the smallest canary where catching a regression matters most, gets half of alpha; later looks see
 * 2.5–5× the traffic (25 %, 50 % steps, longer windows), so a stricter alpha costs them little power.
 */
import type { JudgeSettings } from '../../config/types';

export type { JudgeSettings };

/** One color of one service over the look's window, one entry per minute as GetMetricData returns it (oldest first). */
export interface ColorSeries {
  /** Requests per minute (ALB RequestCount of the color's target group). */
  readonly requests: readonly number[];
  /** Failed requests per minute: requests the targets did not answer with 2XX/3XX/4XX (includes ELB 502/503/504). */
  readonly errors: readonly number[];
  /** p99 of TargetResponseTime per minute, seconds; undefined for a minute without data. */
  readonly p99Seconds: readonly (number | undefined)[];
}

export interface ServiceSeries {
  readonly service: string;
  readonly candidate: ColorSeries;
  readonly stable: ColorSeries;
}

/** Which look this is: the n-th gate of the release (1-based) out of at most `maxLooks` (steps × (1 + extensions)). */
export interface JudgeLook {
  readonly look: number;
  readonly maxLooks: number;
}

export type JudgeOutcome = 'pass' | 'fail' | 'inconclusive';

export interface ServiceVerdict {
  readonly service: string;
  readonly outcome: JudgeOutcome;
  /** One line a person reads: why. */
  readonly reason: string;
  /** The numbers behind it (samples, rates, p-values or probabilities, thresholds), flat, for the ledger and status. */
  readonly numbers: Readonly<Record<string, number>>;
}

export interface JudgeVerdict {
  /** fail if any service fails; else inconclusive if any is; else pass. */
  readonly outcome: JudgeOutcome;
  readonly services: readonly ServiceVerdict[];
  /** One line for the notification and `release status`. */
  readonly summary: string;
}

/** Confidence a pass needs that the new color is within the margin (one-sided upper bound). */
export const PASS_CONFIDENCE = 0.95;
/** Φ⁻¹(PASS_CONFIDENCE), a constant so the bundle carries no inverse normal (scripts/lib/stats.ts has it, tested). */
export const PASS_Z = 1.6448536269514722;

/** The false-rollback budget (a fraction) that look `look` (1-based) may spend: alpha / (look × (look + 1)). */
export function lookAlpha(falseRollbackPercent: number, look: number): number {
  const k = Math.max(1, Math.floor(look));
  return falseRollbackPercent / 100 / (k * (k + 1));
}

/** Standard normal CDF, Φ(x), through erfc (Numerical Recipes' erfcc: relative error < 1.2e-7 everywhere, tails too). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
  let poly = 0;
  for (let i = c.length - 1; i > 0; i--) poly = t * (c[i] + poly);
  const erfc = t * Math.exp(-z * z + c[0] + poly);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * P(T > t) for Student's t with `df` (a whole number >= 1) degrees of freedom: the closed forms for whole df
 * (Abramowitz & Stegun 26.7.3 and 26.7.4), exact up to floating point.
 */
export function studentUpperTail(t: number, df: number): number {
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const s = Math.sin(theta);
  const c2 = Math.cos(theta) ** 2;
  let inner: number;
  if (df % 2 === 1) {
    let term = Math.cos(theta);
    let sum = df > 1 ? term : 0;
    for (let k = 3; k <= df - 2; k += 2) sum += (term *= (c2 * (k - 1)) / k);
    inner = (2 / Math.PI) * (theta + s * sum);
  } else {
    let term = 1;
    let sum = 1;
    for (let k = 2; k <= df - 2; k += 2) sum += (term *= (c2 * (k - 1)) / k);
    inner = s * sum;
  }
  // inner = P(|T| < |t|)
  return t >= 0 ? (1 - inner) / 2 : (1 + inner) / 2;
}

/** The t quantile for a one-sided upper tail `p` (bisection on studentUpperTail; only for the pass bound). */
export function studentQuantile(p: number, df: number): number {
  let lo = 0;
  let hi = 1e3;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (studentUpperTail(mid, df) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * P(X >= k) for X ~ Binomial(n, q): the exact conditional test of two rates. Given the failures of both colors
 * together (n), the new color's share of them is Binomial(n, its share of the requests) when the rates are equal
 * (exact for Poisson counts; for binomial counts the true conditional law, hypergeometric, is narrower, so the test is
 * conservative). The normal approximation is not: at 5–15 failures a z-test fails good releases several times as
 * often as its alpha says. Summed in log space, O(n), exact up to floating point.
 */
export function binomialUpperTail(k: number, n: number, q: number): number {
  if (k <= 0) return 1;
  if (k > n || q <= 0) return 0;
  if (q >= 1) return 1;
  // Beyond 100,000 failures the normal approximation is exact to many digits (and the loop would cost).
  if (n > 1e5) return 1 - normalCdf((k - 0.5 - n * q) / Math.sqrt(n * q * (1 - q)));
  const logs = new Float64Array(n + 1);
  logs[0] = n * Math.log(1 - q);
  const r = Math.log(q / (1 - q));
  let top = logs[0];
  for (let i = 0; i < n; i++) top = Math.max(top, (logs[i + 1] = logs[i] + Math.log((n - i) / (i + 1)) + r));
  let all = 0;
  let tail = 0;
  logs.forEach((l, i) => {
    const w = Math.exp(l - top);
    all += w;
    if (i >= k) tail += w;
  });
  return Math.min(1, tail / all);
}

const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + (Number.isFinite(x) && x > 0 ? x : 0), 0);
const round = (x: number, digits = 4) => (Number.isFinite(x) ? Number(x.toPrecision(digits)) : x);

interface TestResult {
  readonly outcome: JudgeOutcome;
  readonly reason: string;
  readonly numbers: Record<string, number>;
}

/** The three rules of both tests, and the reason a person reads (`bound`: the upper bound, `margin`: its limit, as text). */
function decide(fail: boolean, pass: boolean, head: string, bound: string, margin: string, p: number, alpha: number, numbers: Record<string, number>): TestResult {
  const pText = `p=${p.toPrecision(2)}`;
  if (fail) return { outcome: 'fail', reason: `${head}: worse by more than ${margin}, ${pText} <= ${alpha.toPrecision(2)}`, numbers };
  if (pass) return { outcome: 'pass', reason: `${head}: at most ${bound} (margin ${margin})`, numbers };
  return { outcome: 'inconclusive', reason: `${head}: up to ${bound}, margin ${margin}, ${pText}`, numbers };
}

/** Error rate: exact conditional test for "new worse" (fail), Agresti–Caffo upper bound against the margin (pass). */
export function errorRateTest(candidate: ColorSeries, stable: ColorSeries, settings: JudgeSettings, alpha: number): TestResult {
  const nN = sum(candidate.requests);
  const nS = sum(stable.requests);
  // A minute can report more failures than requests (answers to the previous minute's requests): clamp the sums.
  const eN = Math.min(sum(candidate.errors), nN);
  const eS = Math.min(sum(stable.errors), nS);
  const margin = settings.errorRateMarginPoints / 100;
  const numbers: Record<string, number> = {
    candidateRequests: nN,
    stableRequests: nS,
    candidateErrors: eN,
    stableErrors: eS,
    errorMarginPoints: settings.errorRateMarginPoints,
    errorAlpha: round(alpha),
  };
  if (nN < settings.minRequests || nS < settings.minRequests) {
    return { outcome: 'inconclusive', reason: `too few requests (new ${nN}, stable ${nS}; needs ${settings.minRequests} each)`, numbers };
  }
  const pN = eN / nN;
  const pS = eS / nS;
  const d = pN - pS;
  const pooled = (eN + eS) / (nN + nS);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / nN + 1 / nS));
  // No failure on either color: nothing says the new color is worse (z 0), whatever the counts.
  const z = se0 > 0 ? d / se0 : 0;
  const p = binomialUpperTail(eN, eN + eS, nN / (nN + nS));
  // Agresti–Caffo: one failure and one success added to each color keep the bound honest at 0 failures.
  const aN = (eN + 1) / (nN + 2);
  const aS = (eS + 1) / (nS + 2);
  const upper = aN - aS + PASS_Z * Math.sqrt((aN * (1 - aN)) / (nN + 2) + (aS * (1 - aS)) / (nS + 2));
  Object.assign(numbers, {
    candidateErrorPercent: round(100 * pN),
    stableErrorPercent: round(100 * pS),
    errorDiffPoints: round(100 * d),
    errorZ: round(z),
    errorP: round(p),
    errorUpperPoints: round(100 * upper),
  });
  const head = `error rate ${(100 * pN).toFixed(2)}% vs ${(100 * pS).toFixed(2)}%`;
  return decide(p <= alpha && d > margin, upper < margin, head, `${(100 * upper).toFixed(2)} points worse`, `${settings.errorRateMarginPoints} points`, p, alpha, numbers);
}

/** p99 latency: one-sided paired t-test on ln(new p99 / stable p99) per minute, margin ln(1 + latencyMarginPercent/100). */
export function latencyTest(candidate: ColorSeries, stable: ColorSeries, settings: JudgeSettings, alpha: number): TestResult {
  const logs: number[] = [];
  candidate.p99Seconds.forEach((c, i) => {
    const s = stable.p99Seconds[i];
    if (c !== undefined && s !== undefined && c > 0 && s > 0 && candidate.requests[i] > 0 && stable.requests[i] > 0) logs.push(Math.log(c / s));
  });
  const n = logs.length;
  const margin = Math.log(1 + settings.latencyMarginPercent / 100);
  const numbers: Record<string, number> = { latencyMinutes: n, latencyMarginPercent: settings.latencyMarginPercent, latencyAlpha: round(alpha) };
  if (n < 2) return { outcome: 'inconclusive', reason: `p99 of ${n} minute(s) with both colors; needs 2`, numbers };
  const mean = logs.reduce((a, x) => a + x, 0) / n;
  const se = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) / n);
  const t = se > 0 ? mean / se : mean > 0 ? Infinity : mean < 0 ? -Infinity : 0;
  const p = studentUpperTail(t, n - 1);
  const upper = mean + studentQuantile(1 - PASS_CONFIDENCE, n - 1) * se;
  Object.assign(numbers, { p99Ratio: round(Math.exp(mean)), latencyT: round(t), latencyP: round(p), p99UpperRatio: round(Math.exp(upper)) });
  const head = `p99 ${Math.exp(mean).toFixed(2)}x stable over ${n} min`;
  return decide(p <= alpha && mean > margin, upper < margin, head, `${Math.exp(upper).toFixed(2)}x`, `${settings.latencyMarginPercent}%`, p, alpha, numbers);
}

const worst = (outcomes: readonly JudgeOutcome[]): JudgeOutcome =>
  outcomes.includes('fail') ? 'fail' : outcomes.includes('inconclusive') ? 'inconclusive' : 'pass';

/** The verdict of one look (see the file comment for the tests and the alpha spending). */
export function judge(series: readonly ServiceSeries[], settings: JudgeSettings, look: JudgeLook): JudgeVerdict {
  const alpha = lookAlpha(settings.falseRollbackPercent, look.look) / (2 * Math.max(1, series.length));
  const services = series.map((s): ServiceVerdict => {
    const e = errorRateTest(s.candidate, s.stable, settings, alpha);
    const l = latencyTest(s.candidate, s.stable, settings, alpha);
    const outcome = worst([e.outcome, l.outcome]);
    // The reason names the tests that decided: the failing ones, else the undecided ones, else both.
    const reason = [e, l].filter((r) => r.outcome === outcome).map((r) => r.reason).join('; ');
    return { service: s.service, outcome, reason, numbers: { look: look.look, maxLooks: look.maxLooks, ...e.numbers, ...l.numbers } };
  });
  const outcome = worst(services.map((s) => s.outcome));
  const named = services.filter((s) => s.outcome === outcome);
  const summary =
    `look ${look.look}/${look.maxLooks}: ${outcome}` + (named.length ? ` (${named.map((s) => `${s.service}: ${s.reason}`).join(' | ')})` : ' (no service in the release)');
  return { outcome, services, summary };
}
