/**
 * Release-local helpers of the failure-safety rules (steps.ts):
 * - the release's own last write compared with the weights (an operator override stops the release, never undone);
 * - the rollback Lambda's marker (did it already move traffic back for this release?);
 * - completed releases in the ledger (refuse a downgrade unless forced);
 * - the ReleaseSafeStateFailed metric as an Embedded Metric Format line (lambda/shared/emf.ts).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { emfLine } from '../shared/emf';
import { RELEASE_METRICS } from '../shared/metrics';

export { type MetricSink, stdoutSink } from '../shared/emf';
import { Color, ServiceName, SERVICE_NAME_PATTERN, serviceNamesOf } from '../shared/topology';
import { markerKey, type RollbackMarker } from '../rollback/marker';
import { call, findInLedger, formatWeights, fromItem, LedgerEntry, percentOf, readRules, toAttributes, TrafficContext } from '../traffic';
import { OperatorOverride } from './errors';

/** The part of the release state these checks need. */
export interface OwnWrite {
  readonly stable: Color;
  readonly candidate: Color;
  /** The candidate's percent this release last wrote (0 before the first shift). */
  readonly percent: number;
}

function isAt(w: { blue: number; green: number }, candidate: Color, percent: number): boolean {
  const other: Color = candidate === 'blue' ? 'green' : 'blue';
  if (percent === 0) return w[candidate] === 0 && w[other] > 0;
  if (percent === 100) return w[other] === 0 && w[candidate] > 0;
  return Math.abs(percentOf(w, candidate) - percent) < 0.5;
}

/**
 * Reads the rules and throws OperatorOverride unless every service's weights are the release's own last write
 * (`release.percent` of the candidate) or, when given, `alsoAccept` (the step's own target: a retried invocation whose
 * first attempt already wrote it). Returns the rules read.
 */
export async function expectOwnWeights(ctx: TrafficContext, release: OwnWrite, where: string, alsoAccept?: number) {
  const rules = await readRules(ctx);
  const differ = serviceNamesOf(ctx.topology).filter((s) => !isAt(rules[s].weights, release.candidate, release.percent) && !(alsoAccept !== undefined && isAt(rules[s].weights, release.candidate, alsoAccept)));
  if (differ.length > 0) {
    const expected = `${release.candidate} ${release.percent}%, ${release.stable} ${100 - release.percent}%`;
    throw new OperatorOverride(
      `${where}: the weights are not what this release last wrote (${expected}): ` +
        differ.map((s) => `${s} is ${formatWeights(rules[s].weights)}`).join(', ') +
        `; someone else moved traffic (e.g. npm run traffic -- rollback). Stopped without moving traffic or scaling; the operator's change stands`,
    );
  }
  return rules;
}

/** The rollback Lambda's marker of `color` (the color it rolled back FROM), read with one GetItem. */
export async function readRollbackMarker(ctx: TrafficContext, color: Color): Promise<RollbackMarker | undefined> {
  const out = await call(ctx, 'dynamodb:GetItem(rollback marker)', () =>
    ctx.clients.dynamodb.send(
      new GetItemCommand({ TableName: ctx.topology.lockTableName, Key: toAttributes({ pk: markerKey(ctx.topology.environment, color) }), ConsistentRead: true }),
    ),
  );
  return fromItem<RollbackMarker>(out.Item);
}

/** A completed automated rollback of `candidate` since `startedAt` (ISO), or undefined. */
export function rollbackSince(marker: RollbackMarker | undefined, startedAt: string | undefined): RollbackMarker | undefined {
  if (!marker || marker.state !== 'done' || marker.completedAtMs === undefined || !startedAt) return undefined;
  const since = Date.parse(startedAt);
  return Number.isFinite(since) && marker.completedAtMs >= since ? marker : undefined;
}

export function describeRollback(m: RollbackMarker, to: Color): string {
  return `the rollback Lambda moved traffic back to ${to} at ${m.completedAt ?? new Date(m.completedAtMs ?? 0).toISOString()}${m.alarmName ? ` (alarm ${m.alarmName})` : ''}`;
}

/** "frontend 1.0.0, backend 1.0.0" (steps.ts versionsOf) → { frontend: '1.0.0', backend: '1.0.0' }. */
export function parseVersions(text: unknown): Partial<Record<ServiceName, string>> {
  const out: Partial<Record<ServiceName, string>> = {};
  if (typeof text !== 'string') return out;
  for (const part of text.split(',')) {
    const [service, version] = part.trim().split(/\s+/);
    if (service && SERVICE_NAME_PATTERN.test(service) && version) out[service] = version;
  }
  return out;
}

/** How far back the downgrade check reads the ledger. */
export const HISTORY_ENTRIES = 500;

/** Completed releases (`release:completed`) among the newest `max` ledger entries, newest first (the core's paged walk). */
export async function readCompletedReleases(ctx: TrafficContext, max = HISTORY_ENTRIES): Promise<LedgerEntry[]> {
  const found: LedgerEntry[] = [];
  await findInLedger(
    ctx,
    (e) => {
      if ((e.action as string) === 'release:completed') found.push(e);
      return undefined; // keep walking: every completed release counts
    },
    { maxEntries: max },
  );
  return found;
}

/**
 * The services of `candidate` whose version is one a completed release replaced (a version that changed in that
 * release), unless it is also the current stable version (nothing changes for that service). Empty: no downgrade.
 */
export function downgrades(
  completed: readonly LedgerEntry[],
  candidate: Partial<Record<ServiceName, string>>,
  stable: Partial<Record<ServiceName, string>>,
): { service: ServiceName; version: string; replacedAt: string }[] {
  const found: { service: ServiceName; version: string; replacedAt: string }[] = [];
  for (const s of Object.keys(candidate)) {
    const v = candidate[s];
    if (!v || v === 'unknown' || v === stable[s]) continue;
    for (const e of completed) {
      const from = parseVersions(e.detail?.fromVersion)[s];
      const to = parseVersions(e.detail?.toVersion)[s];
      if (from === v && to !== v) {
        found.push({ service: s, version: v, replacedAt: e.time });
        break;
      }
    }
  }
  return found;
}

/** The ReleaseSafeStateFailed metric (namespace SafeReleases, dimension Environment) as one EMF line. */
export function safeStateFailedLine(environment: string, properties: Record<string, unknown>, now: Date): string {
  return emfLine(environment, { [RELEASE_METRICS.safeStateFailed]: 1 }, properties, now);
}
