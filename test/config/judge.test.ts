import { ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { JUDGE_DEFAULTS } from '../../config/shared';
import { problemsOf } from './support';

const withJudge = (judge: unknown): EnvironmentConfig => {
  const c = structuredClone(ENVIRONMENTS.production) as any;
  c.release.judge = judge;
  return c;
};
const fieldsOf = (overrides: Record<string, unknown>) => problemsOf(withJudge({ ...JUDGE_DEFAULTS, ...overrides })).map((p) => p.field);

test('every environment judges with valid settings', () => {
  for (const c of Object.values(ENVIRONMENTS)) expect(problemsOf(c)).toEqual([]);
});

test('fails WHEN the judge settings are missing', () => {
  expect(problemsOf(withJudge(undefined))).toEqual([expect.objectContaining({ field: 'release.judge', fix: expect.stringContaining('JUDGE_DEFAULTS') })]);
});

test.each([0, -1, 11, Number.NaN, '1'])('fails WHEN falseRollbackPercent is %p', (v) => {
  expect(fieldsOf({ falseRollbackPercent: v })).toEqual(['release.judge.falseRollbackPercent']);
});

test.each([0, -0.5, 101, '0.5'])('fails WHEN errorRateMarginPoints is %p', (v) => {
  expect(fieldsOf({ errorRateMarginPoints: v })).toEqual(['release.judge.errorRateMarginPoints']);
});

test.each([0, -10, 1001, Number.POSITIVE_INFINITY])('fails WHEN latencyMarginPercent is %p', (v) => {
  expect(fieldsOf({ latencyMarginPercent: v })).toEqual(['release.judge.latencyMarginPercent']);
});

test.each([99, 500.5, -1, '500'])('fails WHEN minRequests is %p', (v) => {
  expect(fieldsOf({ minRequests: v })).toEqual(['release.judge.minRequests']);
});

test.each([-1, 1.5, 11])('fails WHEN maxExtensions is %p', (v) => {
  expect(fieldsOf({ maxExtensions: v })).toEqual(['release.judge.maxExtensions']);
});

test.each(['retry', 'PASS', undefined])('fails WHEN onInconclusive is %p', (v) => {
  expect(fieldsOf({ onInconclusive: v })).toEqual(['release.judge.onInconclusive']);
});

test('fails WHEN several fields are wrong: every problem at once, each with value, why and fix', () => {
  const problems = problemsOf(withJudge({ ...JUDGE_DEFAULTS, falseRollbackPercent: 50, maxExtensions: -1 }));
  expect(problems).toEqual([
    { field: 'release.judge.falseRollbackPercent', value: 50, why: expect.stringContaining('whole canary'), fix: 'use 1' },
    { field: 'release.judge.maxExtensions', value: -1, why: expect.stringContaining('0 to 10'), fix: 'use 2' },
  ]);
});
