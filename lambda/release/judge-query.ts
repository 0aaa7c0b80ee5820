/**
 * The judge's CloudWatch query: per minute, for both colors of each service of a release, the requests, the failed
 * requests (lambda/shared/alb-metrics.ts `failedRequests`, the rollback alarms' definition) and the p99 of
 * TargetResponseTime, mapped into the judge's ColorSeries.
 *
 * The raw series are fetched (MetricStat only) and the failed requests computed here rather than with metric math in
 * CloudWatch: the same query count (the math needs the four raw series as queries too), and it works unchanged on the
 * emulator, whose GetMetricData evaluates no math expressions (README, "Release gates and the judge").
 */
import { GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery, type MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { ALB_NAMESPACE, ANSWERED_METRICS, failedRequests, loadBalancerDimension, REQUEST_COUNT, TARGET_RESPONSE_TIME, targetGroupDimension } from '../shared/alb-metrics';
import { type Color, serviceNamesOf, type Topology } from '../shared/topology';
import { call, type TrafficContext } from '../traffic/context';
import type { ColorSeries, ServiceSeries } from './judge';

/** One datapoint per minute: what the alarms use and the finest standard resolution the ALB publishes. */
export const PERIOD_SECONDS = 60;
/**
 * GetMetricData limits per call: 500 queries and 100,800 datapoints.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
 */
export const MAX_QUERIES_PER_CALL = 500;
export const MAX_DATAPOINTS_PER_CALL = 100_800;

/** The query window, whole minutes: [start, end). */
export interface MetricWindow {
  readonly start: Date;
  readonly end: Date;
}

export type JudgeQueryContext = Pick<TrafficContext, 'retry'> & { readonly cloudwatch: CloudWatchClient };

const MINUTE_MS = PERIOD_SECONDS * 1000;

/**
 * The window of a look: from the first whole minute after `since` (the step's shift: the minute of the shift holds
 * traffic from before it) to the last whole minute before `now` (the current minute is incomplete). Empty (end <= start)
 * when no whole minute lies between: the judge then sees no requests and says inconclusive.
 */
export function lookWindow(since: Date, now: Date): MetricWindow {
  const start = Math.ceil(since.getTime() / MINUTE_MS) * MINUTE_MS;
  const end = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS;
  return { start: new Date(start), end: new Date(Math.max(start, end)) };
}

export function minutesOf(window: MetricWindow): number {
  return Math.max(0, Math.round((window.end.getTime() - window.start.getTime()) / MINUTE_MS));
}

type Field = 'req' | 'ok2' | 'ok3' | 'ok4' | 'p99';
const FIELDS: readonly Field[] = ['req', 'ok2', 'ok3', 'ok4', 'p99'];
const METRIC_OF: Record<Field, { name: string; stat: string }> = {
  req: { name: REQUEST_COUNT, stat: 'Sum' },
  ok2: { name: ANSWERED_METRICS[0], stat: 'Sum' },
  ok3: { name: ANSWERED_METRICS[1], stat: 'Sum' },
  ok4: { name: ANSWERED_METRICS[2], stat: 'Sum' },
  p99: { name: TARGET_RESPONSE_TIME, stat: 'p99' },
};

/** What the release compares: the candidate against the stable color. */
export interface JudgeColors {
  readonly candidate: Color;
  readonly stable: Color;
}

/**
 * Every query of a look, in a stable order: per service (topology order), per color (candidate, stable), requests,
 * 2XX, 3XX, 4XX (Sum) and p99 TargetResponseTime, each with the dimensions exactly as the ALB publishes them
 * (LoadBalancer `app/…`, TargetGroup `targetgroup/…`). Ids `s<i>_<color>_<field>` (GetMetricData: lowercase first).
 */
export function judgeQueries(topology: Pick<Topology, 'services'>, colors: JudgeColors): MetricDataQuery[] {
  return serviceNamesOf(topology).flatMap((service, i) => {
    const svc = topology.services[service];
    const loadBalancer = loadBalancerDimension(svc.listenerRuleArn);
    return [colors.candidate, colors.stable].flatMap((color) =>
      FIELDS.map((field) => ({
        Id: `s${i}_${color}_${field}`,
        MetricStat: {
          Metric: {
            Namespace: ALB_NAMESPACE,
            MetricName: METRIC_OF[field].name,
            Dimensions: [
              { Name: 'TargetGroup', Value: targetGroupDimension(svc.colors[color].targetGroupArn) },
              { Name: 'LoadBalancer', Value: loadBalancer },
            ],
          },
          Period: PERIOD_SECONDS,
          Stat: METRIC_OF[field].stat,
        },
        ReturnData: true,
      })),
    );
  });
}

/** Splits queries into GetMetricData calls within both per-call limits (queries, and datapoints over the window). */
export function batchQueries<T>(queries: readonly T[], minutes: number): T[][] {
  const perCall = Math.max(1, Math.min(MAX_QUERIES_PER_CALL, Math.floor(MAX_DATAPOINTS_PER_CALL / Math.max(1, minutes))));
  const batches: T[][] = [];
  for (let i = 0; i < queries.length; i += perCall) batches.push(queries.slice(i, i + perCall));
  return batches;
}

/** Runs the queries (batched, every page of each batch) and returns each query's datapoints by id. */
export async function fetchMetricData(ctx: JudgeQueryContext, queries: readonly MetricDataQuery[], window: MetricWindow): Promise<Map<string, Map<number, number>>> {
  const byId = new Map<string, Map<number, number>>(queries.map((q) => [q.Id!, new Map()]));
  const minutes = minutesOf(window);
  if (minutes === 0) return byId;
  for (const batch of batchQueries(queries, minutes)) {
    let NextToken: string | undefined;
    do {
      const out = await call(ctx, 'cloudwatch:GetMetricData', () =>
        ctx.cloudwatch.send(
          new GetMetricDataCommand({ MetricDataQueries: batch, StartTime: window.start, EndTime: window.end, ScanBy: 'TimestampAscending', NextToken }),
        ),
      );
      for (const r of out.MetricDataResults ?? []) addResult(byId, r);
      NextToken = out.NextToken;
    } while (NextToken);
  }
  return byId;
}

function addResult(byId: Map<string, Map<number, number>>, r: MetricDataResult): void {
  const points = r.Id ? byId.get(r.Id) : undefined;
  if (!points) return;
  const timestamps = r.Timestamps ?? [];
  const values = r.Values ?? [];
  timestamps.forEach((t, i) => {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v)) points.set(new Date(t).getTime(), v);
  });
}

