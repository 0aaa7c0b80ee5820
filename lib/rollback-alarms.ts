import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../config';
import { COLORS, type Color, otherColor, SERVICES, type ServiceName } from '../lambda/shared/topology';
import type { ColoredService } from './services';

/**
 * The contract with the backend's structured logs (README, "Log contract"): one JSON object per line,
 * with `color` set from APP_COLOR.
 */
export const LOG_EVENTS = {
  databaseError: { pattern: '{ $.event = "db_error" }', metric: 'DatabaseErrors' },
  payment: { pattern: '{ $.event = "payment" }', metric: 'PaymentAttempts' },
  paymentFailure: { pattern: '{ ($.event = "payment") && ($.outcome = "failed") }', metric: 'PaymentFailures' },
  order: { pattern: '{ $.event = "order_placed" }', metric: 'Orders' },
} as const;

const MINUTE = Duration.minutes(1);

export interface RollbackAlarmsProps {
  readonly environment: string;
  readonly config: MonitoringConfig;
  readonly services: Readonly<Record<ServiceName, ColoredService>>;
}

/** The rollback triggers of one color. */
export interface ColorAlarms {
  /** Every trigger, each also in `composite`. */
  readonly triggers: readonly cloudwatch.IAlarm[];
  /** New color worse than the stable one on the same load; used by the release gates too. */
  readonly comparisons: readonly cloudwatch.IAlarm[];
  /** Rolls up every trigger of the color: its ALARM starts the automated rollback. */
  readonly composite: cloudwatch.CompositeAlarm;
}

/**
 * The plan's automated rollback triggers, per color: error rate, average response time, database
 * errors and payment failures, plus a fast-burn error rate and new-versus-stable comparisons.
 * Rates have a minimum-traffic guard, so a handful of requests at night cannot roll back a release;
 * missing data (a color without traffic) is never a breach.
 */
export class RollbackAlarms extends Construct {
  readonly colors: Readonly<Record<Color, ColorAlarms>>;
  /** Namespace of the metrics taken from the backend's logs. */
  readonly logMetricsNamespace: string;

  constructor(scope: Construct, id: string, props: RollbackAlarmsProps) {
    super(scope, id);
    this.logMetricsNamespace = `SafeReleases/${props.environment}`;
    for (const color of COLORS) this.addLogMetricFilters(color, props.services.backend.colors[color].logGroup);

    const colors = {} as Record<Color, ColorAlarms>;
    for (const color of COLORS) colors[color] = this.colorAlarms(color, props);
    this.colors = colors;
  }

  /** Every rollback alarm of a color: its composite first, then each trigger. */
  alarmsOf(color: Color): cloudwatch.IAlarm[] {
    return [this.colors[color].composite, ...this.colors[color].triggers];
  }

