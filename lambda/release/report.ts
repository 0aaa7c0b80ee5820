/**
 * The release report: at the end of every release (finish, safe state, hold) a summary built from the execution's own
 * ledger entries (versions, how long each step took, the gates' verdicts with their numbers, the alarms seen) goes to
 * the ledger (`release:report`) and the notification topic. `summarizeRelease` is pure; `reportRelease` reads and
 * writes and never throws: a release never fails for its report. `npm run release -- report` builds the same summary
 * from the ledger (cli/release.ts), so a report that could not be written can still be read.
 */
import { errorMessage, findInLedger, type LedgerEntry, logger } from '../traffic';
import type { RecordContext } from './context';
import { record } from './record';

export interface ReportStep {
  /** The ledger action without `release:` (started, shifted, gate-passed, …) or the rollback Lambda's (rollback). */
  readonly event: string;
  readonly at: string;
  /** Seconds since the previous step (0 for the first): how long this step took to be reached. */
  readonly seconds: number;
  readonly message: string;
}

export interface ReportGate {
  readonly event: string;
  readonly at: string;
  /** pass | fail | hold | inconclusive, as the record says (`detail.outcome`); `pass` for a gate-passed record. */
  readonly outcome?: string;
  readonly summary: string;
  /** Every number of the record's detail, flat (`frontend.errorRate`), whatever the gate or judge recorded. */
  readonly numbers: Readonly<Record<string, number>>;
}

export interface ReleaseReport {
  readonly executionArn: string;
  readonly environment: string;
  /** succeeded | rolled-back | failed | held | finish-incomplete | safe-failed, or running (no terminal record yet). */
  readonly outcome: string;
  readonly actor?: string;
  readonly strategy?: string;
  readonly services: readonly string[];
  readonly stable?: string;
  readonly candidate?: string;
  /** "frontend 1.0.0, backend 1.0.0": the stable color's versions when the release started. */
  readonly fromVersion?: string;
  readonly toVersion?: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationSeconds: number;
  readonly steps: readonly ReportStep[];
  readonly gates: readonly ReportGate[];
  /** Names of the alarms seen in ALARM during the release (gate records, refusals, the rollback Lambda's records). */
  readonly alarms: readonly string[];
  /** The terminal record's message when the release did not succeed. */
  readonly error?: string;
}

const OUTCOMES: Record<string, string> = {
  completed: 'succeeded',
  'rolled-back': 'rolled-back',
  failed: 'failed',
  held: 'held',
  'finish-incomplete': 'finish-incomplete',
  'safe-failed': 'safe-failed',
};

const eventOf = (e: LedgerEntry): string => String(e.action).replace(/^release:/, '');
const isStart = (e: LedgerEntry, arn?: string): boolean =>
  String(e.action) === 'release:started' && (arn === undefined || e.detail?.owner === arn || String(e.detail?.owner).endsWith(`:${arn}`));

/** Numeric leaves of `v`, keyed by path; an array element with a `service` name is keyed by it. */
function numbers(v: unknown, path: string, out: Record<string, number>, depth = 0): Record<string, number> {
  if (typeof v === 'number' && Number.isFinite(v)) out[path] = v;
  else if (v && typeof v === 'object' && depth < 4) {
    for (const [k, x] of Object.entries(v)) {
      const key = Array.isArray(v) && typeof (x as { service?: unknown })?.service === 'string' ? (x as { service: string }).service : k;
      numbers(x, path ? `${path}.${key}` : key, out, depth + 1);
    }
  }
  return out;
}

/**
 * Alarm names in ALARM a record names: its `alarmName` (the rollback Lambda's), `name=ALARM` in its text (a gate's
 * list), and any of `known` it mentions other than as `name=<another state>` (a gate failure, a hold, a refusal name
 * the alarms that fired in their messages).
 */
function alarmsOf(e: LedgerEntry, known: readonly string[]): string[] {
  const text = `${e.reason} ${JSON.stringify(e.detail ?? {})}`;
  const found = typeof e.detail?.alarmName === 'string' ? [e.detail.alarmName] : [];
  for (const m of text.matchAll(/([\w.-]+)=ALARM/g)) found.push(m[1]);
  const rest = text.replace(/[\w.-]+=\w+/g, '');
  return found.concat(known.filter((n) => rest.includes(n)));
}

