/**
 * CloudWatch metrics of the rollback Lambda as Embedded Metric Format log lines (no PutMetricData call, no extra
 * dependency, no IAM permission): Lambda's log pipeline turns each line into metric data points.
 *
 * Why not Powertools' Metrics utility: it buffers metrics and writes them when the handler returns
 * (publishStoredMetrics). The failure metrics here matter most when the invocation does NOT end normally — a crash or
 * a timeout right after the failure — so each line is written the moment the failure is known. The format is the same
 * EMF (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 *
 * Namespace SafeReleases, dimension Environment:
 *   RollbackFailed      1 when traffic could not be moved back to the stable color (page someone)
 *   RollbackIncomplete  1 when traffic is back on the stable color but a later step failed
 *   RollbackCompleted   1 per completed automated rollback
 *   RollbackTimeToSafe  ms from the start of the invocation to traffic verified on the stable color
 */
import { METRICS_NAMESPACE } from '../shared/metrics';

/** From the metrics contract the CDK app alarms on (lambda/shared/metrics.ts). */
export const METRIC_NAMESPACE = METRICS_NAMESPACE;

export type RollbackMetric = 'RollbackFailed' | 'RollbackIncomplete' | 'RollbackCompleted';

/** Where EMF lines go. Default: stdout, one line each (what Lambda's log pipeline parses). */
export type MetricSink = (line: string) => void;

export const stdoutSink: MetricSink = (line) => {
  process.stdout.write(`${line}\n`);
};

export function emfLine(
  environment: string,
  values: Partial<Record<RollbackMetric, number>> & { RollbackTimeToSafe?: number },
  properties: Record<string, unknown> = {},
  now: Date = new Date(),
): string {
  const metrics = Object.keys(values).map((name) => ({
    Name: name,
    Unit: name === 'RollbackTimeToSafe' ? 'Milliseconds' : 'Count',
  }));
  return JSON.stringify({
    ...properties,
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [['Environment']], Metrics: metrics }],
    },
    Environment: environment,
    ...values,
  });
}
