import { Validations } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { CrashDetection } from './crash-detection';
import { EnvironmentStack, type EnvironmentStackProps } from './environment-stack';
import { OperationsMonitoring } from './operations-monitoring';
import type { StatefulStack } from './stateful-stack';
import type { StatelessStack } from './stateless-stack';

export interface MonitoringStackProps extends EnvironmentStackProps {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/**
 * The environment's operations alarms and dashboard, and its crash detection, beside the stateless stack rather than
 * in it: they grow with every service (three alarms per service and color, a dashboard row per service) or need nine
 * resources of their own, and the stateless stack must stay within 90 % of CloudFormation's 500 resources with ten
 * services (test/cdk/services.test.ts, the deploy-invariant StackQuotas rule). The rollback triggers stay with the
 * services they judge (lib/rollback-alarms.ts); crash detection needs nothing of the stateless stack to reference it
 * (an EventBridge rule invokes it), so it can live here. Deployed after the stateless stack by
 * `cdk deploy '<Stage>/*'` (it reads the services, load balancer, topic, cluster and traffic control through stack
 * exports). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 */
export class MonitoringStack extends EnvironmentStack {
  readonly operations: OperationsMonitoring;
  readonly crashDetection: CrashDetection;

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
    this.crashDetection = new CrashDetection(this, 'CrashDetection', {
      environment: c.name,
      cluster: stateless.cluster,
      crash: c.monitoring.crash,
      trafficControl: stateless.trafficControl,
      releaseStateMachine: stateless.release.stateMachine,
      topic: stateless.notifications.topic,
      vpc: stateful.network.vpc,
      encryptionKey: stateless.appKey,
      logRetention: c.logRetentionDays as logs.RetentionDays,
    });
    // The release's and the rollback's own failure alarms: operations alarms too, and room in the stateless stack.
    stateless.automatedRollback.addFailureAlarms(this, stateless.notifications.topic);
    stateless.release.addSafeStateFailedAlarm(this, stateless.notifications.topic);
    // As in the stateless stack: CDK grants write one AWS::IAM::Policy per role holding only that role's scoped
    // statements; wildcards stay checked by AwsSolutions-IAM5.
    Validations.of(this).acknowledge({
      id: 'PCI.DSS.321-IAMNoInlinePolicy',
      reason: 'Each role carries one CDK-generated least-privilege policy bound to it alone; wildcard use is checked by AwsSolutions-IAM5',
    });
  }
}
