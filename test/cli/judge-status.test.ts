/** `release status`: the judge's verdict lines from ledger entries (pure). The CLI run against moto is in test/release/cli.moto.test.ts. */
import { judgeVerdictEntries, judgeVerdictLines, STATUS_VERDICTS } from '../../cli/judge-status';
import type { LedgerEntry } from '../../lambda/traffic/ledger';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:production-release:r1';
const entry = (i: number, detail: Record<string, unknown>, owner = ARN): LedgerEntry =>
  ({
    pk: 'production',
    sk: `2030-01-01T10:0${i}:00.000Z#${i}`,
    time: `2030-01-01T10:0${i}:00.000Z`,
    environment: 'production',
    actor: 'release',
    action: 'release:judge-verdict',
    reason: 'r',
    detail: { owner, percent: 10, look: i, maxLooks: 9, outcome: 'inconclusive', action: 'extend', byPolicy: false, summary: `s${i}`, window: { minutes: 5 }, services: [], ...detail },
  }) as unknown as LedgerEntry;

test('the last five verdicts of the execution, oldest first; other executions and other entries left out', () => {
  const entries = [
    ...Array.from({ length: 7 }, (_, i) => entry(i + 1, {})),
    entry(9, {}, 'arn:aws:states:us-east-1:123456789012:execution:production-release:other'),
    { ...entry(8, {}), action: 'release:shifted' } as unknown as LedgerEntry,
  ].reverse();
  const lines = judgeVerdictLines(entries, ARN);
  expect(lines[0]).toBe(`judge verdicts (last ${STATUS_VERDICTS}):`);
  expect(lines.slice(1).map((l) => /look (\d)\/9/.exec(l)![1])).toEqual(['3', '4', '5', '6', '7']);
});

test('--json gets the same verdicts as entries (what `release status --json` lists under judgeVerdicts)', () => {
  const entries = [...Array.from({ length: 7 }, (_, i) => entry(i + 1, {})), entry(9, {}, 'arn:aws:states:us-east-1:123456789012:execution:production-release:other')].reverse();
  expect(judgeVerdictEntries(entries, ARN).map((e) => (e.detail as { look: number }).look)).toEqual([3, 4, 5, 6, 7]);
});

test('a verdict the policy decided says so; numbers are rounded to 4 significant digits', () => {
  const lines = judgeVerdictLines(
    [entry(1, { outcome: 'inconclusive', action: 'hold', byPolicy: true, services: [{ service: 'backend', outcome: 'inconclusive', reason: 'too few requests', numbers: { candidateRequests: 120, pValue: 0.123456 } }] })],
    ARN,
  );
  expect(lines).toEqual([
    'judge verdicts (last 1):',
    '  10:01:00  10% look 1/9 over 5 min: INCONCLUSIVE → hold (policy onInconclusive) — s1',
    '      backend   inconclusive too few requests [candidateRequests=120 pValue=0.1235]',
  ]);
  expect(judgeVerdictLines([], ARN)).toEqual([]);
});
