/**
 * Reads the state of an environment: listener-rule weights, target health per AZ, ECS counts and versions, alarm
 * states and the lock holder. Read-only; every call goes through the retry policy.
 */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type Service } from '@aws-sdk/client-ecs';
import {
  Action,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  Rule,
  TargetGroupStickinessConfig,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { Color, COLORS, otherColor, ServiceName, serviceNamesOf } from '../shared/topology';
import { call, TrafficContext } from './context';
import { TopologyMismatch } from './errors';
import { LockInfo, readLock } from './lock';
import { environmentLiveColor, liveColorOf, percentOf, Weights } from './weights';

/** AZ label used when DescribeTargetHealth does not report a target's AZ (moto never does; AWS often omits it). */
export const UNKNOWN_AZ = 'unknown';

export interface RuleState {
  readonly service: ServiceName;
  readonly ruleArn: string;
  readonly weights: Weights;
  /** Stickiness config of the forward action as read; written back unchanged on every shift. */
  readonly stickiness?: TargetGroupStickinessConfig;
  /** All actions of the rule as read (non-forward actions are kept on write). */
  readonly actions: readonly Action[];
}

export interface AzHealth {
  readonly healthy: number;
  readonly unhealthy: number;
}

export interface TargetHealthSummary {
  /** Per AZ: healthy and not-healthy registered targets (draining targets are not counted). */
  readonly byAz: Readonly<Record<string, AzHealth>>;
  readonly healthy: number;
  readonly registered: number;
}

export interface EcsServiceState {
  readonly serviceName: string;
  readonly found: boolean;
  readonly desiredCount: number;
  readonly runningCount: number;
  readonly taskDefinition?: string;
  /** Image tag of the first essential container (after the last ':'), 'unknown' when not found. */
  readonly version: string;
}

export interface ColorState extends EcsServiceState {
  readonly color: Color;
  readonly targetGroupArn: string;
  readonly weight: number;
  /** Share of the service's traffic in percent. */
  readonly percent: number;
  readonly targets: TargetHealthSummary;
}

export interface ServiceState {
  readonly service: ServiceName;
  readonly listenerRuleArn: string;
  readonly weights: Weights;
  readonly colors: Readonly<Record<Color, ColorState>>;
  /** This service's live color: the one carrying at least half of its weight (blue on a tie). */
  readonly liveColor: Color;
  /** This service's other color: where its next version is deployed. */
  readonly idleColor: Color;
}

export interface AlarmStatus {
  readonly name: string;
  readonly color: Color;
  /** OK | ALARM | INSUFFICIENT_DATA, or MISSING when no alarm of that name exists. */
  readonly state: string;
  readonly reason?: string;
  /** A composite alarm (rolls up others); absent when the alarm is missing. */
  readonly composite?: boolean;
}

export interface EnvironmentState {
  readonly environment: string;
  readonly readAt: string;
  readonly services: Readonly<Record<ServiceName, ServiceState>>;
  /**
   * The live color of the first service in config order (`environmentLiveColor`), which a release moves all services
   * from; each service's own is `services.<name>.liveColor`.
   */
  readonly liveColor: Color;
  /** The other color: where the next version is deployed. */
  readonly idleColor: Color;
  readonly alarms: readonly AlarmStatus[];
  readonly lock?: LockInfo;
}

function forwardWeights(ctx: TrafficContext, service: ServiceName, rule: Rule): Omit<RuleState, 'actions' | 'service' | 'ruleArn'> {
  const colors = ctx.topology.services[service].colors;
  const forward = (rule.Actions ?? []).find((a) => a.Type === 'forward');
  if (!forward) throw new TopologyMismatch(`listener rule of ${service} (${rule.RuleArn}) has no forward action`);
  const groups = forward.ForwardConfig?.TargetGroups?.length
    ? forward.ForwardConfig.TargetGroups.map((g) => ({ arn: g.TargetGroupArn, weight: g.Weight ?? 1 }))
    : forward.TargetGroupArn
      ? [{ arn: forward.TargetGroupArn, weight: 1 }]
      : [];
  const weights = { blue: 0, green: 0 };
  for (const g of groups) {
    const color = COLORS.find((c) => colors[c].targetGroupArn === g.arn);
    if (!color) {
      throw new TopologyMismatch(
        `listener rule of ${service} forwards to ${g.arn}, which is neither its blue nor its green target group in the topology`,
      );
    }
    weights[color] += g.weight;
  }
  return { weights, stickiness: forward.ForwardConfig?.TargetGroupStickinessConfig };
}

/** Reads the listener rules of the given services (one DescribeRules call). */
export async function readRules(
  ctx: TrafficContext,
  services: readonly ServiceName[] = serviceNamesOf(ctx.topology),
): Promise<Record<ServiceName, RuleState>> {
  const arns = services.map((s) => ctx.topology.services[s].listenerRuleArn);
  const out = await call(ctx, 'elbv2:DescribeRules', () => ctx.clients.elbv2.send(new DescribeRulesCommand({ RuleArns: arns })));
  const result = {} as Record<ServiceName, RuleState>;
  for (const service of services) {
    const ruleArn = ctx.topology.services[service].listenerRuleArn;
    const rule = (out.Rules ?? []).find((r) => r.RuleArn === ruleArn);
    if (!rule) throw new TopologyMismatch(`listener rule of ${service} (${ruleArn}) was not found`);
    result[service] = { service, ruleArn, actions: rule.Actions ?? [], ...forwardWeights(ctx, service, rule) };
  }
  return result;
}

/** Healthy and unhealthy targets per AZ of a target group; a target without an AZ counts under 'unknown'. */
export async function readTargetHealth(ctx: TrafficContext, targetGroupArn: string): Promise<TargetHealthSummary> {
  const out = await call(ctx, 'elbv2:DescribeTargetHealth', () =>
    ctx.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
  );
  const byAz: Record<string, { healthy: number; unhealthy: number }> = {};
  let healthy = 0;
  let registered = 0;
  for (const d of out.TargetHealthDescriptions ?? []) {
    const state = d.TargetHealth?.State;
    if (state === 'draining') continue;
    const az = d.Target?.AvailabilityZone || UNKNOWN_AZ;
    const bucket = (byAz[az] ??= { healthy: 0, unhealthy: 0 });
    registered++;
    if (state === 'healthy') {
      bucket.healthy++;
      healthy++;
    } else {
      bucket.unhealthy++;
    }
  }
  return { byAz, healthy, registered };
}

/** States of every rollback alarm of the environment (both colors). */
export async function readAlarms(ctx: TrafficContext): Promise<AlarmStatus[]> {
  const wanted: { name: string; color: Color }[] = [];
  for (const color of COLORS) for (const name of ctx.topology.rollbackAlarmNames[color]) wanted.push({ name, color });
  if (wanted.length === 0) return [];
  const found = new Map<string, { state: string; reason?: string; composite: boolean }>();
  // DescribeAlarms takes at most 100 names per call.
  for (let i = 0; i < wanted.length; i += 100) {
    const names = [...new Set(wanted.slice(i, i + 100).map((w) => w.name))];
    let nextToken: string | undefined;
    do {
      const out = await call(ctx, 'cloudwatch:DescribeAlarms', () =>
        ctx.clients.cloudwatch.send(
          new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken: nextToken }),
        ),
      );
      for (const a of out.MetricAlarms ?? []) if (a.AlarmName) found.set(a.AlarmName, { state: a.StateValue ?? 'INSUFFICIENT_DATA', reason: a.StateReason, composite: false });
      for (const a of out.CompositeAlarms ?? []) if (a.AlarmName) found.set(a.AlarmName, { state: a.StateValue ?? 'INSUFFICIENT_DATA', reason: a.StateReason, composite: true });
      nextToken = out.NextToken;
    } while (nextToken);
  }
  return wanted.map((w) => {
    const f = found.get(w.name);
    return { ...w, state: f?.state ?? 'MISSING', reason: f?.reason, ...(f ? { composite: f.composite } : {}) };
  });
}

