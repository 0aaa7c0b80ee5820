import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { pascalCase } from './names';
import type { LogTrigger, MonitoringConfig } from '../config';
import { COLORS, type Color, otherColor, type ServiceName } from '../lambda/shared/topology';
import type { ColoredService } from './services';

/**
 * The contract with a service's structured logs (README, "Log contract"): one JSON object per line, with `color` set
 * from APP_COLOR. Which events a service's logs are read for follows its config `logTriggers` (TRIGGER_EVENTS).
 */
export const LOG_EVENTS = {
  databaseError: { pattern: '{ $.event = "db_error" }', metric: 'DatabaseErrors' },
  payment: { pattern: '{ $.event = "payment" }', metric: 'PaymentAttempts' },
  paymentFailure: { pattern: '{ ($.event = "payment") && ($.outcome = "failed") }', metric: 'PaymentFailures' },
  order: { pattern: '{ $.event = "order_placed" }', metric: 'Orders' },
} as const;

/** The log events each log-contract trigger reads (orders are graphed with payments). */
export const TRIGGER_EVENTS: Readonly<Record<LogTrigger, readonly (keyof typeof LOG_EVENTS)[]>> = {
  'database-errors': ['databaseError'],
  payments: ['payment', 'paymentFailure', 'order'],
};

const MINUTE = Duration.minutes(1);

export interface RollbackAlarmsProps {
  readonly environment: string;
  readonly config: MonitoringConfig;
  readonly services: Readonly<Record<ServiceName, ColoredService>>;
  /**
   * The log-contract triggers each service's logs feed (config `services.<name>.logTriggers`); a trigger's alarm exists
   * only where some service feeds it. @default - none
   */
  readonly logTriggers?: Readonly<Record<ServiceName, readonly LogTrigger[]>>;
}

/** The rollback triggers of one color. */
export interface ColorAlarms {
  /** Every trigger, comparisons included, each also in `composite`. */
  readonly triggers: readonly cloudwatch.IAlarm[];
  /**
   * This color worse than the other on the same load, counted only while this color is the canary (it serves at most
   * `comparison.canaryMaxRequestPercent` of the two colors' requests). Also in `triggers`; the release gate judges them
   * for the new color only.
   */
  readonly comparisons: readonly cloudwatch.IAlarm[];
  /** Rolls up every trigger of the color: its ALARM starts the automated rollback (the only alarm EventBridge matches). */
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
  /** Namespace of the metrics taken from the services' logs. */
  readonly logMetricsNamespace: string;

  constructor(scope: Construct, id: string, props: RollbackAlarmsProps) {
    super(scope, id);
    this.logMetricsNamespace = `SafeReleases/${props.environment}`;
    for (const [service, triggers] of Object.entries(props.logTriggers ?? {})) {
      const events = [...new Set(triggers.flatMap((t) => TRIGGER_EVENTS[t]))];
      // One log group per service holds both colors' lines; the filters take the color from each line's `color`.
      this.addLogMetricFilters(service, props.services[service].logGroup, events);
    }

    const colors = {} as Record<Color, ColorAlarms>;
    for (const color of COLORS) colors[color] = this.colorAlarms(color, props);
    this.colors = colors;
  }

  /** Every rollback alarm of a color: its composite first, then each trigger. */
  alarmsOf(color: Color): cloudwatch.IAlarm[] {
    return [this.colors[color].composite, ...this.colors[color].triggers];
  }

