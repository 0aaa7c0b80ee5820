/**
 * The contract between the CDK app and the traffic-control code (Lambda handlers and CLI).
 *
 * The stateless stack renders one `Topology` per environment into each handler's `TOPOLOGY`
 * environment variable and into the stack output `Topology`, which the CLI reads with
 * DescribeStacks. Nothing else about an environment is hard-coded in the handlers.
 */
export const COLORS = ['blue', 'green'] as const;
export type Color = (typeof COLORS)[number];

/**
 * A service's name: a key of config `services` (lowercase letter first, then lowercase letters, digits and hyphens).
 * Services are data: the handlers and the CLI know them only from the topology (`serviceNamesOf`).
 */
export type ServiceName = string;

/** What a service name must look like (config/validate.ts and `parseTopology` check it). */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,29}$/;

/** The environment's services, in config order (the order every loop, message and status line uses). */
export function serviceNamesOf(topology: Pick<Topology, 'services'>): ServiceName[] {
  return Object.keys(topology.services);
}

/**
 * The topology narrowed to `services` (in the topology's order): what a release of those services, and the rollback of
 * that release, may read and change. Every core function takes its services from `ctx.topology`, so a context with a
 * scoped topology leaves every other service where it is. Throws on a name the topology does not have.
 */
export function scopeTopology(topology: Topology, services: readonly ServiceName[]): Topology {
  const unknown = services.filter((s) => !(s in topology.services));
  if (unknown.length > 0) throw new Error(`unknown service${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: the topology has ${serviceNamesOf(topology).join(', ')}`);
  const keep = serviceNamesOf(topology).filter((s) => services.includes(s));
  const pick = <T>(r: Readonly<Record<ServiceName, T>>): Record<ServiceName, T> => Object.fromEntries(keep.filter((s) => s in r).map((s) => [s, r[s]]));
  return {
    ...topology,
    services: pick(topology.services),
    ...(topology.testListener ? { testListener: { ...topology.testListener, hosts: pick(topology.testListener.hosts), checks: pick(topology.testListener.checks) } } : {}),
  };
}

/**
 * Header the test listener's rules match (`<COLOR_HEADER>: <color>`) to reach one color of a service whatever the
 * weights are; rendered into `Topology.testListener.colorHeader`. Shared by the CDK app (lib/routing.ts) and the CLI.
 */
export const COLOR_HEADER = 'X-Release-Color';

export function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

/** One pre-traffic check of a service: GET `path` on the new color through the test listener must answer `expectedStatus`. */
export interface PreTrafficCheck {
  /** Absolute path, e.g. `/health/db`. */
  readonly path: string;
  /** The HTTP status the check requires, e.g. 200. */
  readonly expectedStatus: number;
}

/** Application Auto Scaling bounds a color gets back when it is brought up again. */
export interface ScalingBounds {
  readonly minCapacity: number;
  readonly maxCapacity: number;
}

export interface ColorTopology {
  /** ARN of the color's target group. */
  readonly targetGroupArn: string;
  /** Name of the color's ECS service in the environment's cluster. */
  readonly serviceName: string;
  /** Application Auto Scaling bounds from config; absent where the environment has no autoscaling. */
  readonly scaling?: ScalingBounds;
}

export interface ServiceTopology {
  /** ARN of the production (HTTPS) listener rule whose weighted forward splits this service between colors. */
  readonly listenerRuleArn: string;
  readonly colors: Readonly<Record<Color, ColorTopology>>;
}

export interface Topology {
  /** Environment name: dev, staging or production. */
  readonly environment: string;
  /** Name of the ECS cluster running every service and color. */
  readonly clusterName: string;
  readonly services: Readonly<Record<ServiceName, ServiceTopology>>;
  /** DynamoDB table holding the environment's release lock (partition key `pk`, string). */
  readonly lockTableName: string;
  /** DynamoDB table of the append-only ledger (partition key `pk`, sort key `sk`, strings). */
  readonly ledgerTableName: string;
  /** Names of the CloudWatch alarms that must be OK before traffic is added to a color, per color. */
  readonly rollbackAlarmNames: Readonly<Record<Color, readonly string[]>>;
  /**
   * Which of `rollbackAlarmNames` compare a color with the other on the same load. The release gate judges the new
   * color's and ignores the stable color's (they fire when the new color is better). @default - none
   */
  readonly comparisonAlarmNames?: Readonly<Record<Color, readonly string[]>>;
  /** A color must have at least this many healthy targets in every AZ it serves before it gets traffic. */
  readonly minHealthyTargetsPerAz: number;
  /** SNS topic for release and rollback notifications. @default - no notifications */
  readonly notificationTopicArn?: string;
  /**
   * The pre-traffic test listener: `https://<host>:<port>` with header `<colorHeader>: <color>` reaches
   * that color of a service whatever the weights are. @default - no test listener known
   */
  readonly testListener?: {
    readonly port: number;
    readonly colorHeader: string;
    /** Host name of each service (config `services.<name>.host`). */
    readonly hosts: Readonly<Record<ServiceName, string>>;
    /** What each service must answer on the new color before it gets traffic (config `services.<name>.preTrafficChecks`). */
    readonly checks: Readonly<Record<ServiceName, readonly PreTrafficCheck[]>>;
  };
}

