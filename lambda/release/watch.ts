/**
 * The bake's watch (README "Crash detection"): during a bake the state machine polls the new color's target health
 * every few seconds instead of waiting blind, so a new color whose targets fail their health checks is rolled back
 * within two polls rather than after the one-minute metrics and the bake. `judgeTargets` decides (pure), `watch` reads.
 */
import { DescribeTargetHealthCommand, TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ServiceName, serviceNamesOf } from '../shared/topology';
import { call, nowOf } from '../traffic';
import { ReleaseContext } from './context';
import { CandidateUnhealthy } from './errors';
import type { ReleaseState } from './steps';

/** The loop's state, `$.watch`: set by the state machine when the bake starts, returned updated by every poll. */
export interface WatchState {
  /** When the bake started (the loop's first state's entered time). */
  readonly since: string;
  /** Length of the bake. */
  readonly seconds: number;
  /** Percent of a service's (non-draining) targets in state `unhealthy` that counts as a bad poll. */
  readonly percent: number;
  /** Consecutive bad polls that fail the bake. */
  readonly polls: number;
  /** Consecutive bad polls so far. */
  readonly strikes: number;
  /** The bake's time is up: go on to the gate. */
  readonly done?: boolean;
}

/**
 * Services whose targets are unhealthy beyond `percent`: `unhealthy` targets only — `initial` (a replacement task
 * still passing its first checks) and `draining` are not failures; none registered at all is (nothing serves).
 */
export function judgeTargets(byService: Readonly<Record<ServiceName, readonly TargetHealthDescription[]>>, percent: number): string[] {
  const bad: string[] = [];
  for (const [s, ds] of Object.entries(byService)) {
    const live = ds.filter((d) => d.TargetHealth?.State !== 'draining');
    const unhealthy = live.filter((d) => d.TargetHealth?.State === 'unhealthy').length;
    if (live.length === 0 || (unhealthy * 100) / live.length >= percent) bad.push(`${s} ${unhealthy}/${live.length} unhealthy`);
  }
  return bad;
}

/** One poll: the new color's target health of every service of the release. Throws CandidateUnhealthy on the last strike. */
export async function watch(ctx: ReleaseContext, release: ReleaseState, w: WatchState): Promise<WatchState> {
  const services = serviceNamesOf(ctx.topology);
  const out = await Promise.all(
    services.map((s) =>
      call(ctx, 'elbv2:DescribeTargetHealth', () =>
        ctx.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: ctx.topology.services[s].colors[release.candidate].targetGroupArn })),
      ),
    ),
  );
  const bad = judgeTargets(Object.fromEntries(services.map((s, i) => [s, out[i].TargetHealthDescriptions ?? []])), w.percent);
  const strikes = bad.length ? w.strikes + 1 : 0;
  if (strikes >= w.polls) throw new CandidateUnhealthy(`${release.candidate} unhealthy in ${strikes} polls in a row: ${bad.join(', ')}`);
  return { ...w, strikes, done: nowOf(ctx).getTime() - Date.parse(w.since) >= w.seconds * 1000 };
}
