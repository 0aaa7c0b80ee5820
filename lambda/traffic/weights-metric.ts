/**
 * The live listener-rule weights as a CloudWatch metric, for the environment dashboard.
 *
 * After a shift has written AND verified new weights (lambda/traffic/shift.ts), one datum per service and color:
 *
 *   Namespace  SafeReleases                      (WEIGHTS_METRIC_NAMESPACE)
 *   Metric     TrafficWeightPercent              (TRAFFIC_WEIGHT_METRIC_NAME)
 *   Dimensions Environment, Service, Color       (TRAFFIC_WEIGHT_METRIC_DIMENSIONS)
 *   Value      the color's share of the service's traffic in percent (weight / total * 100), Unit Percent
 *
 * Data points are sent only when the weights changed, so the series is sparse: a dashboard should carry the last value
 * forward (metric math `FILL(m, REPEAT)`) or show it as a single value.
 *
 * Publishing is best effort and never fails the shift: one attempt, bounded by a timeout, errors logged as a warning.
 * The caller's role needs `cloudwatch:PutMetricData` (condition `cloudwatch:namespace` = `SafeReleases`).
 */
import { MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { METRICS_NAMESPACE, TRAFFIC_WEIGHT_METRIC } from '../shared/metrics';
import { COLORS } from '../shared/topology';
import { ContextWith, nowOf } from './context';
import { errorMessage } from './errors';
import type { WeightsByService } from './ledger';
import { logger } from './logger';
import { percentOf } from './weights';

/** From the metrics contract the CDK app alarms on and graphs (lambda/shared/metrics.ts). */
export const WEIGHTS_METRIC_NAMESPACE = METRICS_NAMESPACE;
export const TRAFFIC_WEIGHT_METRIC_NAME = TRAFFIC_WEIGHT_METRIC;
/** Dimension names of every datum, in this order. */
export const TRAFFIC_WEIGHT_METRIC_DIMENSIONS = ['Environment', 'Service', 'Color'] as const;
/** Upper bound of the single PutMetricData attempt, so a slow CloudWatch never holds up the caller for long. */
export const WEIGHTS_METRIC_TIMEOUT_MS = 2000;

/** The datums for the given (verified) weights: one per service present and color, share in percent. Pure. */
export function trafficWeightDatums(environment: string, weights: WeightsByService, timestamp: Date): MetricDatum[] {
  return Object.keys(weights).filter((s) => weights[s]).flatMap((service) =>
    COLORS.map((color) => ({
      MetricName: TRAFFIC_WEIGHT_METRIC_NAME,
      Dimensions: [
        { Name: 'Environment', Value: environment },
        { Name: 'Service', Value: service },
        { Name: 'Color', Value: color },
      ],
      Timestamp: timestamp,
      Value: percentOf(weights[service]!, color),
      Unit: 'Percent' as const,
    })),
  );
}

/**
 * Publishes the verified weights of a shift. Never throws: a failure is logged as a warning and reported as false.
 * One attempt (the clients' SDK-level attempts are 1; the core's retry policy is not applied), bounded by timeoutMs.
 */
export async function publishTrafficWeights(
  ctx: ContextWith<'cloudwatch'>,
  weights: WeightsByService,
  options: { readonly timeoutMs?: number } = {},
): Promise<boolean> {
  const environment = ctx.topology.environment;
  try {
    const datums = trafficWeightDatums(environment, weights, nowOf(ctx));
    if (datums.length === 0) return true;
    await ctx.clients.cloudwatch.send(new PutMetricDataCommand({ Namespace: WEIGHTS_METRIC_NAMESPACE, MetricData: datums }), {
      abortSignal: AbortSignal.timeout(options.timeoutMs ?? WEIGHTS_METRIC_TIMEOUT_MS),
    });
    return true;
  } catch (e) {
    logger.warn('could not publish the traffic weights metric (the shift itself succeeded)', {
      environment,
      namespace: WEIGHTS_METRIC_NAMESPACE,
      metric: TRAFFIC_WEIGHT_METRIC_NAME,
      weights,
      error: errorMessage(e),
    });
    return false;
  }
}
