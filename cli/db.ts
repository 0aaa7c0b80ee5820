/**
 * Database CLI: the plan's database procedures, run in the environment's own task.
 *
 *   npm run db -- migrate  --env X [--color blue|green] [--force]
 *   npm run db -- rollback --env X --to <migration id> [--snapshot] [--color blue|green] [--force]
 *   npm run db -- verify   --env X [--color blue|green]
 *   npm run db -- restore  --env X --to-time <ISO time>
 *   common: [--profile P] [--region R] [--endpoint URL]
 *
 * migrate, rollback and verify run the migrating service's (config `runsMigration`) migration task definition of its
 * live color (the color with all its traffic, or `--color`) with the command of config `database.procedures`, as a
 * Fargate task (ECS RunTask, command override), print its CloudWatch log as it comes, and exit with the task's exit
 * code. migrate and rollback take the release lock for their run: they refuse while a release (or a traffic command)
 * holds it, and no release starts while they run; `--force` runs without the lock (a schema change under a release in
 * progress is yours to reason about). rollback also refuses unless the database has a snapshot no older than
 * `database.procedures.rollbackSnapshotMaxAgeHours`; `--snapshot` takes a manual one first and waits for it.
 * restore creates a NEW instance from the live one's automated backups as of `--to-time` (never touching the live
 * one) and prints the steps to switch to it, or to delete it.
 * Every run is recorded in the environment's ledger (`database:<procedure>`), start and end.
 *
 * Where the task runs comes from the stack outputs `DatabaseTask` of `<Stage>-Stateless` and `DatabaseNetwork` of
 * `<Stage>-Stateful` (lambda/shared/database-task.ts);
 * account, region and profile from config (cli/account.ts), checked before any other call.
 * Exit codes: the task's exit code (0 done); 1 refused, failed, timed out, or the task stopped without one; 2 usage,
 * environment, credentials, stack not deployed.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { randomUUID } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, type ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import {
  CreateDBSnapshotCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type DBSnapshot,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { ENVIRONMENTS as CONFIGS, type EnvironmentConfig } from '../config';
import { DATABASE_NETWORK_OUTPUT, DATABASE_TASK_OUTPUT, type DatabaseTask, parseDatabaseTask } from '../lambda/shared/database-task';
import { type Color, COLORS } from '../lambda/shared/topology';
import {
  acquireLock,
  appendLedger,
  appendLedgerQuietly,
  clientConfig,
  type ClientOptions,
  createClients,
  destroyClients,
  errorMessage,
  type LedgerInput,
  LockHeld,
  logger,
  readRules,
  releaseLock,
  type TrafficContext,
} from '../lambda/traffic';
import { awsTarget, type EnvironmentTargets, verifyAccount } from './account';
import { ENVIRONMENTS, type Environment, stackName, statefulStackName, TARGET_USAGE, tokenize, UsageError } from './args';
import {
  liveColorOf,
  logStreamName,
  parseRestoreTime,
  type Procedure,
  PROCEDURES,
  procedureCommand,
  restoredInstanceId,
  restoreRequest,
  restoreWindow,
  ROLLBACK_TARGET_PATTERN,
  rollbackSnapshotId,
  snapshotVerdict,
  switchSteps,
} from './db-plan';
import { classifyError, defaultOwner, EnvironmentError, loadTopology, reportError } from './traffic';

const COMMANDS = [...PROCEDURES, 'restore'] as const;
type Command = (typeof COMMANDS)[number];

export interface DbArgs {
  readonly command: Command;
  readonly env: Environment;
  /** rollback: the migration to roll back to (replaces `{to}`). */
  readonly to?: string;
  /** restore: the point in time. */
  readonly toTime?: Date;
  /** The color whose task definition runs the procedure. @default - the color with all of the service's traffic */
  readonly color?: Color;
  /** rollback: take a manual snapshot first. */
  readonly snapshot: boolean;
  /** migrate, rollback: run even though the release lock is held (without taking it). */
  readonly force: boolean;
  readonly profile?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

