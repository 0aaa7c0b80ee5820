import { Stage, type StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { type EnvironmentConfig, validateConfig } from '../config';
import { StatefulStack } from './stateful-stack';
import { MonitoringStack } from './monitoring-stack';
import { StatelessStack } from './stateless-stack';
import { CicdStack } from './cicd-stack';

export interface EnvironmentStageProps extends StageProps {
  readonly config: EnvironmentConfig;
}

/**
 * One environment: `cdk deploy '<Stage>/*'` deploys it. The stateful stack (network, data) is
 * separate so a release never replaces or deletes data; the monitoring stack (operations alarms, dashboard) so the
 * stateless stack keeps room for more services.
 */
export class EnvironmentStage extends Stage {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
  readonly monitoring: MonitoringStack;
  /** The GitHub Actions deploy role, where config `cicd` is set. */
  readonly cicd?: CicdStack;

  constructor(scope: Construct, id: string, props: EnvironmentStageProps) {
    const config = validateConfig(props.config);
    super(scope, id, { ...props, env: { account: config.account, region: config.region } });
    this.stateful = new StatefulStack(this, 'Stateful', { config });
    this.stateless = new StatelessStack(this, 'Stateless', { config, stateful: this.stateful });
    this.monitoring = new MonitoringStack(this, 'Monitoring', { config, stateful: this.stateful, stateless: this.stateless });
    if (config.cicd) this.cicd = new CicdStack(this, 'Cicd', { config, stateless: this.stateless });
  }
}
