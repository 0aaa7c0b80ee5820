import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { pascalCase } from './names';
import type { DatabaseConfig } from '../config';
import { defaultMaxConnections } from '../config/rds';
import { METRICS_NAMESPACE, TRAFFIC_WEIGHT_METRIC } from '../lambda/shared/metrics';
import { COLORS, type Color, type ServiceName } from '../lambda/shared/topology';
import type { Cache } from './cache';
import type { Database } from './database';
import { LOG_EVENTS, type RollbackAlarms } from './rollback-alarms';
import type { ColoredService } from './services';

export interface OperationsMonitoringProps {
  readonly environment: string;
  readonly topic: sns.ITopic;
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  readonly services: Readonly<Record<ServiceName, ColoredService>>;
  readonly rollbackAlarms: RollbackAlarms;
  readonly database: Database;
  readonly databaseConfig: DatabaseConfig;
  /**
   * Connections alarm threshold, percent of the instance class's default max_connections.
   * @default 80
   */
  readonly databaseConnectionsPercent?: number;
  readonly cache: Cache;
  /** Cache node IDs to watch (`<replication group>-00N`). */
  readonly cacheNodes: number;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Alarms a person acts on (to the notification topic) and the environment's dashboard. These never
 * move traffic; the rollback triggers are in RollbackAlarms.
 */
export class OperationsMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsMonitoringProps) {
    super(scope, id);
    const notify = new actions.SnsAction(props.topic);
    const above = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, periods = 3, op = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: `${props.environment}: ${description}`,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: op,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      this.alarms.push(a);
      return a;
    };

    for (const service of Object.keys(props.services)) {
      for (const color of COLORS) {
        const c = props.services[service].colors[color];
        const label = `${pascalCase(service)}${pascalCase(color)}`;
        above(`${label}Cpu`, `${service} ${color} CPU > 80% for 15 min`, c.service.metricCpuUtilization({ period: FIVE_MINUTES }), 80);
        above(`${label}Memory`, `${service} ${color} memory > 85% for 15 min`, c.service.metricMemoryUtilization({ period: FIVE_MINUTES }), 85);
        above(`${label}Unhealthy`, `${service} ${color} has unhealthy targets for 3 min`, c.targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' }), 0);
      }
    }
    above('Alb5xx', 'the load balancer itself answered > 10 5XX per minute for 3 min', props.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(1) }), 10);

    const db = props.database.primary;
    above('DatabaseCpu', 'PostgreSQL CPU > 80% for 15 min', db.metricCPUUtilization({ period: FIVE_MINUTES }), 80);
    // A fixed 400 could never fire on a small class (db.t4g.micro allows about 80): the threshold follows the class.
    const maxConnections = defaultMaxConnections(props.databaseConfig.instanceType);
    if (maxConnections === undefined) {
      throw new Error(`OperationsMonitoring: no memory known for database.instanceType ${props.databaseConfig.instanceType}; add it to config/rds.ts`);
    }
    const connectionsPercent = props.databaseConnectionsPercent ?? 80;
    const connections = Math.floor((maxConnections * connectionsPercent) / 100);
    above(
      'DatabaseConnections',
      `PostgreSQL connections > ${connections} (${connectionsPercent}% of ${props.databaseConfig.instanceType}'s default max_connections ${maxConnections}) for 15 min`,
      db.metricDatabaseConnections({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      connections,
    );
    const freeStorageBytes = props.databaseConfig.allocatedStorageGiB * 1024 ** 3 * 0.1;
    above('DatabaseStorage', 'PostgreSQL free storage < 10% of allocated', db.metricFreeStorageSpace({ period: FIVE_MINUTES, statistic: 'Minimum' }), freeStorageBytes, 1, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD);
    props.database.replicas.forEach((r, i) =>
      above(`Replica${i + 1}Lag`, `read replica ${i + 1} lags > 30 s for 5 min`, r.metric('ReplicaLag', { period: Duration.minutes(1), statistic: 'Maximum' }), 30, 5),
    );

    const group = props.cache.replicationGroup.ref;
    const cacheNodes = Array.from({ length: props.cacheNodes }, (_, i) => `${group}-00${i + 1}`);
    const cacheMetric = (name: string, node: string, statistic = 'Average') =>
      new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName: name, dimensionsMap: { CacheClusterId: node }, period: FIVE_MINUTES, statistic });
    cacheNodes.forEach((node, i) => {
      above(`Cache${i + 1}Cpu`, `cache node ${i + 1} engine CPU > 80% for 15 min`, cacheMetric('EngineCPUUtilization', node), 80);
      above(`Cache${i + 1}Memory`, `cache node ${i + 1} memory > 85% for 15 min`, cacheMetric('DatabaseMemoryUsagePercentage', node), 85);
      above(`Cache${i + 1}Evictions`, `cache node ${i + 1} evicts > 100 keys per 5 min`, cacheMetric('Evictions', node, 'Sum'), 100, 1);
    });

    this.dashboard = this.buildDashboard(props, cacheNodes, cacheMetric);
  }

  private buildDashboard(
    props: OperationsMonitoringProps,
    cacheNodes: string[],
    cacheMetric: (name: string, node: string, statistic?: string) => cloudwatch.Metric,
  ): cloudwatch.Dashboard {
    const perColor = (service: ServiceName, f: (tg: elbv2.ApplicationTargetGroup, color: Color) => cloudwatch.IMetric) =>
      COLORS.map((color) => f(props.services[service].colors[color].targetGroup, color));
    const minute = Duration.minutes(1);
    const rows: cloudwatch.IWidget[][] = [];
    // Weights are published only when a verified shift changes them, so each series carries its last value forward.
    const weight = (service: ServiceName, color: Color) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: TRAFFIC_WEIGHT_METRIC,
        dimensionsMap: { Environment: props.environment, Service: service, Color: color },
        statistic: 'Maximum',
        period: minute,
      });
    rows.push([
      new cloudwatch.GraphWidget({
        title: 'live weights: percent of traffic per color (after each verified shift)',
        left: Object.keys(props.services).flatMap((service) =>
          COLORS.map(
            (color) =>
              new cloudwatch.MathExpression({
                expression: `FILL(w_${service}_${color}, REPEAT)`,
                usingMetrics: { [`w_${service}_${color}`]: weight(service, color) },
                period: minute,
                label: `${service} ${color}`,
              }),
          ),
        ),
        leftYAxis: { min: 0, max: 100 },
        width: 24,
      }),
    ]);
    for (const service of Object.keys(props.services)) {
      rows.push([
        new cloudwatch.GraphWidget({
          title: `${service}: requests by color (the live split)`,
          left: perColor(service, (tg, color) => tg.metrics.requestCount({ period: minute, label: color })),
          stacked: true,
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${service}: 5XX by color`,
          left: perColor(service, (tg, color) => tg.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, label: color })),
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${service}: response time p50 / p99 by color`,
          left: perColor(service, (tg, color) => tg.metrics.targetResponseTime({ period: minute, statistic: 'p50', label: `${color} p50` })),
          right: perColor(service, (tg, color) => tg.metrics.targetResponseTime({ period: minute, statistic: 'p99', label: `${color} p99` })),
          width: 8,
        }),
      ]);
    }
    const r = props.rollbackAlarms;
    rows.push([
      new cloudwatch.GraphWidget({
        title: 'orders and payments by color',
        left: COLORS.map((c) => r.logMetric(LOG_EVENTS.order.metric, c).with({ label: `orders ${c}` })),
        right: COLORS.flatMap((c) => [
          r.logMetric(LOG_EVENTS.payment.metric, c).with({ label: `payments ${c}` }),
          r.logMetric(LOG_EVENTS.paymentFailure.metric, c).with({ label: `payment failures ${c}` }),
        ]),
        width: 12,
      }),
      // The two composites only: each trigger would be one more stack export from the stateless stack (CloudFormation
      // allows 200 outputs per stack), and a composite's page in the console lists its triggers and their states.
      new cloudwatch.AlarmStatusWidget({
        title: 'rollback (open a composite for its triggers)',
        alarms: COLORS.map((c) => r.colors[c].composite),
        width: 12,
      }),
    ]);
    const db = props.database.primary;
    rows.push([
      new cloudwatch.GraphWidget({
        title: 'database: CPU, connections, errors by color',
        left: [db.metricCPUUtilization(), ...props.database.replicas.map((rep, i) => rep.metric('CPUUtilization', { label: `replica ${i + 1} CPU` }))],
        right: [db.metricDatabaseConnections(), ...COLORS.map((c) => r.logMetric(LOG_EVENTS.databaseError.metric, c).with({ label: `db errors ${c}` }))],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'cache: engine CPU, memory, evictions',
        left: cacheNodes.flatMap((n) => [cacheMetric('EngineCPUUtilization', n), cacheMetric('DatabaseMemoryUsagePercentage', n)]),
        right: cacheNodes.map((n) => cacheMetric('Evictions', n, 'Sum')),
        width: 12,
      }),
    ]);
    return new cloudwatch.Dashboard(this, 'Dashboard', { widgets: rows });
  }
}
