/**
 * The rollback Lambda's metrics, EMF lines written by lambda/shared/emf.ts the moment they are known.
 *
 * Namespace SafeReleases, dimension Environment:
 *   RollbackFailed      1 when traffic could not be moved back to the stable color (page someone)
 *   RollbackIncomplete  1 when traffic is back on the stable color but a later step failed
 *   RollbackCompleted   1 per completed automated rollback
 *   RollbackTimeToSafe  ms from the start of the invocation to traffic verified on the stable color
 */
import { emfLine as sharedEmfLine } from '../shared/emf';
import { METRICS_NAMESPACE } from '../shared/metrics';

export { type MetricSink, stdoutSink } from '../shared/emf';

/** From the metrics contract the CDK app alarms on (lambda/shared/metrics.ts). */
export const METRIC_NAMESPACE = METRICS_NAMESPACE;

export type RollbackMetric = 'RollbackFailed' | 'RollbackIncomplete' | 'RollbackCompleted';

export function emfLine(
  environment: string,
  values: Partial<Record<RollbackMetric, number>> & { RollbackTimeToSafe?: number },
  properties: Record<string, unknown> = {},
  now: Date = new Date(),
): string {
  return sharedEmfLine(environment, values as Record<string, number>, properties, now, ['RollbackTimeToSafe']);
}