/**
 * The report of one execution from ledger entries (any order): from its `release:started` record (the execution
 * `executionArn`, an ARN or its name; default the latest started) up to the next release's start. Undefined when no
 * such start is among the entries. `alarmNames`: the environment's rollback alarms, recognized in the records' text.
 */
export function summarizeRelease(entries: readonly LedgerEntry[], executionArn?: string, alarmNames: readonly string[] = []): ReleaseReport | undefined {
  const sorted = [...entries].sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
  let from = -1;
  for (let i = sorted.length - 1; i >= 0 && from < 0; i--) if (isStart(sorted[i], executionArn)) from = i;
  if (from < 0) return undefined;
  const next = sorted.findIndex((e, i) => i > from && isStart(e));
  const own = sorted.slice(from, next < 0 ? undefined : next).filter((e) => String(e.action) !== 'release:report');
  const start = own[0];
  const d = start.detail ?? {};
  const steps: ReportStep[] = [];
  const gates: ReportGate[] = [];
  const alarms = new Set<string>();
  let outcome = 'running';
  let error: string | undefined;
  let prev = Date.parse(start.time);
  for (const e of own) {
    const event = eventOf(e);
    for (const a of alarmsOf(e, alarmNames)) alarms.add(a);
    if (/gate|judge/.test(event)) {
      const o = e.detail?.outcome ?? e.detail?.verdict;
      gates.push({ event, at: e.time, outcome: typeof o === 'string' ? o : event.endsWith('passed') ? 'pass' : undefined, summary: String(e.detail?.summary ?? e.reason), numbers: numbers(e.detail, '', {}) });
    }
    if (String(e.action).startsWith('release:') || event.startsWith('rollback')) {
      const t = Date.parse(e.time);
      steps.push({ event, at: e.time, seconds: Math.round((t - prev) / 1000), message: e.reason.slice(0, 300) });
      prev = t;
    }
    if (OUTCOMES[event]) {
      outcome = OUTCOMES[event];
      error = outcome === 'succeeded' ? undefined : e.reason;
    }
  }
  const end = own[own.length - 1];
  return {
    executionArn: String(d.owner),
    environment: start.environment,
    outcome,
    actor: start.actor,
    ...(typeof d.strategy === 'string' ? { strategy: d.strategy } : {}),
    services: Array.isArray(d.services) ? d.services.map(String) : [],
    ...(typeof d.stable === 'string' ? { stable: d.stable, candidate: String(d.candidate) } : {}),
    ...(typeof d.fromVersion === 'string' ? { fromVersion: d.fromVersion, toVersion: String(d.toVersion) } : {}),
    startedAt: start.time,
    endedAt: end.time,
    durationSeconds: Math.round((Date.parse(end.time) - Date.parse(start.time)) / 1000),
    steps,
    gates,
    alarms: [...alarms],
    ...(error ? { error } : {}),
  };
}

/** One line a person reads: outcome, versions, duration, gates and alarms. */
export function reportLine(r: ReleaseReport): string {
  const gates = r.gates.map((g) => g.outcome ?? g.event).join(', ');
  return (
    `release of ${r.environment} ${r.outcome.toUpperCase()} after ${r.durationSeconds} s: ${r.candidate ?? '?'} ${r.toVersion ?? '?'} (was ${r.stable ?? '?'} ${r.fromVersion ?? '?'}); ` +
    `${r.gates.length} gate(s)${gates ? ` ${gates}` : ''}; alarms seen: ${r.alarms.join(', ') || 'none'}`
  );
}

/**
 * Reads this execution's ledger entries (newest first, back to its start; at most 500), and records the report
 * (ledger `release:report` and the topic). Never throws: a failed report is logged and the release goes on.
 */
export async function reportRelease(ctx: RecordContext, owner: string | undefined, startedAt: string | undefined): Promise<void> {
  // No start: the release never got past preflight (e.g. refused at the lock): it has no ledger entries to sum up.
  if (!owner || !startedAt) return;
  try {
    const entries: LedgerEntry[] = [];
    await findInLedger(ctx, (e) => (entries.push(e), isStart(e, owner) || e.time < startedAt || undefined), { maxEntries: 500 });
    const report = summarizeRelease(entries, owner, Object.values(ctx.topology.rollbackAlarmNames).flat());
    if (report) await record(ctx, { actor: report.actor ?? 'release', event: 'report', message: reportLine(report), detail: { ...report } });
  } catch (e) {
    logger.warn('could not write the release report', { owner, error: errorMessage(e) });
  }
}
