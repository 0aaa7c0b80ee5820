import type { Construct } from 'constructs';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import { OperationsMonitoring } from './operations-monitoring';
import type { StatefulStack } from './stateful-stack';
import type { StatelessStack } from './stateless-stack';

export interface MonitoringStackProps extends EnvironmentStackProps {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/**
 * The environment's operations alarms and dashboard, beside the stateless stack rather than in it: they grow with
 * every service (three alarms per service and color, a dashboard row per service), and the stateless stack must stay
 * within CloudFormation's 500 resources with ten services (test/cdk/services.test.ts). Nothing here moves traffic:
 * the rollback triggers stay with the services they judge (lib/rollback-alarms.ts). Deployed after the stateless
 * stack by `cdk deploy '<Stage>/*'` (it reads the services, load balancer and topic through stack exports).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 */
export class MonitoringStack extends EnvironmentStack {
  readonly operations: OperationsMonitoring;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config: c, stateful, stateless } = props;
    this.operations = new OperationsMonitoring(this, 'Operations', {
      environment: c.name,
      topic: stateless.notifications.topic,
      loadBalancer: stateless.loadBalancer.loadBalancer,
      services: stateless.services,
      rollbackAlarms: stateless.rollbackAlarms,
      database: stateful.database,
      databaseConfig: c.database,
      databaseConnectionsPercent: c.monitoring.databaseConnectionsPercent,
      cache: stateful.cache,
      cacheNodes: c.cache.nodes,
    });
  }
}
