/**
 * What the release gate judges: the NEW color. Its rollback triggers, its composite and its comparisons against the
 * stable color must be out of ALARM. An alarm of the stable color is no fault of the new one: the release is held
 * (traffic stays where it is, the operator decides), never rolled back for it. The stable color's comparison alarms
 * and its composite are not reasons to hold: a comparison of the stable color says the new color is better, and the
 * composite is in ALARM for its triggers, which are judged one by one. `readGateAlarms` reads, `judgeGate` decides.
 */
import { Color, COLORS } from '../shared/topology';
import { readAlarms } from '../traffic';
import { ReleaseContext } from './context';

export type GateAlarmKind = 'composite' | 'trigger' | 'comparison';

export interface GateAlarm {
  readonly name: string;
  readonly color: Color;
  readonly kind: GateAlarmKind;
  /** OK | ALARM | INSUFFICIENT_DATA | MISSING (not found). */
  readonly state: string;
}

export interface GateVerdict {
  /** pass: go on; fail: roll back (the new color is at fault); hold: stop with traffic where it is. */
  readonly outcome: 'pass' | 'fail' | 'hold';
  /** Alarms of the new color in ALARM (any kind). */
  readonly candidateFiring: readonly GateAlarm[];
  /** Rollback triggers of the stable color in ALARM. */
  readonly stableFiring: readonly GateAlarm[];
  /** Stable-color comparisons and composite in ALARM: recorded, not acted on. */
  readonly ignored: readonly GateAlarm[];
}

/** Pure: the gate's decision for a release of `candidate` over `stable`. */
export function judgeGate(alarms: readonly GateAlarm[], release: { readonly candidate: Color; readonly stable: Color }): GateVerdict {
  const firing = alarms.filter((a) => a.state === 'ALARM');
  const candidateFiring = firing.filter((a) => a.color === release.candidate);
  const stableFiring = firing.filter((a) => a.color === release.stable && a.kind === 'trigger');
  const ignored = firing.filter((a) => a.color === release.stable && a.kind !== 'trigger');
  const outcome = candidateFiring.length > 0 ? 'fail' : stableFiring.length > 0 ? 'hold' : 'pass';
  return { outcome, candidateFiring, stableFiring, ignored };
}

export function describeAlarms(alarms: readonly GateAlarm[]): string {
  return alarms.map((a) => `${a.name} (${a.color} ${a.kind})`).join(', ');
}

/**
 * Every rollback alarm of both colors (the traffic core's reader) with its kind: a comparison when the topology lists
 * it in `comparisonAlarmNames` (a subset of `rollbackAlarmNames`), a composite, or a trigger.
 */
export async function readGateAlarms(ctx: ReleaseContext): Promise<GateAlarm[]> {
  const comparisons = new Set(COLORS.flatMap((c) => (ctx.topology.comparisonAlarmNames?.[c] ?? []).map((name) => `${c}:${name}`)));
  return (await readAlarms(ctx)).map((a) => ({
    name: a.name,
    color: a.color,
    kind: comparisons.has(`${a.color}:${a.name}`) ? 'comparison' : a.composite ? 'composite' : 'trigger',
    state: a.state,
  }));
}
