/**
 * What every release step receives: the traffic core's context plus the SNS client, the environment's release policy
 * and the wiring the construct renders into environment variables (see `settingsFromEnv`). The backup step runs in its
 * own handler with a narrower context (backup.ts).
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { ReleasePolicy } from '../../config/types';
import { Color, COLORS } from '../shared/topology';
import type { ContextWith, TrafficContext } from '../traffic/context';
import { STRATEGIES } from './policy';

export interface MigrationSettings {
  /** The service whose image holds the migrations (config `runsMigration`); a release without it runs none. @default - every release runs it */
  readonly service?: string;
  /** Task definition (ARN or family:revision) of the migrating service (config `runsMigration`) per color; the idle color's runs. */
  readonly taskDefinitions: Readonly<Record<Color, string>>;
  /** Container whose command is overridden. */
  readonly containerName: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
}

export interface ReleaseSettings {
  readonly policy: ReleasePolicy;
  /** Required when policy.migrationCommand is set. */
  readonly migration?: MigrationSettings;
  /** Overrides `https://<host>:<port>` of the test listener (TEST_LISTENER_BASE_URL), e.g. a local server in tests. */
  readonly testListenerBaseUrl?: string;
  /** Lease of the release lock, seconds (LOCK_TTL_SECONDS); the state machine's overall timeout. */
  readonly lockTtlSeconds: number;
  /** Timeout of one pre-traffic HTTP check. */
  readonly healthcheckTimeoutMs: number;
}

/** The release steps' clients on top of the traffic core's. */
export interface ReleaseClients {
  readonly sns: SNSClient;
}

export interface ReleaseContext extends TrafficContext {
  readonly release: ReleaseClients;
  readonly settings: ReleaseSettings;
  /** Where metric lines (Embedded Metric Format) go; default stdout (safety.ts stdoutSink). Tests capture them. */
  readonly metricSink?: (line: string) => void;
}

/** What `record` (ledger entry and notification) needs: DynamoDB and SNS only. */
export type RecordContext = ContextWith<'dynamodb'> & { readonly release: ReleaseClients };

function json<T>(env: Record<string, string | undefined>, name: string): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch (e) {
    throw new Error(`${name} is not valid JSON: ${(e as Error).message}`);
  }
}

function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Reads and checks the release wiring from environment variables; throws one error listing every problem. */
export function settingsFromEnv(env: Record<string, string | undefined> = process.env): ReleaseSettings {
  const problems: string[] = [];
  const policy = json<ReleasePolicy>(env, 'RELEASE_POLICY');
  if (!policy || typeof policy !== 'object') {
    throw new Error('RELEASE_POLICY is not set: the handler was deployed without its release policy');
  }
  if (!STRATEGIES.includes(policy.strategy)) problems.push(`RELEASE_POLICY.strategy must be canary or blue-green, got ${JSON.stringify(policy.strategy)}`);
  const steps = policy.canarySteps;
  if (!Array.isArray(steps) || steps.length === 0 || steps[steps.length - 1] !== 100 || steps.some((s, i) => !Number.isInteger(s) || s < 1 || s > 100 || (i > 0 && s <= steps[i - 1]))) {
    problems.push(`RELEASE_POLICY.canarySteps must be strictly increasing whole percents ending at 100, got ${JSON.stringify(steps)}`);
  }
  for (const f of ['bakeSeconds', 'finalBakeSeconds', 'rollbackWindowSeconds', 'stabilizeTimeoutSeconds', 'migrationTimeoutSeconds', 'approvalTimeoutSeconds'] as const) {
    if (!Number.isInteger(policy[f]) || policy[f] < 0) problems.push(`RELEASE_POLICY.${f} must be whole seconds >= 0, got ${JSON.stringify(policy[f])}`);
  }
  let migration: MigrationSettings | undefined;
  if (policy.migrationCommand) {
    const taskDefinitions = json<Record<Color, string>>(env, 'MIGRATION_TASK_DEFINITIONS');
    const containerName = env.MIGRATION_CONTAINER_NAME;
    const subnets = list(env.MIGRATION_SUBNETS);
    const securityGroups = list(env.MIGRATION_SECURITY_GROUPS);
    if (!taskDefinitions || COLORS.some((c) => typeof taskDefinitions[c] !== 'string' || taskDefinitions[c] === '')) {
      problems.push(`MIGRATION_TASK_DEFINITIONS must be {"blue": "<task definition>", "green": "<task definition>"}, got ${JSON.stringify(env.MIGRATION_TASK_DEFINITIONS)}`);
    }
    if (!containerName) problems.push('MIGRATION_CONTAINER_NAME must be set: the policy runs a migration');
    if (subnets.length === 0) problems.push('MIGRATION_SUBNETS must list at least one subnet (comma-separated)');
    if (securityGroups.length === 0) problems.push('MIGRATION_SECURITY_GROUPS must list at least one security group (comma-separated)');
    const service = env.MIGRATION_SERVICE || undefined;
    migration = { taskDefinitions: taskDefinitions as Record<Color, string>, containerName: containerName ?? '', subnets, securityGroups, ...(service ? { service } : {}) };
  }
  const lockTtlSeconds = env.LOCK_TTL_SECONDS === undefined ? 24 * 3600 : Number(env.LOCK_TTL_SECONDS);
  if (!Number.isInteger(lockTtlSeconds) || lockTtlSeconds <= 0) problems.push(`LOCK_TTL_SECONDS must be a positive integer, got ${JSON.stringify(env.LOCK_TTL_SECONDS)}`);
  const base = env.TEST_LISTENER_BASE_URL || undefined;
  if (base !== undefined && !/^https?:\/\/[^\s/]+/.test(base)) problems.push(`TEST_LISTENER_BASE_URL must be an http(s) URL, got ${JSON.stringify(base)}`);
  if (problems.length > 0) throw new Error(`release handler configuration is invalid:\n  - ${problems.join('\n  - ')}`);
  return {
    policy,
    migration,
    testListenerBaseUrl: base?.replace(/\/+$/, ''),
    lockTtlSeconds,
    healthcheckTimeoutMs: 5000,
  };
}
