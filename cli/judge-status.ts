/**
 * `npm run release -- status`: the judge's last verdicts of one release execution, read from the ledger
 * (`release:judge-verdict` entries written by lambda/release/judge-gate.ts).
 */
import type { LedgerEntry } from '../lambda/traffic/ledger';

/** How many of the judge's verdicts `status` shows (the latest), and how far back in the ledger it looks for them. */
export const STATUS_VERDICTS = 5;
export const STATUS_LEDGER_ENTRIES = 200;

const round = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v);

/**
 * The judge's verdicts of one execution (ledger entries `release:judge-verdict` whose detail names it), oldest first,
 * the last `limit`: one line per look (time, step, look number, outcome, what the release did) and one per service with
 * its numbers (samples, rates, p-value or probability as the judge reports them).
 */
/** The ledger entries of one execution's last `limit` judge verdicts, oldest first (`release status`, with `--json` too). */
export function judgeVerdictEntries(entries: readonly LedgerEntry[], executionArn: string, limit = STATUS_VERDICTS): LedgerEntry[] {
  return entries
    .filter((e) => (e.action as string) === 'release:judge-verdict' && (e.detail as { owner?: string } | undefined)?.owner === executionArn)
    .sort((a, b) => a.sk.localeCompare(b.sk))
    .slice(-limit);
}

export function judgeVerdictLines(entries: readonly LedgerEntry[], executionArn: string, limit = STATUS_VERDICTS): string[] {
  type Detail = {
    owner?: string;
    percent?: number;
    look?: number;
    maxLooks?: number;
    outcome?: string;
    action?: string;
    byPolicy?: boolean;
    summary?: string;
    window?: { minutes?: number };
    services?: { service: string; outcome: string; reason: string; numbers?: Record<string, number> }[];
  };
  const verdicts = judgeVerdictEntries(entries, executionArn, limit);
  if (verdicts.length === 0) return [];
  const lines = [`judge verdicts (last ${verdicts.length}):`];
  for (const e of verdicts) {
    const d = e.detail as Detail;
    const then = d.action === 'extend' ? 'bake extended' : d.byPolicy ? `${d.action} (policy onInconclusive)` : d.action;
    lines.push(`  ${e.time.slice(11, 19)}  ${d.percent}% look ${d.look}/${d.maxLooks} over ${d.window?.minutes ?? '?'} min: ${String(d.outcome).toUpperCase()} → ${then} — ${d.summary ?? ''}`);
    for (const s of d.services ?? []) {
      const numbers = Object.entries(s.numbers ?? {}).map(([k, v]) => `${k}=${round(v)}`).join(' ');
      lines.push(`      ${s.service.padEnd(9)} ${s.outcome.padEnd(12)} ${s.reason}${numbers ? ` [${numbers}]` : ''}`);
    }
  }
  return lines;
}
