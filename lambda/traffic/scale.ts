/**
 * Scaling a color's ECS services (all services of the color together).
 *
 * Where the topology gives a color Application Auto Scaling bounds, its scalable targets are registered first:
 * min = max = 0 when scaling to 0 (so autoscaling cannot bring it back), the topology's bounds when it is brought back.
 * Then UpdateService sets the desired count. Scaling a color to 0 while it still carries traffic is refused.
 */
import { RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { Color, COLORS, otherColor, scalableTargetResourceId, ServiceName, serviceNamesOf } from '../shared/topology';
import { call, TrafficContext } from './context';
import { errorMessage, GuardRefused } from './errors';
import { appendLedger, appendLedgerQuietly } from './ledger';
import { readEcs, readRules } from './state';
import { liveColorOf } from './weights';

export interface ScaleRequest {
  readonly color: Color;
  /** One count for every service of the color, or a count per service. */
  readonly desiredCount: number | Readonly<Record<ServiceName, number>>;
  readonly actor: string;
  readonly reason?: string;
}

export interface ScaleResult {
  readonly environment: string;
  readonly color: Color;
  readonly before: Record<ServiceName, number>;
  readonly after: Record<ServiceName, number>;
  /** Scalable targets registered, per service: the bounds written, or undefined where the topology has no scaling. */
  readonly scalableTargets: Partial<Record<ServiceName, { minCapacity: number; maxCapacity: number }>>;
}

// Lives in the SDK-free topology module so the custom resources can use it without bundling the core's clients.
export { scalableTargetResourceId };

function validateCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000) {
    throw new GuardRefused('input', `${field} must be an integer 0–1000, got ${JSON.stringify(value)}`);
  }
  return value;
}

export async function scaleColor(ctx: TrafficContext, req: ScaleRequest): Promise<ScaleResult> {
  const { topology } = ctx;
  if (!COLORS.includes(req.color)) throw new GuardRefused('input', `color must be blue or green, got ${JSON.stringify(req.color)}`);
  const counts = {} as Record<ServiceName, number>;
  for (const s of serviceNamesOf(ctx.topology)) {
    const perService = typeof req.desiredCount === 'object' && req.desiredCount !== null;
    counts[s] = validateCount(
      perService ? (req.desiredCount as Record<ServiceName, number>)[s] : req.desiredCount,
      perService ? `desiredCount.${s}` : 'desiredCount',
    );
  }

  const ecs = await readEcs(ctx);
  const before = {} as Record<ServiceName, number>;
  for (const s of serviceNamesOf(ctx.topology)) before[s] = ecs[s][req.color].desiredCount;

  if (serviceNamesOf(ctx.topology).some((s) => counts[s] === 0)) {
    const rules = await readRules(ctx);
    const carrying = serviceNamesOf(ctx.topology).filter((s) => counts[s] === 0 && rules[s].weights[req.color] > 0);
    if (carrying.length > 0) {
      const reason = `cannot scale ${req.color} to 0 while it carries traffic (${carrying
        .map((s) => `${s}: weight ${rules[s].weights[req.color]}`)
        .join(', ')}); shift traffic away first`;
      await appendLedgerQuietly(ctx, {
        actor: req.actor,
        action: 'refused',
        reason: `scale refused by traffic guard: ${reason}`,
        detail: { color: req.color, requested: counts, before },
      });
      throw new GuardRefused('traffic', reason);
    }
  }

  const scalableTargets: ScaleResult['scalableTargets'] = {};
  try {
    for (const s of serviceNamesOf(ctx.topology)) {
      const color = topology.services[s].colors[req.color];
      if (color.scaling) {
        const bounds = counts[s] === 0 ? { minCapacity: 0, maxCapacity: 0 } : { ...color.scaling };
        await call(ctx, 'application-autoscaling:RegisterScalableTarget', () =>
          ctx.clients.autoscaling.send(
            new RegisterScalableTargetCommand({
              ServiceNamespace: 'ecs',
              ScalableDimension: 'ecs:service:DesiredCount',
              ResourceId: scalableTargetResourceId(topology.clusterName, color.serviceName),
              MinCapacity: bounds.minCapacity,
              MaxCapacity: bounds.maxCapacity,
            }),
          ),
        );
        scalableTargets[s] = bounds;
      }
      await call(ctx, 'ecs:UpdateService', () =>
        ctx.clients.ecs.send(
          new UpdateServiceCommand({ cluster: topology.clusterName, service: color.serviceName, desiredCount: counts[s] }),
        ),
      );
    }
  } catch (e) {
    await appendLedgerQuietly(ctx, {
      actor: req.actor,
      action: 'scale-failed',
      reason: `scale ${req.color} failed: ${errorMessage(e)}`,
      detail: { color: req.color, requested: counts, before, scalableTargets },
    });
    throw e;
  }

  await appendLedger(ctx, {
    actor: req.actor,
    action: 'scale',
    reason: req.reason ?? `scale ${req.color}`,
    detail: { color: req.color, before, after: counts, scalableTargets },
  });
  return { environment: topology.environment, color: req.color, before, after: counts, scalableTargets };
}

/** Sets `color` to the live color's desired counts (per service), with the topology's scaling bounds. */
export async function restoreColor(
  ctx: TrafficContext,
  req: { color: Color; actor: string; reason?: string },
): Promise<ScaleResult> {
  if (!COLORS.includes(req.color)) throw new GuardRefused('input', `color must be blue or green, got ${JSON.stringify(req.color)}`);
  const rules = await readRules(ctx);
  const live = liveColorOf(rules[serviceNamesOf(ctx.topology)[0]].weights);
  if (live === req.color) {
    throw new GuardRefused('input', `${req.color} is the live color; restore brings the idle color (${otherColor(live)}) up to the live one's counts`);
  }
  const ecs = await readEcs(ctx);
  const desiredCount = {} as Record<ServiceName, number>;
  for (const s of serviceNamesOf(ctx.topology)) desiredCount[s] = ecs[s][live].desiredCount;
  return scaleColor(ctx, {
    color: req.color,
    desiredCount,
    actor: req.actor,
    reason: req.reason ?? `restore ${req.color} to the live color's (${live}) desired counts`,
  });
}