export const USAGE = `usage: npm run db -- <command> --env <${ENVIRONMENTS.join('|')}> [options] [--profile P] [--region R] [--endpoint URL]
commands (the commands run are config/<env>.ts database.procedures, in the backend's task on its live color):
  migrate                          apply the migrations; takes the release lock         e.g. npm run db -- migrate --env staging
  rollback --to <id> [--snapshot]  roll the schema back to migration <id>; refuses without a recent snapshot
                                   (--snapshot takes one first); takes the release lock  e.g. npm run db -- rollback --to 20260501_add_orders --snapshot --env staging
  verify                           check the schema and data                            e.g. npm run db -- verify --env staging
  restore --to-time <ISO time>     point-in-time restore into a NEW instance beside the live one (never touched);
                                   prints the steps to switch to it or delete it        e.g. npm run db -- restore --to-time 2026-05-01T09:30:00Z --env staging
options: --color blue|green (run that color's image, e.g. while traffic is split); --force (migrate, rollback: run
  while a release holds the lock, without taking it)
exit code: the task's (0 done), 1 refused or failed, 2 usage or environment
${TARGET_USAGE}`;

const VALUE_FLAGS = new Set(['env', 'to', 'to-time', 'color', 'profile', 'region', 'endpoint']);
const BOOLEAN_FLAGS = new Set(['snapshot', 'force', 'help']);
const ALLOWED: Record<Command, readonly string[]> = {
  migrate: ['color', 'force'],
  rollback: ['to', 'snapshot', 'color', 'force'],
  verify: ['color'],
  restore: ['to-time'],
};
const COMMON = ['env', 'profile', 'region', 'endpoint'];