/** Tag of an image reference: text after the last ':' that follows the last '/', 'latest' when untagged. */
export function imageVersion(image: string | undefined): string {
  if (!image) return 'unknown';
  const digest = image.indexOf('@');
  if (digest >= 0) return image.slice(digest + 1);
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(colon + 1) : 'latest';
}

/** Whether each service of each color exists and how many tasks it should run. */
export type DesiredCounts = Record<ServiceName, Record<Color, { readonly found: boolean; readonly desiredCount: number }>>;

/**
 * DescribeServices takes at most 10 services per call, so the environment's services and colors are read in batches of
 * 10, in parallel (one call for up to five services). https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
 */
export const DESCRIBE_SERVICES_MAX = 10;

/** Every color of every service that exists (not INACTIVE), by ECS service name. */
async function describeServices(ctx: TrafficContext): Promise<Map<string, Service>> {
  const names = serviceNamesOf(ctx.topology).flatMap((s) => COLORS.map((c) => ctx.topology.services[s].colors[c].serviceName));
  const batches: string[][] = [];
  for (let i = 0; i < names.length; i += DESCRIBE_SERVICES_MAX) batches.push(names.slice(i, i + DESCRIBE_SERVICES_MAX));
  const outs = await Promise.all(
    batches.map((batch) =>
      call(ctx, 'ecs:DescribeServices', () => ctx.clients.ecs.send(new DescribeServicesCommand({ cluster: ctx.topology.clusterName, services: batch }))),
    ),
  );
  return new Map(outs.flatMap((out) => out.services ?? []).filter((s) => s.status !== 'INACTIVE').map((s) => [s.serviceName!, s]));
}

