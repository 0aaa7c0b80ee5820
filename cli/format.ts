/** Human-readable rendering of the core's EnvironmentState. Pure. */
import { COLORS } from '../lambda/shared/topology';
import type { ReleaseRecord } from '../lambda/release/record';
import { EnvironmentState, LockInfo } from '../lambda/traffic';

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