/** Parses argv (without node and script). Throws UsageError; `--help` throws UsageError(USAGE). */
export function parseDbArgs(argv: readonly string[]): DbArgs {
  const { flags, positional } = tokenize(argv, VALUE_FLAGS, BOOLEAN_FLAGS);
  if (flags.has('help')) throw new UsageError(USAGE);
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? `a command is required (one of ${COMMANDS.join(', ')})` : `one command expected, got '${positional.join(' ')}'`);
  const command = positional[0] as Command;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${command}' (one of ${COMMANDS.join(', ')})`);
  for (const name of flags.keys()) {
    if (!COMMON.includes(name) && !ALLOWED[command].includes(name)) throw new UsageError(`--${name} is not an option of ${command}`);
  }
  const env = flags.get('env');
  if (env === undefined) throw new UsageError(`--env is required (one of ${ENVIRONMENTS.join(', ')})`);
  if (!ENVIRONMENTS.includes(env as Environment)) throw new UsageError(`unknown environment '${env}' (one of ${ENVIRONMENTS.join(', ')})`);
  const to = flags.get('to');
  if (command === 'rollback' && (to === undefined || !ROLLBACK_TARGET_PATTERN.test(to))) {
    throw new UsageError(`rollback needs --to <migration id> (letters, digits, . _ : -; e.g. 20260501_add_orders), got ${JSON.stringify(to)}`);
  }
  let toTime: Date | undefined;
  if (command === 'restore') {
    const raw = flags.get('to-time');
    if (raw === undefined) throw new UsageError('restore needs --to-time <ISO time with zone>, e.g. 2026-05-01T09:30:00Z');
    try {
      toTime = parseRestoreTime(raw);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const color = flags.get('color');
  if (color !== undefined && !COLORS.includes(color as Color)) throw new UsageError(`--color must be blue or green, got '${color}'`);
  const endpoint = flags.get('endpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL, got '${endpoint}'`);
  return {
    command,
    env: env as Environment,
    ...(to !== undefined ? { to } : {}),
    ...(toTime ? { toTime } : {}),
    ...(color ? { color: color as Color } : {}),
    snapshot: flags.has('snapshot'),
    force: flags.has('force'),
    ...(flags.has('profile') ? { profile: flags.get('profile') } : {}),
    ...(flags.has('region') ? { region: flags.get('region') } : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}

/** A refusal of `npm run db` (exit 1), one line. */
export class DbRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DbRefused';
  }
}

/** Reads the output `key` of the stack `name`; undefined when the stack has none. */
async function readOutput(cfn: CloudFormationClient, env: Environment, name: string, key: string): Promise<string | undefined> {
  const out = await cfn.send(new DescribeStacksCommand({ StackName: name })).catch((e) => {
    if ((e as Error)?.name === 'ValidationError') throw new EnvironmentError(`stack ${name} is not deployed (environment ${env})`);
    throw classifyError(e);
  });
  return out.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
}

/**
 * Reads where the procedures run: the `DatabaseTask` output of the environment's stateless stack and the
 * `DatabaseNetwork` output of its stateful stack (lambda/shared/database-task.ts says why two).
 */
export async function readDatabaseTask(cfn: CloudFormationClient, env: Environment): Promise<DatabaseTask> {
  const stateless = stackName(env);
  const stateful = statefulStackName(env);
  const [taskRaw, networkRaw] = await Promise.all([readOutput(cfn, env, stateless, DATABASE_TASK_OUTPUT), readOutput(cfn, env, stateful, DATABASE_NETWORK_OUTPUT)]);
  const missing = [...(taskRaw ? [] : [`${stateless} has no output ${DATABASE_TASK_OUTPUT}`]), ...(networkRaw ? [] : [`${stateful} has no output ${DATABASE_NETWORK_OUTPUT}`])];
  if (missing.length > 0) throw new EnvironmentError(`${missing.join(' and ')}: set database.procedures in config/${env}.ts and deploy both stacks`);
  try {
    return parseDatabaseTask(taskRaw, networkRaw);
  } catch (e) {
    throw new EnvironmentError(`stacks ${stateful} and ${stateless}: ${(e as Error).message.replace(/\n\s*/g, ' ')}`);
  }
}

export interface DbIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => Date;
  /** Between two DescribeTasks / GetLogEvents rounds. */
  readonly pollMs: number;
}

/**
 * Prints the stream's new events from `token` on and returns the next token. A stream that does not exist yet (the
 * task has not started its container) prints nothing. GetLogEvents returns the same forward token at the end of the
 * stream. https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html
 */
export async function printNewLogEvents(
  logs: CloudWatchLogsClient,
  group: string,
  stream: string,
  token: string | undefined,
  out: (line: string) => void,
): Promise<string | undefined> {
  for (let pages = 0; pages < 100; pages++) {
    let page;
    try {
      page = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, ...(token ? { nextToken: token } : {}) }));
    } catch (e) {
      if ((e as Error)?.name === 'ResourceNotFoundException') return token;
      throw e;
    }
    for (const ev of page.events ?? []) out(ev.message ?? '');
    if (!page.nextForwardToken || page.nextForwardToken === token) return token;
    token = page.nextForwardToken;
    if ((page.events ?? []).length === 0) return token;
  }
  return token;
}

export interface ProcedureRun {
  readonly procedure: Procedure;
  readonly command: readonly string[];
  readonly color: Color;
  readonly timeoutSeconds: number;
  readonly actor: string;
}

/**
 * Runs the procedure's task, prints its log until it stops, and returns its exit code (1 when it has none, or after
 * the timeout, when the task is stopped). Records the start and the end in the ledger.
 */