/** Desired counts of every service and color: DescribeServices only (one call per five services), no task definitions (the rollback's read). */
export async function readDesiredCounts(ctx: TrafficContext): Promise<DesiredCounts> {
  const byName = await describeServices(ctx);
  const result = {} as DesiredCounts;
  for (const s of serviceNamesOf(ctx.topology)) {
    result[s] = {} as DesiredCounts[ServiceName];
    for (const c of COLORS) {
      const svc = byName.get(ctx.topology.services[s].colors[c].serviceName);
      result[s][c] = { found: !!svc, desiredCount: svc?.desiredCount ?? 0 };
    }
  }
  return result;
}

/** ECS desired/running counts and image version of every service and color (DescribeServices, one call per five services). */
export async function readEcs(ctx: TrafficContext): Promise<Record<ServiceName, Record<Color, EcsServiceState>>> {
  const byName = await describeServices(ctx);
  const taskDefs = [...new Set([...byName.values()].map((s) => s.taskDefinition).filter((t): t is string => !!t))];
  const versions = new Map<string, string>();
  await Promise.all(
    taskDefs.map(async (td) => {
      const d = await call(ctx, 'ecs:DescribeTaskDefinition', () =>
        ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: td })),
      );
      const containers = d.taskDefinition?.containerDefinitions ?? [];
      const main = containers.find((c) => c.essential !== false) ?? containers[0];
      versions.set(td, imageVersion(main?.image));
    }),
  );
  const result = {} as Record<ServiceName, Record<Color, EcsServiceState>>;
  for (const s of serviceNamesOf(ctx.topology)) {
    result[s] = {} as Record<Color, EcsServiceState>;
    for (const c of COLORS) {
      const serviceName = ctx.topology.services[s].colors[c].serviceName;
      const svc = byName.get(serviceName);
      result[s][c] = svc
        ? {
            serviceName,
            found: true,
            desiredCount: svc.desiredCount ?? 0,
            runningCount: svc.runningCount ?? 0,
            taskDefinition: svc.taskDefinition,
            version: (svc.taskDefinition && versions.get(svc.taskDefinition)) || 'unknown',
          }
        : { serviceName, found: false, desiredCount: 0, runningCount: 0, version: 'unknown' };
    }
  }
  return result;
}

/** The full state of the environment, read in parallel. */
export async function readState(ctx: TrafficContext): Promise<EnvironmentState> {
  const names = serviceNamesOf(ctx.topology);
  const tgs = names.flatMap((s) => COLORS.map((c) => ({ s, c, arn: ctx.topology.services[s].colors[c].targetGroupArn })));
  const [rules, ecs, alarms, lock, health] = await Promise.all([
    readRules(ctx),
    readEcs(ctx),
    readAlarms(ctx),
    readLock(ctx),
    Promise.all(tgs.map((t) => readTargetHealth(ctx, t.arn))),
  ]);
  const services = {} as Record<ServiceName, ServiceState>;
  for (const s of names) {
    const colors = {} as Record<Color, ColorState>;
    for (const c of COLORS) {
      colors[c] = {
        ...ecs[s][c],
        color: c,
        targetGroupArn: ctx.topology.services[s].colors[c].targetGroupArn,
        weight: rules[s].weights[c],
        percent: percentOf(rules[s].weights, c),
        targets: health[tgs.findIndex((t) => t.s === s && t.c === c)],
      };
    }
    const live = liveColorOf(rules[s].weights);
    services[s] = { service: s, listenerRuleArn: rules[s].ruleArn, weights: rules[s].weights, colors, liveColor: live, idleColor: otherColor(live) };
  }
  const liveColor = environmentLiveColor(rules, names);
  return {
    environment: ctx.topology.environment,
    readAt: (ctx.now ? ctx.now() : new Date()).toISOString(),
    services,
    liveColor,
    idleColor: liveColor === 'blue' ? 'green' : 'blue',
    alarms,
    lock,
  };
}
