/**
 * Judge bench (`npm run bench -- judge`): the canary judge (lambda/release/judge.ts) and today's alarm logic
 * (lib/rollback-alarms.ts with config/shared.ts PLAN_ROLLBACK_TRIGGERS) on the same simulated traffic, over thousands
 * of simulated releases per case, under production's release policy (config/production.ts). Prints
 *
 *   judge: false_rollback=<%> caught_2x_error=<%> limit_2x_error=<%> caught_2x_error_1k=<%> caught_p99_30=<%> inconclusive_night=<%> legacy_caught_2x_error=<%>
 *
 * then the figures of every case as the LAST line, JSON (for `npm run bench`). Seeded: the figures are reproducible.
 *
 * The traffic, per minute as CloudWatch gives it: a load swing common to both colors (lognormal, σ 0.1); requests per
 * color Poisson(rpm × share × swing); failed requests Binomial(requests, rate); per-request latency lognormal (median
 * 80 ms, σ 0.5: p99 ≈ 3.2 × median) times a per-minute swing common to both colors, and the minute's p99 drawn exactly
 * as the nearest-rank order statistic of that many requests (a Beta-distributed uniform order statistic through the
 * lognormal's quantile), not by a loop over requests.
 *
 * The walk: each step below 100 % bakes `bakeSeconds` then the judge looks; while inconclusive it extends up to
 * `maxExtensions` times, each look over the step's whole time so far (evidence accumulates). At 100 % no stable color
 * takes traffic, so there is nothing to compare. A release held or passed on inconclusive walks on (every look counted).
 *
 *   npx tsx scripts/bench-judge.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PLAN_ROLLBACK_TRIGGERS } from '../config/shared';
import { production } from '../config/production';
import type { JudgeSettings } from '../config/types';
import { type ColorSeries, judge, type JudgeOutcome, normalCdf } from '../lambda/release/judge';
import { normalQuantile } from './lib/stats';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Random {
  private spare: number | undefined;
  constructor(readonly uniform: () => number) {}
  /** (0, 1): never 0, so logs stay finite. */
  open(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return u;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.open()));
    const th = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const l = Math.exp(-mean);
    let k = 0;
    let p = this.uniform();
    while (p > l) {
      k++;
      p *= this.uniform();
    }
    return k;
  }
  /** Exact for small means (waiting times between successes); normal approximation once both tails hold >= 50. */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (p > 0.5) return n - this.binomial(n, 1 - p);
    if (n * p >= 50 && n * (1 - p) >= 50) return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * this.normal())));
    const logq = Math.log(1 - p);
    let x = 0;
    let pos = 0;
    for (;;) {
      pos += Math.floor(Math.log(this.open()) / logq) + 1;
      if (pos > n) return x;
      x++;
    }
  }
  /** Gamma(shape >= 1, 1), Marsaglia–Tsang. */
  gamma(shape: number): number {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.open();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }
}

/** The latency model: per request lognormal, median 80 ms, σ 0.5. */
const LATENCY = { median: 0.08, sigma: 0.5 };

/** Nearest-rank p99 of `n` lognormal requests scaled by `factor`: the k-th order statistic, k = ceil(0.99 n). */
function p99Of(r: Random, n: number, factor: number): number | undefined {
  if (n <= 0) return undefined;
  const k = Math.ceil(0.99 * n);
  const u = r.beta(k, n - k + 1);
  return factor * LATENCY.median * Math.exp(LATENCY.sigma * normalQuantile(u));
}

interface Traffic {
  readonly rpm: number;
  readonly stableErrorRate: number;
  readonly candidateErrorRate: number;
  /** Candidate latency over stable latency (1.3 = +30 % at every percentile, p99 included). */
  readonly candidateLatencyFactor: number;
}

interface Minute {
  readonly reqN: number;
  readonly errN: number;
  readonly p99N: number | undefined;
  readonly reqS: number;
  readonly errS: number;
  readonly p99S: number | undefined;
}

export function minute(r: Random, t: Traffic, canaryPercent: number): Minute {
  const load = Math.exp(0.1 * r.normal());
  const slow = Math.exp(0.1 * r.normal());
  const reqN = r.poisson((t.rpm * load * canaryPercent) / 100);
  const reqS = r.poisson((t.rpm * load * (100 - canaryPercent)) / 100);
  return {
    reqN,
    errN: r.binomial(reqN, t.candidateErrorRate),
    p99N: p99Of(r, reqN, slow * t.candidateLatencyFactor),
    reqS,
    errS: r.binomial(reqS, t.stableErrorRate),
    p99S: p99Of(r, reqS, slow),
  };
}

