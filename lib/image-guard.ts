import { CustomResource } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config';
import { COLORS, type ServiceName } from '../lambda/shared/topology';
import type { ServiceRouting } from './routing';
import type { ColoredService } from './services';
import type { TrafficResourceProvider } from './traffic-resources';

export interface LiveImageGuardProps {
  readonly config: EnvironmentConfig;
  readonly services: Readonly<Record<ServiceName, ColoredService>>;
  readonly routing: Readonly<Record<ServiceName, ServiceRouting>>;
  readonly provider: TrafficResourceProvider;
}

/**
 * Fails a deployment that would move a color carrying traffic away from the image version it runs, before
 * any task definition changes: every task definition depends on it, and CloudFormation updates it first
 * (lambda/custom-resources/image-guard.ts). A change back to the running version (the rollback of a
 * refused deployment) passes, so a refusal never leaves the stack in UPDATE_ROLLBACK_FAILED.
 */
export class LiveImageGuard extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: LiveImageGuardProps) {
    super(scope, id);
    // Every color runs in the same cluster; the guard reads there what each color runs now.
    const cluster = props.services[Object.keys(props.services)[0]].colors.blue.service.cluster;
    props.provider.grantImageGuard(cluster);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: props.provider.serviceToken,
      serviceTimeout: props.provider.serviceTimeout,
      resourceType: 'Custom::LiveImageGuard',
      properties: {
        Environment: props.config.name,
        ClusterName: cluster.clusterName,
        Services: Object.fromEntries(
          Object.keys(props.services).map((s) => [
            s,
            {
              RuleArn: props.routing[s].listenerRuleArn,
              TargetGroups: Object.fromEntries(COLORS.map((c) => [c, props.services[s].colors[c].targetGroup.targetGroupArn])),
              Versions: Object.fromEntries(COLORS.map((c) => [c, props.config.services[s].colors[c].version])),
            },
          ]),
        ),
      },
    });
    for (const s of Object.keys(props.services)) {
      for (const c of COLORS) {
        // The migration task carries the same image version: it waits for the guard too.
        const { taskDefinition, migrationTaskDefinition } = props.services[s].colors[c];
        for (const td of [taskDefinition, migrationTaskDefinition]) td?.node.addDependency(this.resource);
      }
    }
  }
}
