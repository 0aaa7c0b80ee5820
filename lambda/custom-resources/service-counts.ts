/**
 * Custom::ServiceCounts — sets the starting task counts and autoscaling bounds of a service's colors
 * once, when the environment is created. After that, counts belong to traffic control: the ECS
 * services have no DesiredCount in the template, and the scalable targets are registered here rather
 * than as AWS::ApplicationAutoScaling::ScalableTarget, whose every update would put the template's
 * min and max back (bringing a color that traffic control scaled to 0 back to life).
 *
 * Create: each color gets its initial desired count; with autoscaling, its scalable target gets the
 *   initial bounds (the live color the config's, the idle color 0/0).
 * Update: no desired count is ever touched. For each color with autoscaling in the new properties:
 *   - it has a scalable target: a config change of the bounds reaches it only if it is in service
 *     (max > 0); a color at 0/0 keeps 0/0;
 *   - it has none (autoscaling switched on for an environment created without it): its target is
 *     registered now, so that the scaling policies attached to it have a target — with the config's
 *     bounds if the color is in service (its ECS service's desiredCount > 0, read with
 *     DescribeServices), otherwise 0/0, as traffic control would have left it.
 * Delete: deregisters the scalable targets; the services are being deleted with the stack.
 */
import {
  type ApplicationAutoScalingClient,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand, type ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { COLORS, type Color, scalableTargetResourceId, type ScalingBounds } from '../shared/topology';
import { withRetry } from '../traffic/retry';
import { type CfnEvent, type CfnResult, intProp, stringProp } from './cfn';

export interface ColorCounts {
  readonly serviceName: string;
  readonly initialDesiredCount: number;
  /** Bounds the color starts with; absent without autoscaling. */
  readonly initialScaling?: ScalingBounds;
  /** The config's bounds, applied on update to a color in service (0/0 registered for an idle color without a target). */
  readonly scaling?: ScalingBounds;
}

export interface ServiceCountsProps {
  readonly clusterName: string;
  readonly colors: Readonly<Record<Color, ColorCounts>>;
}

function bounds(raw: any, name: string): ScalingBounds | undefined {
  if (!raw) return undefined;
  const minCapacity = intProp(raw.MinCapacity, `${name}.MinCapacity`, { min: 0 });
  const maxCapacity = intProp(raw.MaxCapacity, `${name}.MaxCapacity`, { min: 0 });
  if (minCapacity > maxCapacity) throw new Error(`property ${name} must have MinCapacity <= MaxCapacity, got ${minCapacity} > ${maxCapacity}`);
  return { minCapacity, maxCapacity };
}

export function parseServiceCountsProps(raw: Record<string, unknown> | undefined): ServiceCountsProps {
  const colors = (raw?.Colors ?? {}) as Record<string, any>;
  const parsed = {} as Record<Color, ColorCounts>;
  for (const c of COLORS) {
    const v = colors[c];
    parsed[c] = {
      serviceName: stringProp(v?.ServiceName, `Colors.${c}.ServiceName`),
      initialDesiredCount: intProp(v?.InitialDesiredCount, `Colors.${c}.InitialDesiredCount`, { min: 0 }),
      initialScaling: bounds(v?.InitialScaling, `Colors.${c}.InitialScaling`),
      scaling: bounds(v?.Scaling, `Colors.${c}.Scaling`),
    };
  }
  return { clusterName: stringProp(raw?.ClusterName, 'ClusterName'), colors: parsed };
}

const IDLE: ScalingBounds = { minCapacity: 0, maxCapacity: 0 };
const DIMENSION = { ServiceNamespace: 'ecs' as const, ScalableDimension: 'ecs:service:DesiredCount' as const };

export interface CountsClients {
  readonly ecs: ECSClient;
  readonly autoscaling: ApplicationAutoScalingClient;
}

export async function handleServiceCounts(event: CfnEvent, clients: CountsClients): Promise<CfnResult> {
  const physicalResourceId = event.RequestType === 'Create' ? `${event.LogicalResourceId}-counts` : event.PhysicalResourceId;
  let props: ServiceCountsProps;
  try {
    props = parseServiceCountsProps(event.ResourceProperties);
  } catch (e) {
    // Create parses before any call, so properties that do not parse registered nothing: the Delete
    // that follows a Create failed on them (physical ID `failed-…`) must succeed, or the stack's
    // rollback fails too.
    if (event.RequestType === 'Delete') return { physicalResourceId };
    throw e;
  }
  const resourceId = (c: Color) => scalableTargetResourceId(props.clusterName, props.colors[c].serviceName);
  const register = (c: Color, b: ScalingBounds) =>
    withRetry(() =>
      clients.autoscaling.send(new RegisterScalableTargetCommand({ ...DIMENSION, ResourceId: resourceId(c), MinCapacity: b.minCapacity, MaxCapacity: b.maxCapacity })),
    );

  /** The color's ECS desired count; its service is part of the stack, so a missing one is an error. */
  const desiredCount = async (c: Color): Promise<number> => {
    const serviceName = props.colors[c].serviceName;
    const out = await withRetry(() => clients.ecs.send(new DescribeServicesCommand({ cluster: props.clusterName, services: [serviceName] })));
    const service = out.services?.find((s) => s.serviceName === serviceName);
    if (!service) {
      const reason = out.failures?.find((f) => f.arn?.endsWith(`/${serviceName}`))?.reason ?? out.failures?.[0]?.reason ?? 'not returned';
      throw new Error(`cannot register the scalable target of ${c}: service ${serviceName} in cluster ${props.clusterName} not found (${reason})`);
    }
    return service.desiredCount ?? 0;
  };

  if (event.RequestType === 'Create') {
    for (const c of COLORS) {
      const color = props.colors[c];
      if (color.initialScaling) await register(c, color.initialScaling);
      await withRetry(() =>
        clients.ecs.send(new UpdateServiceCommand({ cluster: props.clusterName, service: color.serviceName, desiredCount: color.initialDesiredCount })),
      );
    }
  } else if (event.RequestType === 'Update') {
    for (const c of COLORS) {
      const wanted = props.colors[c].scaling;
      if (!wanted) continue;
      const out = await withRetry(() => clients.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [resourceId(c)] })));
      const current = out.ScalableTargets?.[0];
      if (current) {
        if ((current.MaxCapacity ?? 0) > 0) await register(c, wanted);
      } else {
        await register(c, (await desiredCount(c)) > 0 ? wanted : IDLE);
      }
    }
  } else {
    for (const c of COLORS) {
      if (!props.colors[c].initialScaling) continue;
      await withRetry(() => clients.autoscaling.send(new DeregisterScalableTargetCommand({ ...DIMENSION, ResourceId: resourceId(c) }))).catch((e) => {
        if ((e as Error).name !== 'ObjectNotFoundException') throw e;
      });
    }
  }
  return { physicalResourceId };
}
