/**
 * Custom::LiveImageGuard — refuses a stack update that would change the image version of a color that
 * carries traffic, before any task definition changes (the task definitions depend on it).
 *
 * A release goes to the idle color: its version is edited in config, deployed, then traffic moves.
 * Editing the live color's version instead would roll the new image straight onto customers.
 */
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { COLORS, type Color, SERVICES, type ServiceName } from '../shared/topology';
import { type CfnEvent, type CfnResult, stringProp } from './cfn';
import { liveWeights } from './weighted-rule';

export interface GuardedService {
  readonly ruleArn: string;
  readonly targetGroups: Readonly<Record<Color, string>>;
  readonly versions: Readonly<Record<Color, string>>;
}

export interface ImageGuardProps {
  readonly environment: string;
  readonly services: Readonly<Record<ServiceName, GuardedService>>;
}

export function parseImageGuardProps(raw: Record<string, unknown> | undefined): ImageGuardProps {
  const services = (raw?.Services ?? {}) as Record<string, any>;
  const parsed = {} as Record<ServiceName, GuardedService>;
  for (const s of SERVICES) {
    const v = services[s];
    parsed[s] = {
      ruleArn: stringProp(v?.RuleArn, `Services.${s}.RuleArn`),
      targetGroups: { blue: stringProp(v?.TargetGroups?.blue, `Services.${s}.TargetGroups.blue`), green: stringProp(v?.TargetGroups?.green, `Services.${s}.TargetGroups.green`) },
      versions: { blue: stringProp(v?.Versions?.blue, `Services.${s}.Versions.blue`), green: stringProp(v?.Versions?.green, `Services.${s}.Versions.green`) },
    };
  }
  return { environment: stringProp(raw?.Environment, 'Environment'), services: parsed };
}

/** Thrown to fail the stack update; its message is what the user sees in the stack events. */
export class LiveImageChangeRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LiveImageChangeRefused';
  }
}

export async function handleImageGuard(event: CfnEvent, elbv2: ElasticLoadBalancingV2Client): Promise<CfnResult> {
  const physicalResourceId = event.RequestType === 'Create' ? `${event.LogicalResourceId}-guard` : event.PhysicalResourceId;
  if (event.RequestType !== 'Update') return { physicalResourceId };

  const next = parseImageGuardProps(event.ResourceProperties);
  const prev = parseImageGuardProps(event.OldResourceProperties);
  const refusals: string[] = [];
  for (const s of SERVICES) {
    const changed = COLORS.filter((c) => prev.services[s].versions[c] !== next.services[s].versions[c]);
    if (changed.length === 0) continue;
    const weights = await liveWeights(elbv2, prev.services[s].ruleArn, prev.services[s].targetGroups);
    for (const color of changed) {
      if (weights[color] > 0) {
        const idle = color === 'blue' ? 'green' : 'blue';
        const change =
          `${s} ${color} carries traffic (weight ${weights[color]} of ${weights.blue + weights.green}): its version may not change from ` +
          `${prev.services[s].versions[color]} to ${next.services[s].versions[color]}. `;
        refusals.push(
          weights[idle] > 0
            ? // Mid-canary neither color is idle: naming the other one as "the idle color" would be wrong.
              change +
                `Both colors carry traffic (a release is in progress): finish or roll back the release first, then put the new version in ` +
                `config/${next.environment}.ts services.${s}.colors.<idle color>.version and keep ${color} at ${prev.services[s].versions[color]}`
            : change +
                `Put the new version in config/${next.environment}.ts services.${s}.colors.${idle}.version (the idle color) and keep ${color} at ` +
                `${prev.services[s].versions[color]}`,
        );
      }
    }
  }
  if (refusals.length > 0) throw new LiveImageChangeRefused(`Refusing to deploy: ${refusals.join('; ')}. See README, "Releasing".`);
  return { physicalResourceId };
}