export const series = (ms: readonly Minute[], color: 'N' | 'S'): ColorSeries => ({
  requests: ms.map((m) => m[`req${color}`]),
  errors: ms.map((m) => m[`err${color}`]),
  p99Seconds: ms.map((m) => m[`p99${color}`]),
});

/**
 * Today's alarm logic on a run of minutes (lib/rollback-alarms.ts): does any rollback alarm of the new color reach
 * ALARM? Each alarm is "M of M" consecutive one-minute datapoints, missing data not breaching:
 * error rate > 5 % for 5 min and >= 25 % for 2 min (minutes with >= 20 requests), new-minus-stable error rate > 2
 * points for 3 min and p99 ratio > 1.5 for 3 min (minutes with >= 10 requests on each color while the new color serves
 * <= 40 %), average response time > 2 s for 3 min.
 */
export function legacyAlarms(ms: readonly Minute[]): boolean {
  const m = PLAN_ROLLBACK_TRIGGERS;
  const c = m.comparison;
  const held = (breach: (x: Minute) => boolean, minutes: number) => {
    let run = 0;
    for (const x of ms) if ((run = breach(x) ? run + 1 : 0) >= minutes) return true;
    return false;
  };
  const rate = (x: Minute) => (x.reqN >= m.minRequestsPerMinute ? (100 * x.errN) / x.reqN : 0);
  const canary = (x: Minute) => x.reqN >= c.minRequestsPerMinute && x.reqS >= c.minRequestsPerMinute && 100 * x.reqN <= c.canaryMaxRequestPercent * (x.reqN + x.reqS);
  // Average of a lognormal: median × e^(σ²/2).
  const average = (x: Minute) => (x.p99N ?? 0) * Math.exp(LATENCY.sigma ** 2 / 2 - LATENCY.sigma * normalQuantile(0.99));
  return (
    held((x) => rate(x) > m.errorRatePercent, m.errorRateMinutes) ||
    held((x) => rate(x) >= m.fastBurnErrorRatePercent, m.fastBurnMinutes) ||
    held((x) => x.reqN >= m.minRequestsPerMinute && average(x) > m.latencySeconds, m.latencyMinutes) ||
    held((x) => canary(x) && (100 * x.errN) / x.reqN - (100 * x.errS) / x.reqS > c.errorRatePoints, c.minutes) ||
    held((x) => canary(x) && x.p99N !== undefined && x.p99S !== undefined && x.p99N / x.p99S > c.p99LatencyRatio, c.minutes)
  );
}

/** The best fixed-sample one-sided test of "new worse" at level alpha: the pooled two-proportion z-test. */
function fixedTestRejects(ms: readonly Minute[], alpha: number): boolean {
  const s = (f: (m: Minute) => number) => ms.reduce((a, m) => a + f(m), 0);
  const nN = s((m) => m.reqN);
  const nS = s((m) => m.reqS);
  const eN = s((m) => m.errN);
  const eS = s((m) => m.errS);
  if (nN === 0 || nS === 0) return false;
  const pooled = (eN + eS) / (nN + nS);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nN + 1 / nS));
  return se > 0 && 1 - normalCdf((eN / nN - eS / nS) / se) <= alpha;
}

interface Policy {
  readonly canarySteps: readonly number[];
  readonly bakeMinutes: number;
  readonly judge: JudgeSettings;
}

interface ReleaseRun {
  readonly firstLook: JudgeOutcome;
  /** The first step's verdict after its extensions. */
  readonly firstStep: JudgeOutcome;
  /** Some look of the whole canary failed. */
  readonly failed: boolean;
  readonly limitFirstLook: boolean;
  readonly legacyFirstBake: boolean;
  readonly legacyRelease: boolean;
}

function release(r: Random, t: Traffic, policy: Policy): ReleaseRun {
  const steps = policy.canarySteps.filter((s) => s < 100);
  const maxLooks = policy.canarySteps.length * (1 + policy.judge.maxExtensions);
  let look = 0;
  let failed = false;
  let firstLook: JudgeOutcome | undefined;
  let firstStep: JudgeOutcome = 'inconclusive';
  let limitFirstLook = false;
  let legacyFirstBake = false;
  const all: Minute[] = [];
  steps.forEach((percent, i) => {
    const ms: Minute[] = [];
    for (let ext = 0; ext <= policy.judge.maxExtensions; ext++) {
      for (let k = 0; k < policy.bakeMinutes; k++) ms.push(minute(r, t, percent));
      look++;
      const v = judge([{ service: 'svc', candidate: series(ms, 'N'), stable: series(ms, 'S') }], policy.judge, { look, maxLooks }).outcome;
      if (look === 1) {
        firstLook = v;
        limitFirstLook = fixedTestRejects(ms, policy.judge.falseRollbackPercent / 100);
        legacyFirstBake = legacyAlarms(ms);
      }
      if (i === 0) firstStep = v;
      if (v === 'fail') failed = true;
      if (v !== 'inconclusive') break;
    }
    all.push(...ms);
  });
  return { firstLook: firstLook ?? 'inconclusive', firstStep, failed, limitFirstLook, legacyFirstBake, legacyRelease: legacyAlarms(all) };
}

