/** Human-readable rendering of the core's EnvironmentState. Pure. */
import { COLORS, SERVICES } from '../lambda/shared/topology';
import { EnvironmentState } from '../lambda/traffic';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function formatStatus(state: EnvironmentState, env: string): string {
  const rows = [['SERVICE', 'COLOR', 'WEIGHT', 'SHARE', 'HEALTHY/REGISTERED PER AZ', 'DESIRED/RUNNING', 'VERSION']];
  for (const s of SERVICES) {
    for (const c of COLORS) {
      const cs = state.services[s].colors[c];
      const azs = Object.entries(cs.targets.byAz)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([az, h]) => `${az} ${h.healthy}/${h.healthy + h.unhealthy}`)
        .join(', ');
      rows.push([
        s,
        c,
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
    `live color: ${state.liveColor}`,
    `idle color: ${state.idleColor}`,
    `release lock: ${lock}`,
    'rollback alarms:',
    ...alarms,
    '',
    `to release a new version, deploy it to the idle color (${state.idleColor}) by editing:`,
    ...SERVICES.map((s) => `  config/${env}.ts → services.${s}.colors.${state.idleColor}.version`),
  ].join('\n');
}
