/**
 * Custom::LiveImageGuard — refuses a stack update that would move a color carrying traffic AWAY from the
 * image version it runs now, before any task definition changes (the task definitions depend on it).
 *
 * A release goes to the idle color: its version is edited in config, deployed, then traffic moves.
 * Editing the live color's version instead would roll the new image straight onto customers.
 *
 * What passes, for a color with weight > 0:
 *   - its version is unchanged (new = OldResourceProperties' version);
 *   - its new version is the one its ECS service runs now. This is what a ROLLBACK update is: after the
 *     guard refused an update, CloudFormation rolls back by sending the guard another Update with the
 *     old properties as the new ones and the refused ones as OldResourceProperties
 *     (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html:
 *     the request carries no "rollback" flag). Refusing that change back as well would leave the stack in
 *     UPDATE_ROLLBACK_FAILED; a change back to the image that is live must always pass.
 * The running version is read from the color's ECS service (found through its target group, as the
 * guard cannot name the services: they depend on the task definitions, which depend on the guard).
 * If it cannot be read, the change is refused (fail closed), saying why.
 *
 * Create and Delete do nothing: a failed Create's rollback (Delete) and a stack deletion always pass.
 */
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type ECSClient, ListServicesCommand, type Service } from '@aws-sdk/client-ecs';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { COLORS, type Color, type ServiceName } from '../shared/topology';
import { withRetry } from '../traffic/retry';
import { imageVersion } from '../traffic/state';
import { type CfnEvent, type CfnResult, stringProp } from './cfn';
import { forwardWeights } from './weighted-rule';

export interface GuardedService {
  readonly ruleArn: string;
  readonly targetGroups: Readonly<Record<Color, string>>;
  readonly versions: Readonly<Record<Color, string>>;
}

export interface ImageGuardProps {
  readonly environment: string;
  /** The cluster of the services; absent in properties written before it was added. */
  readonly clusterName?: string;
  readonly services: Readonly<Record<ServiceName, GuardedService>>;
}

export function parseImageGuardProps(raw: Record<string, unknown> | undefined): ImageGuardProps {
  const services = (raw?.Services ?? {}) as Record<string, any>;
  const parsed = {} as Record<ServiceName, GuardedService>;
  if (Object.keys(services).length === 0) throw new Error('Services must name at least one service');
  for (const s of Object.keys(services)) {
    const v = services[s];
    parsed[s] = {
      ruleArn: stringProp(v?.RuleArn, `Services.${s}.RuleArn`),
      targetGroups: { blue: stringProp(v?.TargetGroups?.blue, `Services.${s}.TargetGroups.blue`), green: stringProp(v?.TargetGroups?.green, `Services.${s}.TargetGroups.green`) },
      versions: { blue: stringProp(v?.Versions?.blue, `Services.${s}.Versions.blue`), green: stringProp(v?.Versions?.green, `Services.${s}.Versions.green`) },
    };
  }
  return {
    environment: stringProp(raw?.Environment, 'Environment'),
    clusterName: raw?.ClusterName === undefined ? undefined : stringProp(raw.ClusterName, 'ClusterName'),
    services: parsed,
  };
}

/** Thrown to fail the stack update; its message is what the user sees in the stack events. */
export class LiveImageChangeRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LiveImageChangeRefused';
  }
}

export interface ImageGuardClients {
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly ecs: ECSClient;
}

/** The image version a color's service runs now, or why it is not known. */
export type RunningVersion = { readonly version: string } | { readonly unknown: string };

/**
 * The image version each target group's ECS service runs now: the tag of the container the service
 * registers in that target group, in the service's current (primary) task definition.
 */
export async function runningVersions(ecs: ECSClient, clusterName: string, targetGroupArns: readonly string[]): Promise<Map<string, RunningVersion>> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await withRetry(() => ecs.send(new ListServicesCommand({ cluster: clusterName, nextToken })));
    arns.push(...(out.serviceArns ?? []));
    nextToken = out.nextToken;
  } while (nextToken);
  const services: Service[] = [];
  // DescribeServices takes at most 10 services per call.
  for (let i = 0; i < arns.length; i += 10) {
    const out = await withRetry(() => ecs.send(new DescribeServicesCommand({ cluster: clusterName, services: arns.slice(i, i + 10) })));
    services.push(...(out.services ?? []).filter((s) => s.status === 'ACTIVE'));
  }
  const result = new Map<string, RunningVersion>();
  for (const tg of targetGroupArns) {
    const service = services.find((s) => s.loadBalancers?.some((lb) => lb.targetGroupArn === tg));
    if (!service?.taskDefinition) {
      result.set(tg, { unknown: `no active service of cluster ${clusterName} serves target group ${tg}` });
      continue;
    }
    const containerName = service.loadBalancers!.find((lb) => lb.targetGroupArn === tg)!.containerName;
    const out = await withRetry(() => ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition })));
    const container = out.taskDefinition?.containerDefinitions?.find((c) => c.name === containerName);
    result.set(tg, container?.image ? { version: imageVersion(container.image) } : { unknown: `task definition ${service.taskDefinition} has no container ${containerName}` });
  }
  return result;
}