export async function runProcedure(
  ctx: TrafficContext,
  clients: { ecs: ECSClient; logs: CloudWatchLogsClient },
  task: DatabaseTask,
  run: ProcedureRun,
  io: DbIo,
): Promise<number> {
  const cluster = ctx.topology.clusterName;
  const taskDefinition = task.taskDefinitions[run.color];
  const ledger = (input: Omit<LedgerInput, 'actor' | 'action'>, quietly = false) =>
    (quietly ? appendLedgerQuietly : appendLedger)(ctx, { actor: run.actor, action: `database:${run.procedure}`, ...input });
  const started = await clients.ecs.send(
    new RunTaskCommand({
      cluster,
      taskDefinition,
      launchType: 'FARGATE',
      count: 1,
      startedBy: `db-${run.procedure}`,
      // One token per run: an SDK retry of a RunTask that started the task returns that task, not a second one.
      // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html
      clientToken: randomUUID(),
      networkConfiguration: { awsvpcConfiguration: { subnets: [...task.subnets], securityGroups: [...task.securityGroups], assignPublicIp: 'DISABLED' } },
      overrides: { containerOverrides: [{ name: task.containerName, command: [...run.command] }] },
    }),
  );
  const taskArn = started.tasks?.[0]?.taskArn;
  if (!taskArn) {
    const why = (started.failures ?? []).map((f) => `${f.arn ?? ''} ${f.reason ?? ''}`.trim()).join('; ') || 'no reason given';
    await ledger({ reason: `${run.procedure} did not start on ${run.color}: ${why}`, detail: { command: run.command, taskDefinition, outcome: 'not-started' } }, true);
    throw new DbRefused(`RunTask started no task (${taskDefinition}): ${why}`);
  }
  await ledger({ reason: `${run.procedure} started on ${run.color}: ${run.command.join(' ')}`, detail: { command: run.command, taskDefinition, taskArn, outcome: 'started' } });
  io.out(`${run.procedure}: ${run.command.join(' ')} on ${run.color} (${taskDefinition}) as ${taskArn}`);
  const stream = logStreamName(run.color, task.containerName, taskArn);
  const deadline = io.now().getTime() + run.timeoutSeconds * 1000;
  let token: string | undefined;
  for (;;) {
    const d = await clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
    const t = d.tasks?.[0];
    token = await printNewLogEvents(clients.logs, task.logGroupName, stream, token, io.out);
    if (t?.lastStatus === 'STOPPED') {
      // CloudWatch Logs may deliver the last lines after the task stopped: one more read after a poll interval.
      await io.sleep(io.pollMs);
      await printNewLogEvents(clients.logs, task.logGroupName, stream, token, io.out);
      const c = t.containers?.find((x) => x.name === task.containerName) ?? t.containers?.[0];
      const exitCode = c?.exitCode;
      const why = [t.stoppedReason, c?.reason].filter(Boolean).join('; ');
      const ok = exitCode === 0;
      await ledger({ reason: `${run.procedure} on ${run.color} ${ok ? 'succeeded' : `failed (exit ${exitCode ?? 'none'}${why ? `: ${why}` : ''})`}`, detail: { command: run.command, taskArn, exitCode, stoppedReason: why, outcome: ok ? 'succeeded' : 'failed' } }, true);
      io.out(`${run.procedure} ${ok ? 'succeeded' : 'FAILED'}: exit code ${exitCode ?? 'none'}${why && !ok ? ` (${why})` : ''}`);
      return exitCode ?? 1;
    }
    if (!t) throw new DbRefused(`task ${taskArn} not found`);
    if (io.now().getTime() >= deadline) {
      await clients.ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason: `npm run db: ${run.procedure} ran past ${run.timeoutSeconds} s` })).catch((e) => io.err(`could not stop ${taskArn}: ${errorMessage(e)}`));
      await ledger({ reason: `${run.procedure} on ${run.color} timed out after ${run.timeoutSeconds} s; task stopped`, detail: { command: run.command, taskArn, outcome: 'timed-out' } }, true);
      io.err(`${run.procedure} timed out after ${run.timeoutSeconds} s (database.procedures.timeoutSeconds): task ${taskArn} stopped`);
      return 1;
    }
    await io.sleep(io.pollMs);
  }
}

/**
 * Rollback's precondition: a snapshot of the database no older than `maxAgeHours`, or, with `take`, a manual one taken
 * now and waited for (a snapshot still being created is no backup yet).
 */
