/**
 * Traffic CLI: a thin shell around the traffic core (lambda/traffic).
 *
 *   npx tsx cli/traffic.ts <status|shift|promote|rollback|scale|healthcheck> --env <dev|staging|production> \
 *     [--profile P] [--region R] [--endpoint URL] ...
 *
 * The environment's Topology is the document the `<Stage>-Stateless` stack stores in the table its `TopologyTable` output
 * names (lambda/shared/topology-store.ts), the same one the handlers read;
 * `healthcheck` needs no AWS: it runs the release's pre-traffic checks through the test listener built from config.
 * Account, region and profile come from the environment's config (cli/account.ts): before any other AWS call the
 * credentials must belong to the config's account.
 * Exit codes: 0 done; 1 refused or failed (guard, lock held, failed shift, failing health check);
 * 2 usage, unknown environment, missing/rejected credentials or credentials of another account, stack not deployed.
 */
import { hostname, userInfo } from 'node:os';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Topology } from '../lambda/shared/topology';
import { readTopology, TOPOLOGY_TABLE_OUTPUT } from '../lambda/shared/topology-store';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  acquireLock,
  clientConfig,
  ClientOptions,
  createClients,
  destroyClients,
  errorMessage,
  formatWeights,
  logger,
  promote,
  readState,
  releaseLock,
  restoreColor,
  RetryOptions,
  rollback,
  ScaleResult,
  scaleColor,
  shift,
  ShiftResult,
  TrafficContext,
  TrafficError,
  WeightsByService,
} from '../lambda/traffic';
import { CliArgs, Environment, parseArgs, stackName, USAGE, UsageError } from './args';
import { explainRecord, formatStatus, logsToStderr, toJson, trafficStatusJson } from './format';
import { readReleaseRecord } from '../lambda/release/record';
import { HttpGet } from '../lambda/release/pretraffic';
import { formatHealthResults, runHealthcheck, testListenerOf } from './healthcheck';
import { AccountError, awsTarget, EnvironmentTargets, verifyAccount } from './account';

/** A problem with where or as whom the CLI runs (exit 2), reported as one line. */
export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

export interface CliDeps {
  readonly stdout?: (line: string) => void;
  readonly stderr?: (line: string) => void;
  /** Overrides merged into the client options from the flags (tests pass dummy credentials). */
  readonly clientOptions?: Partial<ClientOptions>;
  /** GET used by `healthcheck` (tests); default the release's node http(s) GET. */
  readonly httpGet?: HttpGet;
  readonly retry?: RetryOptions;
  /** Lock owner token; default `cli:<user>@<host>:<pid>`. */
  readonly owner?: string;
  /** Account, region and profile per environment; default config/index.ts (tests pass copies in moto's account). */
  readonly environments?: EnvironmentTargets;
}

export function defaultOwner(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  return `cli:${user}@${hostname()}:${process.pid}`;
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'TokenRefreshRequired',
]);

/** Maps errors about credentials, region or reachability to an EnvironmentError; other errors are returned as-is. */
/**
 * One line on stderr for a failed command, and its exit code: 2 for the environment (credentials,
 * region, stack not deployed), 1 for a refused or failed operation. Shared by every CLI.
 */
export function reportError(e: unknown, err: (line: string) => void): number {
  if (e instanceof AccountError) {
    err(e.message);
    return 2;
  }
  const c = classifyError(e);
  if (c instanceof EnvironmentError) {
    err(`error: ${c.message}`);
    return 2;
  }
  if (c instanceof TrafficError) {
    err(`${c.name}: ${c.message}`);
    return 1;
  }
  err(`error: ${errorMessage(c)}`);
  if (process.env.TRAFFIC_DEBUG) err((c as Error)?.stack ?? '');
  return 1;
}

export function classifyError(e: unknown): unknown {
  if (e instanceof EnvironmentError) return e;
  const err = e as { name?: string; message?: string; code?: string };
  const msg = err?.message ?? '';
  if (err?.name === 'CredentialsProviderError' || /Could not load credentials|Unable to locate credentials/i.test(msg)) {
    return new EnvironmentError(`no AWS credentials found: pass --profile or set AWS credentials (${msg.split('\n')[0]})`);
  }
  if (err?.name && CREDENTIAL_ERRORS.has(err.name)) return new EnvironmentError(`AWS rejected the credentials: ${err.name}: ${msg.split('\n')[0]}`);
  if (/Region is missing/i.test(msg)) return new EnvironmentError('no AWS region: pass --region or set AWS_REGION / a profile region');
  if (err?.code === 'ECONNREFUSED' || err?.code === 'ENOTFOUND' || err?.name === 'ECONNREFUSED') {
    return new EnvironmentError(`cannot reach the AWS endpoint: ${msg.split('\n')[0]}`);
  }
  return e;
}

/** Reads the topology the environment's stateless stack stored, in the table its `TopologyTable` output names. */
export async function loadTopology(cfn: CloudFormationClient, dynamodb: DynamoDBClient, env: Environment): Promise<Topology> {
  const name = stackName(env);
  let outputs;
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    const stack = out.Stacks?.[0];
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') throw new EnvironmentError(`stack ${name} is not deployed`);
    outputs = stack.Outputs ?? [];
  } catch (e) {
    if (e instanceof EnvironmentError) throw e;
    if ((e as Error)?.name === 'ValidationError' && /does not exist/i.test((e as Error).message)) {
      throw new EnvironmentError(`stack ${name} is not deployed in ${await cfn.config.region()} (environment ${env})`);
    }
    throw classifyError(e);
  }
  const table = outputs.find((o) => o.OutputKey === TOPOLOGY_TABLE_OUTPUT)?.OutputValue;
  if (!table) throw new EnvironmentError(`stack ${name} has no output named ${TOPOLOGY_TABLE_OUTPUT} (deployed by an older version? deploy it again)`);
  let stored;
  try {
    stored = await readTopology(dynamodb, table, { maxAttempts: 3 });
  } catch (e) {
    const err = classifyError(e);
    if (err instanceof EnvironmentError) throw err;
    throw new EnvironmentError(`stack ${name}: ${(e as Error).message.replace(/\n\s*/g, ' ')}`);
  }
  return stored.topology;
}