export async function handleImageGuard(event: CfnEvent, clients: ImageGuardClients): Promise<CfnResult> {
  const physicalResourceId = event.RequestType === 'Create' ? `${event.LogicalResourceId}-guard` : event.PhysicalResourceId;
  if (event.RequestType !== 'Update') return { physicalResourceId };

  const next = parseImageGuardProps(event.ResourceProperties);
  const prev = parseImageGuardProps(event.OldResourceProperties);
  const refusals: string[] = [];
  // A service new in this deploy has no live color to guard yet (its rule starts at blue 100 with this deploy's image);
  // one removed from config is not judged.
  for (const s of Object.keys(next.services).filter((name) => prev.services[name] !== undefined)) {
    const changed = COLORS.filter((c) => prev.services[s].versions[c] !== next.services[s].versions[c]);
    if (changed.length === 0) continue;
    // CloudFormation updates the rule before the guard (the guard reads its RuleArn): when a target group was replaced in
    // the same deploy, the weights already sit on the NEW group ARNs. A color's weight is what it has under either.
    const groups = (c: Color) => [...new Set([prev.services[s].targetGroups[c], next.services[s].targetGroups[c]])];
    const ruleArn = next.services[s].ruleArn;
    const weightOf = await forwardWeights(clients.elbv2, ruleArn);
    const weights = { blue: Math.max(...groups('blue').map(weightOf)), green: Math.max(...groups('green').map(weightOf)) };
    if (weights.blue + weights.green === 0) {
      // The rule forwards to none of the colors' groups: which color is live cannot be told, so nothing live may change.
      refusals.push(`${s}: the rule ${ruleArn} forwards to none of its target groups, so the guard cannot tell which color is live; deploy without changing versions first`);
      continue;
    }
    const live = changed.filter((c) => weights[c] > 0);
    if (live.length === 0) continue;
    const clusterName = next.clusterName ?? prev.clusterName;
    const running = clusterName ? await runningVersions(clients.ecs, clusterName, live.flatMap(groups)) : new Map<string, RunningVersion>();
    for (const color of live) {
      const seen = groups(color).map((tg) => running.get(tg)).filter((v): v is RunningVersion => !!v);
      const now = seen.find((v) => 'version' in v) ?? seen[0] ?? { unknown: 'the guard has no ClusterName property' };
      // A change back to the image the color runs now (the rollback of a refused update) never moves traffic anywhere new.
      if ('version' in now && now.version === next.services[s].versions[color]) continue;
      const current = 'version' in now ? now.version : prev.services[s].versions[color];
      const idle = color === 'blue' ? 'green' : 'blue';
      const change =
        `${s} ${color} carries traffic (weight ${weights[color]} of ${weights.blue + weights.green}): its version may not change from ` +
        `${current} to ${next.services[s].versions[color]}` +
        ('unknown' in now ? ` (the version it runs could not be read: ${now.unknown})` : '') +
        '. ';
      refusals.push(
        weights[idle] > 0
          ? // Mid-canary neither color is idle: naming the other one as "the idle color" would be wrong.
            change +
              `Both colors carry traffic (a release is in progress): finish or roll back the release first, then put the new version in ` +
              `config/${next.environment}.ts services.${s}.colors.<idle color>.version and keep ${color} at ${current}`
          : change +
              `Put the new version in config/${next.environment}.ts services.${s}.colors.${idle}.version (the idle color) and keep ${color} at ` +
              `${current}`,
      );
    }
  }
  if (refusals.length > 0) throw new LiveImageChangeRefused(`Refusing to deploy: ${refusals.join('; ')}. See README, "Releasing".`);
  return { physicalResourceId };
}
