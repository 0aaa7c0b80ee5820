/**
 * CloudWatch metrics as Embedded Metric Format log lines (no PutMetricData call, no extra dependency, no IAM
 * permission): Lambda's log pipeline turns each line into metric data points. Used by the rollback and release
 * Lambdas for their failure metrics (names in ./metrics.ts, the contract the CDK app alarms on).
 *
 * Why not Powertools' Metrics utility: it buffers metrics and writes them when the handler returns
 * (publishStoredMetrics). Failure metrics matter most when the invocation does NOT end normally — a crash or a timeout
 * right after the failure — so each line is written the moment the failure is known. The format is the same EMF
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 */
import { METRICS_NAMESPACE } from './metrics';

/** Where EMF lines go. Default: stdout, one line each (what Lambda's log pipeline parses). */
export type MetricSink = (line: string) => void;

export const stdoutSink: MetricSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * One EMF line: namespace SafeReleases, dimension Environment, one metric per entry of `values` (Count, or
 * Milliseconds for the names in `milliseconds`), `properties` as searchable log fields.
 */
export function emfLine(
  environment: string,
  values: Readonly<Record<string, number>>,
  properties: Record<string, unknown> = {},
  now: Date = new Date(),
  milliseconds: readonly string[] = [],
): string {
  const metrics = Object.keys(values).map((name) => ({ Name: name, Unit: milliseconds.includes(name) ? 'Milliseconds' : 'Count' }));
  return JSON.stringify({
    ...properties,
    _aws: { Timestamp: now.getTime(), CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['Environment']], Metrics: metrics }] },
    Environment: environment,
    ...values,
  });
}