/** One color's ColorSeries from the fetched points: a minute without data has 0 requests and errors, no p99. */
export function colorSeries(points: Map<string, Map<number, number>>, prefix: string, window: MetricWindow): ColorSeries {
  const minutes = minutesOf(window);
  const requests: number[] = [];
  const errors: number[] = [];
  const p99Seconds: (number | undefined)[] = [];
  const at = (field: Field, t: number) => points.get(`${prefix}_${field}`)?.get(t);
  for (let m = 0; m < minutes; m++) {
    const t = window.start.getTime() + m * MINUTE_MS;
    const req = at('req', t) ?? 0;
    requests.push(req);
    errors.push(failedRequests(req, [at('ok2', t), at('ok3', t), at('ok4', t)]));
    p99Seconds.push(at('p99', t));
  }
  return { requests, errors, p99Seconds };
}

/** Reads both colors of every service of `topology` (scope it to the release's services) over `window`. */
export async function readJudgeSeries(ctx: JudgeQueryContext, topology: Pick<Topology, 'services'>, colors: JudgeColors, window: MetricWindow): Promise<ServiceSeries[]> {
  const queries = judgeQueries(topology, colors);
  const points = await fetchMetricData(ctx, queries, window);
  return serviceNamesOf(topology).map((service, i) => ({
    service,
    candidate: colorSeries(points, `s${i}_${colors.candidate}`, window),
    stable: colorSeries(points, `s${i}_${colors.stable}`, window),
  }));
}