export async function ensureRollbackSnapshot(
  rds: RDSClient,
  instanceId: string,
  opts: { env: string; maxAgeHours: number; take: boolean; timeoutSeconds: number },
  io: DbIo,
): Promise<string> {
  if (opts.take) {
    const id = rollbackSnapshotId(opts.env, io.now());
    io.out(`taking snapshot ${id} of ${instanceId}…`);
    await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: instanceId, DBSnapshotIdentifier: id, Tags: [{ Key: 'environment', Value: opts.env }, { Key: 'taken-by', Value: 'npm run db -- rollback --snapshot' }] }));
    const deadline = io.now().getTime() + opts.timeoutSeconds * 1000;
    for (;;) {
      const s = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))).DBSnapshots?.[0];
      if (s?.Status === 'available') return `snapshot ${id} taken now`;
      if (s?.Status && s.Status !== 'creating') throw new DbRefused(`snapshot ${id} is ${s.Status}, not available: nothing rolled back`);
      if (io.now().getTime() >= deadline) throw new DbRefused(`snapshot ${id} still ${s?.Status ?? 'unknown'} after ${opts.timeoutSeconds} s: nothing rolled back; run again once it is available`);
      await io.sleep(Math.max(io.pollMs, 1000));
    }
  }
  const snapshots: DBSnapshot[] = [];
  for (const SnapshotType of ['manual', 'automated']) {
    let Marker: string | undefined;
    do {
      const page = await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: instanceId, SnapshotType, Marker }));
      snapshots.push(...(page.DBSnapshots ?? []));
      Marker = page.Marker;
    } while (Marker);
  }
  const v = snapshotVerdict(snapshots, io.now(), opts.maxAgeHours);
  if (!v.ok) throw new DbRefused(`rollback refused: ${v.why}; take one first with --snapshot (npm run db -- rollback --to <id> --snapshot --env ${opts.env})`);
  return `snapshot ${v.snapshot.DBSnapshotIdentifier} (${v.snapshot.SnapshotType}, ${v.ageHours.toFixed(1)} h old)`;
}

/** Point-in-time restore into a new instance; returns the lines to print (the steps to switch). */
export async function restore(ctx: TrafficContext, rds: RDSClient, task: DatabaseTask, time: Date, io: DbIo & { region: string; actor: string }): Promise<string[]> {
  const id = task.databaseInstanceId;
  const instance = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
  if (!instance) throw new DbRefused(`database instance ${id} not found`);
  const backups = await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: id })).catch((e) => {
    // The window then comes from the retention period alone (restoreWindow).
    io.err(`could not read the automated backups of ${id} (${errorMessage(e)}); window from the retention period`);
    return undefined;
  });
  const window = restoreWindow(instance, backups?.DBInstanceAutomatedBackups?.find((b) => b.Status !== 'retained') ?? backups?.DBInstanceAutomatedBackups?.[0], io.now());
  if ('refused' in window) throw new DbRefused(`restore refused: ${window.refused}`);
  if (time < window.earliest || time > window.latest) {
    throw new DbRefused(`restore refused: ${time.toISOString()} is outside the restorable window of ${id}, ${window.earliest.toISOString()} to ${window.latest.toISOString()}`);
  }
  const target = restoredInstanceId(id, time);
  await rds.send(new RestoreDBInstanceToPointInTimeCommand(restoreRequest(instance, target, time, ctx.topology.environment)));
  await appendLedgerQuietly(ctx, {
    actor: io.actor,
    action: 'database:restore',
    reason: `point-in-time restore of ${id} as of ${time.toISOString()} into the new instance ${target} (the live instance untouched)`,
    detail: { source: id, target, restoreTime: time.toISOString(), window: { earliest: window.earliest.toISOString(), latest: window.latest.toISOString() } },
  });
  return switchSteps(ctx.topology.environment, task, target, time, io.region);
}

export interface DbDeps {
  readonly stdout?: (line: string) => void;
  readonly stderr?: (line: string) => void;
  readonly clientOptions?: Partial<ClientOptions>;
  readonly environments?: EnvironmentTargets;
  /** The environments' config (database.procedures); default config/index.ts. */
  readonly configs?: Readonly<Record<string, Pick<EnvironmentConfig, 'database'>>>;
  readonly owner?: string;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
}