function formatChange(before: WeightsByService, after: WeightsByService): string {
  const width = Math.max(9, ...Object.keys(after).map((s) => s.length));
  return Object.keys(after)
    .filter((s) => before[s] && after[s])
    .map((s) => `  ${s.padEnd(width)} ${formatWeights(before[s]!)}  →  ${formatWeights(after[s]!)}`)
    .join('\n');
}

function formatShift(label: string, r: ShiftResult): string {
  return `${label} ${r.environment}${r.changed ? '' : ' (already at the target; nothing written)'}, verified:\n${formatChange(r.weightsBefore, r.weightsAfter)}`;
}

function formatScale(r: ScaleResult): string {
  return (
    `scaled ${r.color} in ${r.environment}:\n` +
    Object.keys(r.after).map(
      (s) =>
        `  ${s.padEnd(9)} desired ${r.before[s]} → ${r.after[s]}` +
        (r.scalableTargets[s] ? `  (autoscaling min ${r.scalableTargets[s]!.minCapacity} max ${r.scalableTargets[s]!.maxCapacity})` : ''),
    ).join('\n')
  );
}

/** Runs one command with the environment's core context. Returns the text to print. */
async function execute(args: CliArgs, ctx: TrafficContext, owner: string): Promise<string> {
  const actor = owner.replace(/:\d+$/, '');
  const withLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    await acquireLock(ctx, owner);
    try {
      return await fn();
    } finally {
      await releaseLock(ctx, owner).catch((e) => logger.warn('could not release the release lock', { error: errorMessage(e) }));
    }
  };
  switch (args.command) {
    case 'status': {
      // The release record only when it explains something (a kept lock, an unfinished release); never fails status.
      const [state, rec] = await Promise.all([readState(ctx), readReleaseRecord(ctx).catch(() => undefined)]);
      if (args.json) return toJson(trafficStatusJson(state, rec));
      return [formatStatus(state, args.env), ...explainRecord(args.env, rec, state.lock)].join('\n');
    }
    case 'shift': {
      const r = await withLock(() =>
        shift(ctx, { target: { to: args.to, percent: args.percent }, service: args.service, owner, actor, reason: args.reason }),
      );
      return formatShift('shifted', r);
    }
    case 'promote': {
      const r = await withLock(() => promote(ctx, { owner, actor, reason: args.reason }));
      return formatShift(`promoted ${r.to} in`, r);
    }
    case 'rollback': {
      const r = await rollback(ctx, { to: args.to, actor, reason: args.reason, scaleDown: !args.keepOther });
      return [formatShift(`rolled back to ${r.to} in`, r.shift), r.scale ? formatScale(r.scale) : 'other color left running (--keep-other)'].join('\n');
    }
    case 'scale':
      return formatScale(
        'restore' in args
          ? await restoreColor(ctx, { color: args.color, actor, reason: args.reason })
          : await scaleColor(ctx, { color: args.color, desiredCount: args.count, actor, reason: args.reason }),
      );
    case 'healthcheck':
      throw new Error('healthcheck does not use AWS');
  }
}

export async function main(argv: readonly string[], deps: CliDeps = {}): Promise<number> {
  const out = deps.stdout ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = deps.stderr ?? ((l: string) => process.stderr.write(`${l}\n`));
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message === USAGE) {
        out(USAGE);
        return 0;
      }
      err(`error: ${e.message} (see --help)`);
      return 2;
    }
    throw e;
  }

  if (args.command === 'status' && args.json) logsToStderr();
  if (args.command === 'healthcheck') {
    // The release's pre-traffic checks through the test listener, built from config: no AWS call.
    const listener = testListenerOf(args.env);
    const results = await runHealthcheck(listener, args.color, { baseUrl: args.baseUrl, get: deps.httpGet });
    out(formatHealthResults(args.env, args.color, listener, results, args.baseUrl));
    return results.every((r) => r.ok) ? 0 : 1;
  }

  const target = awsTarget(args.env, args, deps.environments);
  const options: ClientOptions = {
    region: target.region,
    endpoint: args.endpoint,
    profile: target.profile,
    maxAttempts: 3,
    ...deps.clientOptions,
  };
  const cfn = new CloudFormationClient(clientConfig(options));
  const clients = createClients({ ...options, maxAttempts: 1 });
  try {
    await verifyAccount(target, options);
    const topology = await loadTopology(cfn, clients.dynamodb, args.env);
    const ctx: TrafficContext = { clients, topology, retry: deps.retry };
    out(await execute(args, ctx, deps.owner ?? defaultOwner()));
    return 0;
  } catch (e) {
    return reportError(e, err);
  } finally {
    cfn.destroy();
    destroyClients(clients);
  }
}

if (require.main === module) {
  // Ledger, refusal and retry records go to the structured log (and the ledger table); keep the terminal to the
  // command's own output and errors unless POWERTOOLS_LOG_LEVEL asks for more.
  if (!process.env.POWERTOOLS_LOG_LEVEL && !process.env.LOG_LEVEL) logger.setLogLevel('ERROR');
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`error: ${errorMessage(e)}\n`);
      process.exit(1);
    },
  );
}
