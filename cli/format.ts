/** Human-readable rendering of the core's EnvironmentState. Pure. */
import { COLORS } from '../lambda/shared/topology';
import type { ReleaseRecord } from '../lambda/release/record';
import type { ReleaseReport } from '../lambda/release/report';
import { Console } from 'node:console';
import { EnvironmentState, LockInfo, logger } from '../lambda/traffic';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function formatStatus(state: EnvironmentState, env: string): string {
  const rows = [['SERVICE', 'COLOR', 'ROLE', 'WEIGHT', 'SHARE', 'HEALTHY/REGISTERED PER AZ', 'DESIRED/RUNNING', 'VERSION']];
  // Services in topology order (config order); each has its own live and idle color.
  const services = Object.keys(state.services);
  for (const s of services) {
    for (const c of COLORS) {
      const cs = state.services[s].colors[c];
      const azs = Object.entries(cs.targets.byAz)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([az, h]) => `${az} ${h.healthy}/${h.healthy + h.unhealthy}`)
        .join(', ');
      rows.push([
        s,
        c,
        state.services[s].liveColor === c ? 'live' : 'idle',
        String(cs.weight),
        `${Math.round(cs.percent * 10) / 10}%`,
        azs || 'no targets',
        cs.found ? `${cs.desiredCount}/${cs.runningCount}` : 'service not found',
        cs.version,
      ]);
    }
  }
  const lock = state.lock
    ? `${state.lock.owner} until ${new Date(state.lock.expiresAt * 1000).toISOString()}${state.lock.expired ? ' (expired)' : ''}`
    : 'free';
  const alarms =
    state.alarms.length === 0
      ? ['  (no rollback alarms configured)']
      : state.alarms.map((a) => `  ${a.state.padEnd(17)} ${a.name} (${a.color})`);
  return [
    `environment ${state.environment}  (read ${state.readAt})`,
    '',
    table(rows),
    '',
    `live color: ${describeLive(state)}`,
    `release lock: ${lock}`,
    'rollback alarms:',
    ...alarms,
    '',
    'to release a new version of a service, deploy it to its idle color by editing:',
    ...services.map((s) => `  config/${env}.ts → services.${s}.colors.${state.services[s].idleColor}.version`),
  ].join('\n');
}

/** "blue (every service)" or, when services differ, each service's live color. */
function describeLive(state: EnvironmentState): string {
  const services = Object.values(state.services);
  if (services.every((s) => s.liveColor === state.liveColor)) return `${state.liveColor} (every service)`;
  return services.map((s) => `${s.service} ${s.liveColor}`).join(', ');
}

/** Lines explaining the release record: why a lock is held after a release ended, and what clears it (release and traffic status). */
export function explainRecord(env: string, rec: ReleaseRecord | undefined, lock: LockInfo | undefined): string[] {
  const lines: string[] = [];
  // Only a record that explains something: a lock kept on purpose, an unfinished release.
  if (rec?.status !== 'safe-failed' && rec?.status !== 'finish-incomplete') return lines;
  lines.push(`release record: ${rec.executionArn} ${rec.status} (updated ${rec.updatedAt})${rec.error ? `: ${rec.error}` : ''}`);
  if (rec?.status === 'safe-failed') {
    lines.push(
      `  the safe state of that release FAILED${rec.done?.length ? ` after: ${rec.done.join('; ')}` : ' before changing anything'}; ` +
        `traffic may be split or on a color being scaled down. Check: npm run traffic -- status --env ${env}` +
        (rec.stable ? `; put traffic on ${rec.stable} by hand: npm run traffic -- rollback --to ${rec.stable} --env ${env}` : ''),
    );
    if (lock && lock.owner === rec.executionArn) {
      lines.push(`  the release lock is KEPT on purpose (no release starts on a half-rolled-back environment); once traffic is safe: npm run release -- unlock --env ${env}`);
    }
  } else if (rec?.status === 'finish-incomplete') {
    lines.push(
      `  the release reached 100% on ${rec.stable ?? 'the new color'} but its finish did not complete; nothing was rolled back. ` +
        `Finish by hand: npm run traffic -- scale --color ${rec.candidate ?? '<old color>'} --count 0 --env ${env}`,
    );
  }
  return lines;
}


/** The JSON documents of `--json` carry this version: a consumer can refuse a shape it does not know. */
export const JSON_SCHEMA_VERSION = 1;

/** One JSON document for stdout (`--json`): pretty-printed, nothing else on stdout. */
export function toJson(doc: unknown): string {
  return JSON.stringify(doc, null, 2);
}

/** The release record without the approval task token (a credential to approve the release, not status). */
export function publicRecord(rec: ReleaseRecord | undefined): Omit<ReleaseRecord, 'taskToken'> | null {
  if (!rec) return null;
  const { taskToken, ...rest } = rec;
  void taskToken;
  return rest;
}

/**
 * `npm run traffic -- status --json`: `{ schemaVersion, command: 'traffic status', environment, state, releaseRecord }`;
 * `state` is the traffic core's EnvironmentState (lambda/traffic/state.ts): per service its weights, live and idle
 * color, and per color the weight, percent, targets per AZ, desired/running counts and version; alarms; lock.
 */
export function trafficStatusJson(state: EnvironmentState, rec: ReleaseRecord | undefined) {
  return { schemaVersion: JSON_SCHEMA_VERSION, command: 'traffic status', environment: state.environment, state, releaseRecord: publicRecord(rec) };
}

/**
 * Sends the structured logs (Powertools writes info and debug to stdout) to stderr, so that with `--json` stdout holds
 * the one JSON document and nothing else, whatever POWERTOOLS_LOG_LEVEL asks for.
 */
export function logsToStderr(): void {
  (logger as unknown as { console: Console }).console = new Console({ stdout: process.stderr, stderr: process.stderr });
}

/** The release report for a person: outcome and versions, each step with its duration, gates with their numbers, alarms. */
export function formatReport(r: ReleaseReport): string[] {
  const dur = (s: number) => (s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`);
  return [
    `release ${r.executionArn}`,
    `  ${r.environment}: ${r.outcome.toUpperCase()} after ${dur(r.durationSeconds)} (${r.startedAt} → ${r.endedAt})${r.strategy ? `, ${r.strategy}` : ''}, by ${r.actor ?? 'unknown'}`,
    `  ${r.candidate ?? '?'} ${r.toVersion ?? '?'} (was ${r.stable ?? '?'} ${r.fromVersion ?? '?'})`,
    ...(r.error ? [`  why: ${r.error}`] : []),
    'steps (time since the previous step):',
    ...r.steps.map((s) => `  ${s.at.slice(11, 19)}  +${dur(s.seconds).padEnd(12)} ${s.event}: ${s.message.slice(0, 160)}`),
    'gates:',
    ...(r.gates.length === 0 ? ['  none'] : r.gates.map((g) => `  ${g.at.slice(11, 19)}  ${(g.outcome ?? g.event).toUpperCase()}  ${g.summary.slice(0, 160)}${Object.keys(g.numbers).length ? `  [${Object.entries(g.numbers).map(([k, v]) => `${k}=${v}`).join(', ')}]` : ''}`)),
    `alarms seen: ${r.alarms.join(', ') || 'none'}`,
  ];
}