  /** A metric taken from the services' logs, for one color (summed over the services that feed it). */
  logMetric(name: string, color: Color, period: Duration = MINUTE): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: this.logMetricsNamespace, metricName: name, dimensionsMap: { Color: color }, statistic: 'Sum', period });
  }

  private addLogMetricFilters(service: ServiceName, logGroup: logs.ILogGroup, events: readonly (keyof typeof LOG_EVENTS)[]): void {
    for (const key of events) {
      const e = LOG_EVENTS[key];
      new logs.MetricFilter(this, `${service}-${key}`, {
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
    const alarm = (
      id: string,
      description: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      periods: number,
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) =>
      new cloudwatch.Alarm(scope, id, {
        alarmDescription: `${props.environment} ${color}: ${description}`,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;

    for (const service of Object.keys(props.services)) {
      const tg = props.services[service].colors[color].targetGroup;
      const other = props.services[service].colors[otherColor(color)].targetGroup;
      const name = pascalCase(service);
      const rate = errorRate(tg, m.minRequestsPerMinute);
      triggers.push(
        alarm(`${name}ErrorRate`, `${service} 5XX > ${m.errorRatePercent}% of requests for ${m.errorRateMinutes} min (plan)`, rate, m.errorRatePercent, m.errorRateMinutes),
        // The README's fast burn is "error rate >= 25 %": at exactly the threshold it fires.
        alarm(`${name}FastBurn`, `${service} 5XX >= ${m.fastBurnErrorRatePercent}% for ${m.fastBurnMinutes} min (fast burn)`, rate, m.fastBurnErrorRatePercent, m.fastBurnMinutes, atLeast),
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
        alarm(
          `${name}Unhealthy`,
          `${service} >= ${m.unhealthyTargetsPercent}% of targets unhealthy while taking traffic for ${m.unhealthyMinutes} min (crashed, hung or failing health checks)`,
          unhealthyPercent(tg),
          m.unhealthyTargetsPercent,
          m.unhealthyMinutes,
          atLeast,
        ),
      );
      const c = m.comparison;
      // This color is the canary (the other its baseline) only while it serves at most canaryMaxRequestPercent of the
      // two colors' requests; otherwise the comparison is 0. Without it the stable color's comparison fires exactly
      // when the new color is BETTER (stable minus new > threshold) and, being in the stable color's composite, would
      // flag the stable color during a good release.
      const compared = (value: string) =>
        `IF(FILL(reqNew, 0) >= ${c.minRequestsPerMinute} AND FILL(reqOld, 0) >= ${c.minRequestsPerMinute} AND ` +
        `100 * reqNew <= ${c.canaryMaxRequestPercent} * (reqNew + reqOld), ${value}, 0)`;
      comparisons.push(
        alarm(
          `${name}ErrorRateVsStable`,
          `${service} error rate > ${c.errorRatePoints} points above ${otherColor(color)} on the same load for ${c.minutes} min, while ${color} is the canary`,
          new cloudwatch.MathExpression({
            expression: compared(`${ERRORS_EXPRESSION('New')} * 100 / reqNew - ${ERRORS_EXPRESSION('Old')} * 100 / reqOld`),
            usingMetrics: { ...answeredMetrics(tg, 'New'), ...answeredMetrics(other, 'Old') },
            period: MINUTE,
            label: `${service} ${color} minus ${otherColor(color)} error rate (points)`,
          }),
          c.errorRatePoints,
          c.minutes,
        ),
        alarm(
          `${name}P99VsStable`,
          `${service} p99 latency > ${c.p99LatencyRatio}x ${otherColor(color)} on the same load for ${c.minutes} min, while ${color} is the canary`,
          new cloudwatch.MathExpression({
            expression: compared('IF(p99Old > 0, p99New / p99Old, 0)'),
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

    const fed = (t: LogTrigger) => Object.entries(props.logTriggers ?? {}).filter(([, ts]) => ts.includes(t)).map(([s]) => s);
    if (fed('database-errors').length > 0) triggers.push(
      alarm('DatabaseErrors', `${fed('database-errors').join(', ')} database errors > ${m.databaseErrorsPerMinute} per minute (plan)`, this.logMetric(LOG_EVENTS.databaseError.metric, color), m.databaseErrorsPerMinute, 1),
    );
    const window = Duration.minutes(m.paymentWindowMinutes);
    if (fed('payments').length > 0) triggers.push(
      alarm(
        'PaymentFailureRate',
        `${fed('payments').join(', ')} payment failures > ${m.paymentFailurePercent}% of at least ${m.paymentMinAttempts} attempts in ${m.paymentWindowMinutes} min (plan)`,
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

/**
 * The failed requests of a target group in one minute, as metric math over `answeredMetrics(tg, suffix)`: every request
 * that did not get a 2XX, 3XX or 4XX answer from a target. That is the targets' own 5XX plus every request the load
 * balancer answered itself for this target group: 502 (target refused or reset the connection: a crashed task),
 * 504 (no answer within the idle timeout: a hung task), 503. Those ELB codes exist per load balancer only
 * (HTTPCode_ELB_5XX_Count has no TargetGroup dimension), while RequestCount and HTTPCode_Target_*_Count are per
 * target group: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
 * Clamped at 0 (a minute can hold answers to the previous minute's requests).
 */
export const ERRORS_EXPRESSION = (suffix: string) => {
  const failed = `(FILL(req${suffix}, 0) - FILL(ok2${suffix}, 0) - FILL(ok3${suffix}, 0) - FILL(ok4${suffix}, 0))`;
  return `IF(${failed} > 0, ${failed}, 0)`;
};

/** RequestCount and the target-answered 2XX/3XX/4XX counts of a target group, named for ERRORS_EXPRESSION(suffix). */
export function answeredMetrics(tg: elbv2.IApplicationTargetGroup, suffix: string): Record<string, cloudwatch.IMetric> {
  const code = (c: elbv2.HttpCodeTarget) => tg.metrics.httpCodeTarget(c, { period: MINUTE });
  return {
    [`req${suffix}`]: tg.metrics.requestCount({ period: MINUTE }),
    [`ok2${suffix}`]: code(elbv2.HttpCodeTarget.TARGET_2XX_COUNT),
    [`ok3${suffix}`]: code(elbv2.HttpCodeTarget.TARGET_3XX_COUNT),
    [`ok4${suffix}`]: code(elbv2.HttpCodeTarget.TARGET_4XX_COUNT),
  };
}

/** Failed requests (ERRORS_EXPRESSION) of a target group as a percent of its requests; 0 for minutes below `minRequests`. */
function errorRate(tg: elbv2.IApplicationTargetGroup, minRequests: number): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `IF(FILL(req, 0) >= ${minRequests}, 100 * ${ERRORS_EXPRESSION('')} / req, 0)`,
    usingMetrics: answeredMetrics(tg, ''),
    period: MINUTE,
    label: 'failed requests (%)',
  });
}

/**
 * Percent of the target group's registered targets that are unhealthy, in minutes where it took requests (a color
 * without traffic is never judged; ALB reports target counts only while requests flow). A task that crashed, hangs on
 * /health or fails it turns unhealthy after the health check's threshold.
 */
function unhealthyPercent(tg: elbv2.IApplicationTargetGroup): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(FILL(requests, 0) > 0 AND FILL(healthy, 0) + FILL(unhealthy, 0) > 0, 100 * FILL(unhealthy, 0) / (FILL(healthy, 0) + FILL(unhealthy, 0)), 0)',
    usingMetrics: {
      requests: tg.metrics.requestCount({ period: MINUTE }),
      healthy: tg.metrics.healthyHostCount({ period: MINUTE, statistic: 'Average' }),
      unhealthy: tg.metrics.unhealthyHostCount({ period: MINUTE, statistic: 'Average' }),
    },
    period: MINUTE,
    label: 'unhealthy targets (%)',
  });
}
