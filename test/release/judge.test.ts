import { JUDGE_DEFAULTS } from '../../config/shared';
import {
  binomialUpperTail,
  type ColorSeries,
  errorRateTest,
  judge,
  latencyTest,
  lookAlpha,
  normalCdf,
  PASS_CONFIDENCE,
  PASS_Z,
  studentQuantile,
  studentUpperTail,
} from '../../lambda/release/judge';
import { normalQuantile } from '../../scripts/lib/stats';

/** A color over `minutes` minutes with the same requests, failures and p99 every minute (p99 varied by `jitter`). */
const color = (requests: number, errors: number, p99: number, minutes = 5, jitter: readonly number[] = [1, 1.02, 0.98, 1.01, 0.99]): ColorSeries => ({
  requests: Array(minutes).fill(requests),
  errors: Array(minutes).fill(errors),
  p99Seconds: Array.from({ length: minutes }, (_, i) => p99 * jitter[i % jitter.length]),
});
const settings = JUDGE_DEFAULTS;
const first = { look: 1, maxLooks: 12 };

describe('distributions', () => {
  test('normalCdf matches tables, tails included', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 7);
    expect(normalCdf(-3.090232)).toBeCloseTo(0.001, 8);
    expect((1 - normalCdf(4)) / 3.167124e-5).toBeCloseTo(1, 5);
  });

  test('normalQuantile inverts normalCdf across the range', () => {
    for (const p of [1e-6, 0.001, 0.02, 0.3, 0.5, 0.9, 0.975, 0.9999]) expect(normalCdf(normalQuantile(p)) / p).toBeCloseTo(1, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(PASS_Z).toBeCloseTo(normalQuantile(PASS_CONFIDENCE), 7);
  });

  test('studentUpperTail matches t tables for odd and even degrees of freedom', () => {
    expect(studentUpperTail(6.314, 1)).toBeCloseTo(0.05, 4);
    expect(studentUpperTail(2.92, 2)).toBeCloseTo(0.05, 4);
    expect(studentUpperTail(2.132, 4)).toBeCloseTo(0.05, 4);
    expect(studentUpperTail(2.015, 5)).toBeCloseTo(0.05, 4);
    expect(studentUpperTail(4.604, 4)).toBeCloseTo(0.005, 5);
    expect(studentUpperTail(0, 7)).toBe(0.5);
    expect(studentUpperTail(-2.132, 4)).toBeCloseTo(0.95, 4);
    expect(studentUpperTail(Infinity, 3)).toBe(0);
  });

  test('studentQuantile inverts studentUpperTail', () => {
    expect(studentQuantile(0.05, 4)).toBeCloseTo(2.132, 3);
    expect(studentQuantile(0.05, 1)).toBeCloseTo(6.314, 3);
  });

  test('binomialUpperTail is the exact tail, also where the normal approximation is not', () => {
    expect(binomialUpperTail(8, 10, 0.5)).toBeCloseTo(56 / 1024, 12);
    expect(binomialUpperTail(0, 10, 0.5)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.5)).toBe(0);
    // P(X >= 3), X ~ Bin(5, 0.1) = 1 - P(X <= 2)
    expect(binomialUpperTail(3, 5, 0.1)).toBeCloseTo(0.00856, 6);
    // Thousands of failures: no underflow, about the normal tail.
    expect(binomialUpperTail(5200, 10000, 0.5)).toBeCloseTo(1 - normalCdf((5199.5 - 5000) / 50), 4);
  });

  test('lookAlpha spends at most the whole budget over any number of looks, half of it on the first', () => {
    expect(lookAlpha(1, 1)).toBeCloseTo(0.005, 12);
    const spent = Array.from({ length: 1000 }, (_, i) => lookAlpha(1, i + 1)).reduce((a, x) => a + x, 0);
    expect(spent).toBeLessThan(0.01);
    expect(spent).toBeGreaterThan(0.0099);
  });
});

describe('error rate', () => {
  const alpha = lookAlpha(1, 1) / 2;

  test('fails a doubled error rate at a 10 % canary of 10,000 requests per minute', () => {
    const r = errorRateTest(color(1000, 20, 0.3), color(9000, 90, 0.3), settings, alpha);
    expect(r.outcome).toBe('fail');
    expect(r.numbers).toMatchObject({ candidateRequests: 5000, stableRequests: 45000, candidateErrors: 100, candidateErrorPercent: 2, stableErrorPercent: 1, errorDiffPoints: 1 });
    expect(r.numbers.errorP).toBeLessThan(alpha);
  });

  test('passes equal error rates once the upper bound is inside the margin', () => {
    const r = errorRateTest(color(1000, 10, 0.3), color(9000, 90, 0.3), settings, alpha);
    expect(r.outcome).toBe('pass');
    expect(r.numbers.errorUpperPoints).toBeLessThan(settings.errorRateMarginPoints);
    expect(r.reason).toContain('at most');
  });

  test('is inconclusive below minRequests on either color, whatever the failures', () => {
    const r = errorRateTest(color(90, 50, 0.3), color(9000, 0, 0.3), settings, alpha);
    expect(r.outcome).toBe('inconclusive');
    expect(r.reason).toContain('too few requests');
  });

  test('is inconclusive on a worse rate that is not yet significant at this look', () => {
    const r = errorRateTest(color(100, 2, 0.3), color(900, 9, 0.3), settings, alpha);
    expect(r.outcome).toBe('inconclusive');
  });

  test('does not fail a significant regression smaller than the margin', () => {
    // 0.3 points worse on 500,000 requests: significant, but within the 0.5-point margin.
    const r = errorRateTest(color(100000, 1300, 0.3), color(100000, 1000, 0.3), settings, alpha);
    expect(r.numbers.errorP).toBeLessThan(alpha);
    expect(r.outcome).toBe('pass');
  });

  test('passes with no failure on either color, and clamps failures above requests', () => {
    expect(errorRateTest(color(1000, 0, 0.3), color(9000, 0, 0.3), settings, alpha).outcome).toBe('pass');
    const r = errorRateTest(color(200, 500, 0.3), color(9000, 0, 0.3), settings, alpha);
    expect(r.numbers.candidateErrors).toBe(1000);
    expect(r.outcome).toBe('fail');
  });
});