interface CaseFigures {
  readonly releases: number;
  /** Percent of releases: judge failed some look; first look fail / inconclusive / pass; first step (after extensions) fail / pass. */
  readonly failedPercent: number;
  readonly firstLookFailPercent: number;
  readonly firstLookInconclusivePercent: number;
  readonly firstLookPassPercent: number;
  readonly firstStepFailPercent: number;
  readonly firstStepPassPercent: number;
  readonly limitFirstLookPercent: number;
  readonly legacyFirstBakePercent: number;
  readonly legacyReleasePercent: number;
}

export function runCase(seed: number, releases: number, t: Traffic, policy: Policy): CaseFigures {
  const r = new Random(rng(seed));
  const runs = Array.from({ length: releases }, () => release(r, t, policy));
  const pct = (f: (x: ReleaseRun) => boolean) => Math.round((10000 * runs.filter(f).length) / releases) / 100;
  return {
    releases,
    failedPercent: pct((x) => x.failed),
    firstLookFailPercent: pct((x) => x.firstLook === 'fail'),
    firstLookInconclusivePercent: pct((x) => x.firstLook === 'inconclusive'),
    firstLookPassPercent: pct((x) => x.firstLook === 'pass'),
    firstStepFailPercent: pct((x) => x.firstStep === 'fail'),
    firstStepPassPercent: pct((x) => x.firstStep === 'pass'),
    limitFirstLookPercent: pct((x) => x.limitFirstLook),
    legacyFirstBakePercent: pct((x) => x.legacyFirstBake),
    legacyReleasePercent: pct((x) => x.legacyRelease),
  };
}

export const GOOD = { stableErrorRate: 0.01, candidateErrorRate: 0.01, candidateLatencyFactor: 1 };

/** Every case of the line, under `policy` (production's by default). */
export function benchJudge(policy: Policy = productionPolicy(), releases = Number(process.env.BENCH_JUDGE_RELEASES ?? 2000)) {
  const cases = {
    good10k: runCase(1, releases * 5, { ...GOOD, rpm: 10000 }, policy),
    good1k: runCase(2, releases, { ...GOOD, rpm: 1000 }, policy),
    goodNight: runCase(3, releases, { ...GOOD, rpm: 50 }, policy),
    error2x10k: runCase(4, releases, { ...GOOD, rpm: 10000, candidateErrorRate: 0.02 }, policy),
    error2x1k: runCase(5, releases, { ...GOOD, rpm: 1000, candidateErrorRate: 0.02 }, policy),
    p99Plus30: runCase(6, releases, { ...GOOD, rpm: 10000, candidateLatencyFactor: 1.3 }, policy),
  };
  const line = {
    false_rollback: Math.max(cases.good10k.failedPercent, cases.good1k.failedPercent, cases.goodNight.failedPercent),
    caught_2x_error: cases.error2x10k.firstLookFailPercent,
    limit_2x_error: cases.error2x10k.limitFirstLookPercent,
    caught_2x_error_1k: cases.error2x1k.firstLookFailPercent,
    caught_p99_30: cases.p99Plus30.firstLookFailPercent,
    inconclusive_night: cases.goodNight.firstLookInconclusivePercent,
    legacy_caught_2x_error: cases.error2x10k.legacyFirstBakePercent,
  };
  return { line, cases };
}

export function productionPolicy(): Policy {
  return { canarySteps: production.release.canarySteps, bakeMinutes: Math.round(production.release.bakeSeconds / 60), judge: production.release.judge };
}

export function judgeLine(line: Readonly<Record<string, number>>): string {
  return `judge: ${Object.entries(line).map(([k, v]) => `${k}=${v.toFixed(1)}%`).join(' ')}`;
}

function main(): void {
  const { line, cases } = benchJudge();
  console.log(judgeLine(line));
  // Hook for the crash-detection timeline (another part of issue 11): printed here when it exists.
  const crash = path.join(__dirname, 'lib', 'crash-timeline.ts');
  let crashTimeline: string | undefined;
  if (fs.existsSync(crash)) {
    crashTimeline = (require(crash) as { crashTimelineLine: () => string }).crashTimelineLine();
    console.log(crashTimeline);
  }
  console.log(JSON.stringify({ ...line, cases, ...(crashTimeline ? { crashTimeline } : {}) }));
}

if (require.main === module) main();