export async function main(argv: readonly string[], deps: DbDeps = {}): Promise<number> {
  const out = deps.stdout ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = deps.stderr ?? ((l: string) => process.stderr.write(`${l}\n`));
  let args: DbArgs;
  try {
    args = parseDbArgs(argv);
  } catch (e) {
    if (e instanceof UsageError && e.message === USAGE) {
      out(USAGE);
      return 0;
    }
    err(`error: ${(e as Error).message} (see --help)`);
    return 2;
  }
  const procedures = (deps.configs ?? CONFIGS)[args.env]?.database.procedures;
  if (args.command !== 'restore' && !procedures) {
    err(`error: config/${args.env}.ts has no database.procedures: set migrate, rollback and verify commands there (README, "Database procedures")`);
    return 2;
  }
  const target = awsTarget(args.env, args, deps.environments);
  const options: ClientOptions = { region: target.region, endpoint: args.endpoint, profile: target.profile, maxAttempts: 3, ...deps.clientOptions };
  const cfn = new CloudFormationClient(clientConfig(options));
  const rds = new RDSClient(clientConfig(options));
  const logs = new CloudWatchLogsClient(clientConfig(options));
  const clients = createClients({ ...options, maxAttempts: 1 });
  const owner = deps.owner ?? defaultOwner().replace(/^cli:/, 'db:');
  const io: DbIo = { out, err, sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))), now: deps.now ?? (() => new Date()), pollMs: deps.pollMs ?? 3000 };
  let locked: TrafficContext | undefined;
  try {
    await verifyAccount(target, options);
    const [task, topology] = await Promise.all([readDatabaseTask(cfn, args.env), loadTopology(cfn, clients.dynamodb, args.env)]);
    const ctx: TrafficContext = { clients, topology, now: io.now };
    if (args.command === 'restore') {
      for (const line of await restore(ctx, rds, task, args.toTime!, { ...io, region: target.region, actor: owner })) out(line);
      return 0;
    }
    const p = procedures!;
    const command = procedureCommand(p, args.command, args.to);
    const rules = await readRules(ctx, [task.service]);
    const live = liveColorOf(rules[task.service].weights, task.service, args.color);
    if ('refused' in live) throw new DbRefused(live.refused);
    if (args.command !== 'verify') {
      try {
        // The lease outlasts the task's timeout and the snapshot wait: a CLI killed mid-run leaves a lock that expires.
        await acquireLock(ctx, owner, { ttlSeconds: 2 * p.timeoutSeconds + 600 });
        locked = ctx;
      } catch (e) {
        if (!(e instanceof LockHeld) || !args.force) {
          if (e instanceof LockHeld) throw new DbRefused(`${args.command} refused: ${e.message}; a schema change during a release can break the color it runs on. Wait for it (npm run release -- status --env ${args.env}), or run anyway with --force`);
          throw e;
        }
        err(`warning: ${e.message}; running WITHOUT the lock (--force)`);
      }
    }
    let evidence: string | undefined;
    if (args.command === 'rollback') {
      evidence = await ensureRollbackSnapshot(rds, task.databaseInstanceId, { env: args.env, maxAgeHours: p.rollbackSnapshotMaxAgeHours, take: args.snapshot, timeoutSeconds: p.timeoutSeconds }, io);
      out(`backup: ${evidence}`);
    }
    return await runProcedure(ctx, { ecs: clients.ecs, logs }, task, { procedure: args.command, command, color: live.color, timeoutSeconds: p.timeoutSeconds, actor: owner }, io);
  } catch (e) {
    if (e instanceof DbRefused) {
      err(e.message);
      return 1;
    }
    return reportError(e, err);
  } finally {
    if (locked) await releaseLock(locked, owner).catch((e) => err(`warning: could not release the release lock (${errorMessage(e)}); it expires by itself, or: npm run release -- status --env ${args.env}`));
    cfn.destroy();
    rds.destroy();
    logs.destroy();
    destroyClients(clients);
  }
}

if (require.main === module) {
  if (!process.env.POWERTOOLS_LOG_LEVEL && !process.env.LOG_LEVEL) logger.setLogLevel('ERROR');
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`error: ${errorMessage(e)}\n`);
      process.exit(1);
    },
  );
}