/** Parses and validates a topology document; throws one error listing every problem. */
export function parseTopology(raw: string | undefined): Topology {
  if (!raw) throw new Error('TOPOLOGY is not set: the handler was deployed without its environment topology');
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new Error(`TOPOLOGY is not valid JSON: ${(e as Error).message}`);
  }
  const problems: string[] = [];
  const t = doc as Partial<Topology>;
  const str = (v: unknown, field: string) => {
    if (typeof v !== 'string' || v.length === 0) problems.push(`${field} must be a non-empty string, got ${JSON.stringify(v)}`);
  };
  str(t?.environment, 'environment');
  str(t?.clusterName, 'clusterName');
  str(t?.lockTableName, 'lockTableName');
  str(t?.ledgerTableName, 'ledgerTableName');
  if (!Number.isInteger(t?.minHealthyTargetsPerAz) || (t!.minHealthyTargetsPerAz as number) < 0) {
    problems.push(`minHealthyTargetsPerAz must be an integer >= 0, got ${JSON.stringify(t?.minHealthyTargetsPerAz)}`);
  }
  const names = t?.services !== null && typeof t?.services === 'object' && !Array.isArray(t.services) ? Object.keys(t.services) : [];
  if (names.length === 0) problems.push(`services must be an object with at least one service, got ${JSON.stringify(t?.services)}`);
  for (const s of names) {
    if (!SERVICE_NAME_PATTERN.test(s)) problems.push(`services: ${JSON.stringify(s)} is not a service name (${SERVICE_NAME_PATTERN})`);
    const svc = t?.services?.[s];
    str(svc?.listenerRuleArn, `services.${s}.listenerRuleArn`);
    for (const c of COLORS) {
      str(svc?.colors?.[c]?.targetGroupArn, `services.${s}.colors.${c}.targetGroupArn`);
      str(svc?.colors?.[c]?.serviceName, `services.${s}.colors.${c}.serviceName`);
    }
  }
  for (const c of COLORS) {
    if (!Array.isArray(t?.rollbackAlarmNames?.[c])) problems.push(`rollbackAlarmNames.${c} must be an array of alarm names`);
    const comparisons = t?.comparisonAlarmNames?.[c];
    if (t?.comparisonAlarmNames !== undefined && (!Array.isArray(comparisons) || comparisons.some((n) => typeof n !== 'string' || n === ''))) {
      problems.push(`comparisonAlarmNames.${c} must be an array of alarm names`);
    }
  }
  if (t?.testListener !== undefined) {
    for (const s of names) {
      str(t.testListener?.hosts?.[s], `testListener.hosts.${s}`);
      const checks = t.testListener?.checks?.[s];
      if (!Array.isArray(checks) || checks.length === 0) problems.push(`testListener.checks.${s} must be a non-empty array of {path, expectedStatus}`);
      else
        checks.forEach((ch, i) => {
          if (typeof ch?.path !== 'string' || !ch.path.startsWith('/')) problems.push(`testListener.checks.${s}[${i}].path must start with /, got ${JSON.stringify(ch?.path)}`);
          if (!Number.isInteger(ch?.expectedStatus) || ch.expectedStatus < 100 || ch.expectedStatus > 599) {
            problems.push(`testListener.checks.${s}[${i}].expectedStatus must be an HTTP status, got ${JSON.stringify(ch?.expectedStatus)}`);
          }
        });
    }
  }
  if (problems.length > 0) throw new Error(`TOPOLOGY is invalid:\n  - ${problems.join('\n  - ')}`);
  return doc as Topology;
}

/** Application Auto Scaling resource ID of an ECS service (`service/<cluster>/<service>`). */
export function scalableTargetResourceId(clusterName: string, serviceName: string): string {
  return `service/${clusterName}/${serviceName}`;
}