  /** A metric taken from the backend's logs, for one color. */
  logMetric(name: string, color: Color, period: Duration = MINUTE): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: this.logMetricsNamespace, metricName: name, dimensionsMap: { Color: color }, statistic: 'Sum', period });
  }

  private addLogMetricFilters(color: Color, logGroup: logs.ILogGroup): void {
    for (const [key, e] of Object.entries(LOG_EVENTS)) {
      new logs.MetricFilter(this, `${color}-${key}`, {
        logGroup,
        filterPattern: logs.FilterPattern.literal(e.pattern),
        metricNamespace: this.logMetricsNamespace,
        metricName: e.metric,
        metricValue: '1',
        dimensions: { Color: '$.color' },
        unit: cloudwatch.Unit.COUNT,
      });
    }
  }

  private colorAlarms(color: Color, props: RollbackAlarmsProps): ColorAlarms {
    const m = props.config;
    const scope = new Construct(this, color === 'blue' ? 'Blue' : 'Green');
    const triggers: cloudwatch.Alarm[] = [];
    const comparisons: cloudwatch.Alarm[] = [];
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, minutes: number, periods = minutes) =>
      new cloudwatch.Alarm(scope, id, {
        alarmDescription: `${props.environment} ${color}: ${description}`,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    for (const service of SERVICES) {
      const tg = props.services[service].colors[color].targetGroup;
      const other = props.services[service].colors[otherColor(color)].targetGroup;
      const name = service === 'frontend' ? 'Frontend' : 'Backend';
      const rate = errorRate(tg, m.minRequestsPerMinute);
      triggers.push(
        alarm(`${name}ErrorRate`, `${service} 5XX > ${m.errorRatePercent}% of requests for ${m.errorRateMinutes} min (plan)`, rate, m.errorRatePercent, m.errorRateMinutes),
        alarm(`${name}FastBurn`, `${service} 5XX >= ${m.fastBurnErrorRatePercent}% for ${m.fastBurnMinutes} min (fast burn)`, rate, m.fastBurnErrorRatePercent, m.fastBurnMinutes),
        alarm(
          `${name}Latency`,
          `${service} average response time > ${m.latencySeconds} s for ${m.latencyMinutes} min (plan)`,
          new cloudwatch.MathExpression({
            expression: `IF(FILL(requests, 0) >= ${m.minRequestsPerMinute}, latency, 0)`,
            usingMetrics: { requests: tg.metrics.requestCount({ period: MINUTE }), latency: tg.metrics.targetResponseTime({ period: MINUTE, statistic: 'Average' }) },
            period: MINUTE,
            label: `${service} ${color} average response time (s)`,
          }),
          m.latencySeconds,
          m.latencyMinutes,
        ),
      );
      const c = m.comparison;
      comparisons.push(
        alarm(
          `${name}ErrorRateVsStable`,
          `${service} error rate > ${c.errorRatePoints} points above ${otherColor(color)} on the same load for ${c.minutes} min`,
          new cloudwatch.MathExpression({
            expression:
              `IF(FILL(reqNew, 0) >= ${c.minRequestsPerMinute} AND FILL(reqOld, 0) >= ${c.minRequestsPerMinute}, ` +
              '100 * FILL(errNew, 0) / reqNew - 100 * FILL(errOld, 0) / reqOld, 0)',
            usingMetrics: {
              reqNew: tg.metrics.requestCount({ period: MINUTE }),
              errNew: tg.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: MINUTE }),
              reqOld: other.metrics.requestCount({ period: MINUTE }),
              errOld: other.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: MINUTE }),
            },
            period: MINUTE,
            label: `${service} ${color} minus ${otherColor(color)} error rate (points)`,
          }),
          c.errorRatePoints,
          c.minutes,
        ),
        alarm(
          `${name}P99VsStable`,
          `${service} p99 latency > ${c.p99LatencyRatio}x ${otherColor(color)} on the same load for ${c.minutes} min`,
          new cloudwatch.MathExpression({
            expression: `IF(FILL(reqNew, 0) >= ${c.minRequestsPerMinute} AND FILL(reqOld, 0) >= ${c.minRequestsPerMinute} AND p99Old > 0, p99New / p99Old, 0)`,
            usingMetrics: {
              reqNew: tg.metrics.requestCount({ period: MINUTE }),
              p99New: tg.metrics.targetResponseTime({ period: MINUTE, statistic: 'p99' }),
              reqOld: other.metrics.requestCount({ period: MINUTE }),
              p99Old: other.metrics.targetResponseTime({ period: MINUTE, statistic: 'p99' }),
            },
            period: MINUTE,
            label: `${service} ${color} p99 over ${otherColor(color)} p99`,
          }),
          c.p99LatencyRatio,
          c.minutes,
        ),
      );
    }

    triggers.push(
      alarm('DatabaseErrors', `backend database errors > ${m.databaseErrorsPerMinute} per minute (plan)`, this.logMetric(LOG_EVENTS.databaseError.metric, color), m.databaseErrorsPerMinute, 1),
    );
    const window = Duration.minutes(m.paymentWindowMinutes);
    triggers.push(
      alarm(
        'PaymentFailureRate',
        `payment failures > ${m.paymentFailurePercent}% of at least ${m.paymentMinAttempts} attempts in ${m.paymentWindowMinutes} min (plan)`,
        new cloudwatch.MathExpression({
          expression: `IF(FILL(attempts, 0) >= ${m.paymentMinAttempts}, 100 * FILL(failures, 0) / attempts, 0)`,
          usingMetrics: {
            attempts: this.logMetric(LOG_EVENTS.payment.metric, color, window),
            failures: this.logMetric(LOG_EVENTS.paymentFailure.metric, color, window),
          },
          period: window,
          label: `payment failure rate ${color} (%)`,
        }),
        m.paymentFailurePercent,
        m.paymentWindowMinutes,
        1,
      ),
    );
    const all = [...triggers, ...comparisons];
    const composite = new cloudwatch.CompositeAlarm(scope, 'Rollback', {
      alarmDescription: `${props.environment} ${color}: any rollback trigger of ${color} is in ALARM; starts the automated rollback`,
      alarmRule: cloudwatch.AlarmRule.anyOf(...all.map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM))),
    });
    return { triggers: all, comparisons, composite };
  }
}

/** 5XX responses of a target group as a percent of its requests; 0 for minutes below `minRequests`. */
function errorRate(tg: elbv2.IApplicationTargetGroup, minRequests: number): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `IF(FILL(requests, 0) >= ${minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
    usingMetrics: {
      requests: tg.metrics.requestCount({ period: MINUTE }),
      errors: tg.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: MINUTE }),
    },
    period: MINUTE,
    label: 'error rate (%)',
  });
}