describe('latency', () => {
  const alpha = lookAlpha(1, 1) / 2;

  test('fails a p99 30 % slower every minute', () => {
    const r = latencyTest(color(1000, 0, 0.39), color(9000, 0, 0.3, 5, [1, 1.01, 0.99, 1.02, 0.98]), settings, alpha);
    expect(r.outcome).toBe('fail');
    expect(r.numbers.p99Ratio).toBeCloseTo(1.3, 1);
    expect(r.numbers.latencyP).toBeLessThan(alpha);
  });

  test('passes an equal p99 and names the upper bound', () => {
    const r = latencyTest(color(1000, 0, 0.3), color(9000, 0, 0.3, 5, [1.01, 1, 0.99, 1, 1]), settings, alpha);
    expect(r.outcome).toBe('pass');
    expect(r.numbers.p99UpperRatio).toBeLessThan(1.15);
  });

  test('is inconclusive with fewer than 2 minutes where both colors have a p99', () => {
    const candidate = { ...color(1000, 0, 0.3), p99Seconds: [0.3, undefined, undefined, undefined, undefined] };
    const r = latencyTest(candidate, color(9000, 0, 0.3), settings, alpha);
    expect(r.outcome).toBe('inconclusive');
    expect(r.numbers.latencyMinutes).toBe(1);
  });

  test('is inconclusive on a noisy ratio it cannot bound', () => {
    const r = latencyTest(color(1000, 0, 0.3, 5, [1, 1.6, 0.8, 1.4, 0.9]), color(9000, 0, 0.3), settings, alpha);
    expect(r.outcome).toBe('inconclusive');
  });
});

describe('judge', () => {
  const good = { service: 'backend', candidate: color(1000, 10, 0.3), stable: color(9000, 90, 0.3) };

  test('passes when every service passes both tests, with the look and both tests in the numbers', () => {
    const v = judge([good, { ...good, service: 'frontend' }], settings, first);
    expect(v.outcome).toBe('pass');
    expect(v.services.map((s) => s.outcome)).toEqual(['pass', 'pass']);
    expect(v.services[0].numbers).toMatchObject({ look: 1, maxLooks: 12, candidateRequests: 5000, latencyMinutes: 5 });
    // alpha of the first look, split over 2 services × 2 tests
    expect(v.services[0].numbers.errorAlpha).toBeCloseTo(0.00125, 8);
    expect(v.summary).toMatch(/^look 1\/12: pass/);
  });

  test('fails the release when one service fails, naming it', () => {
    const bad = { service: 'frontend', candidate: color(1000, 25, 0.3), stable: color(9000, 90, 0.3) };
    const v = judge([good, bad], settings, first);
    expect(v.outcome).toBe('fail');
    expect(v.services.map((s) => s.outcome)).toEqual(['pass', 'fail']);
    expect(v.summary).toContain('frontend: error rate 2.50% vs 1.00%');
    expect(v.summary).not.toContain('backend');
  });

  test('is inconclusive when any service is and none fails', () => {
    const thin = { service: 'frontend', candidate: color(5, 0, 0.3), stable: color(45, 0, 0.3) };
    const v = judge([good, thin], settings, first);
    expect(v.outcome).toBe('inconclusive');
    expect(v.summary).toContain('too few requests');
  });

  test('spends less alpha at later looks: the same data fails at look 1 and not at look 12', () => {
    // p ≈ 0.002: under the first look's share (0.0025), over the twelfth's.
    const borderline = { service: 'backend', candidate: color(1000, 16, 0.3), stable: color(9000, 90, 0.3) };
    expect(judge([borderline], settings, first).outcome).toBe('fail');
    expect(judge([borderline], settings, { look: 12, maxLooks: 12 }).outcome).not.toBe('fail');
  });

  test('with no service in the release there is nothing to fail', () => {
    expect(judge([], settings, first)).toEqual({ outcome: 'pass', services: [], summary: 'look 1/12: pass (no service in the release)' });
  });
});
