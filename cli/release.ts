/**
 * Release CLI: starts and follows the environment's release state machine.
 *
 *   npm run release -- --env <dev|staging|production> [--strategy canary|blue-green] [--force] [--no-follow]
 *                                           --force: release a version a completed release replaced (a downgrade)
 *                                           --services a,b: only these services (default: every service whose idle
 *                                           color runs a new version)
 *   npm run release -- status  --env X      current or last execution: step, weights, bake time left, gate results,
 *                                           the judge's last verdicts with their numbers (from the ledger),
 *                                           the release record and lock (why a lock is held, how to clear it)
 *   npm run release -- abort   --env X      StopExecution, then the traffic core's rollback to the stable color
 *   npm run release -- approve --env X      SendTaskSuccess for the approval the running release waits for
 *   npm run release -- unlock  --env X      clear the lock a failed safe state kept (record safe-failed) after checking traffic
 *   npm run release -- ship    --env X --version V [--services a,b] [--dry-run] [--yes] [--json]
 *                                           set the idle color's version in config/X.ts, cdk deploy, start and follow
 *   npm run release -- prepare --env X --version V [--services a,b] [--json]   only the config edit (for a pipeline)
 *   npm run release -- report  --env X [--execution ID] [--json]              the summary of a release (default: last)
 *   common: [--profile P] [--region R] [--endpoint URL]
 *
 * The state machine ARN and topology come from the outputs `ReleaseStateMachineArn` and `Topology` of `<Stage>-Stateless`.
 * Account, region and profile come from the environment's config (cli/account.ts): before any other AWS call the
 * credentials must belong to the config's account.
 * Exit codes: 0 done / released; 1 release failed or refused; 2 usage, unknown environment, credentials (missing,
 * rejected, another account's), stack not deployed.
 */
import { writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  HistoryEvent,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { readReleaseRecord } from '../lambda/release/record';
import { judgeVerdictEntries, judgeVerdictLines, STATUS_LEDGER_ENTRIES } from './judge-status';
import { readLedger } from '../lambda/traffic/ledger';
import {
  clientConfig,
  ClientOptions,
  createClients,
  destroyClients,
  errorMessage,
  findInLedger,
  formatWeights,
  type LedgerEntry,
  logger,
  readLock,
  readRules,
  releaseLock,
  rollback,
  type TrafficContext,
} from '../lambda/traffic';
import { SERVICE_NAME_PATTERN } from '../lambda/shared/topology';
import { type CommandHelp, ENVIRONMENTS, Environment, formatHelp, stackName, TARGET_USAGE, tokenize, UsageError } from './args';
import { imageVersionProblem } from '../config/validate';
import { explainRecord, formatReport, JSON_SCHEMA_VERSION, logsToStderr, publicRecord, toJson } from './format';
import { applyPlan, configVersions, deployArgs, formatPlan, loadVersions, planShip, ROOT, runCommand, shipCommands, verifyVersions } from './ship';
import { summarizeRelease, type ReleaseReport } from '../lambda/release/report';
import { classifyError, EnvironmentError, loadTopology, reportError } from './traffic';
import { awsTarget, EnvironmentTargets, verifyAccount } from './account';

/** The release CLI's commands (test/readme checks the README shows each). */
export const COMMANDS = ['start', 'status', 'abort', 'approve', 'unlock', 'ship', 'prepare', 'report'] as const;
type Command = (typeof COMMANDS)[number];

export interface ReleaseArgs {
  command: Command;
  env: Environment;
  strategy?: 'canary' | 'blue-green';
  /** Release even a downgrade (a version a completed release replaced). */
  force?: boolean;
  /** Release only these services (of those whose idle color runs a new version). @default - every such service */
  services?: readonly string[];
  follow: boolean;
  /** ship / prepare: the image tag or digest to release. */
  version?: string;
  /** ship: print the plan and the commands, change nothing. */
  dryRun?: boolean;
  /** ship: `cdk deploy --require-approval never` (a pipeline; without it cdk asks before security-broadening changes). */
  yes?: boolean;
  /** status / ship / prepare / report: one JSON document on stdout. */
  json?: boolean;
  /** report: the execution (ARN or name). @default - the last release */
  execution?: string;
  profile?: string;
  region?: string;
  endpoint?: string;
}

/** The release CLI's commands, each with a line and an example (`--help`). */
export const RELEASE_HELP: readonly CommandHelp[] = [
  {
    command: 'start',
    options: '[--strategy canary|blue-green] [--services a,b] [--force] [--no-follow]',
    summary: 'start the release of every service whose idle color runs a new version, and follow it (the default command; --force: release a downgrade)',
    example: 'npm run release -- --env staging',
  },
  {
    command: 'ship',
    options: '--version <tag|sha256:digest> [--services a,b] [--dry-run] [--yes] [--json]',
    summary: "set the idle color's version in config/<env>.ts, cdk deploy the environment, start the release and follow it (--dry-run: print the plan only; --yes: no cdk approval prompt)",
    example: 'npm run release -- ship --env staging --version 1.4.2 --dry-run',
  },
  {
    command: 'prepare',
    options: '--version <tag|sha256:digest> [--services a,b] [--json]',
    summary: "only set the idle color's version in config/<env>.ts and print the diff (a pipeline commits it, then deploys and starts)",
    example: 'npm run release -- prepare --env staging --version 1.4.2 --services backend',
  },
  { command: 'status', options: '[--json]', summary: 'weights, release record and lock, and the current or last execution with its latest steps', example: 'npm run release -- status --env production' },
  { command: 'report', options: '[--execution <id>] [--json]', summary: 'the summary of a release: versions, duration of each step, gate verdicts with their numbers, alarms seen', example: 'npm run release -- report --env production' },
  { command: 'approve', summary: 'send the approval the running release waits for', example: 'npm run release -- approve --env production' },
  { command: 'abort', summary: 'stop the running release, then roll traffic back to the stable color', example: 'npm run release -- abort --env staging' },
  { command: 'unlock', summary: 'clear the lock a failed safe state kept (after checking traffic)', example: 'npm run release -- unlock --env staging' },
];

export const USAGE = formatHelp(
  `usage: npm run release -- [command] --env <${ENVIRONMENTS.join('|')}> [--profile P] [--region R] [--endpoint URL] [options]`,
  RELEASE_HELP,
  [TARGET_USAGE, 'exit codes: 0 done / released; 1 release failed, rolled back, held or refused; 2 usage, environment or credentials'],
);

const RELEASE_VALUE_FLAGS = new Set(['env', 'strategy', 'services', 'profile', 'region', 'endpoint', 'version', 'execution']);
const RELEASE_BOOLEAN_FLAGS = new Set(['help', 'no-follow', 'force', 'dry-run', 'yes', 'json']);
const COMMON_FLAGS = ['env', 'profile', 'region', 'endpoint', 'help'];
/** The options of each command besides the common ones. */
const RELEASE_OPTIONS: Record<Command, readonly string[]> = {
  start: ['strategy', 'force', 'services', 'no-follow'],
  ship: ['version', 'services', 'dry-run', 'yes', 'json', 'strategy'],
  prepare: ['version', 'services', 'json'],
  status: ['json'],
  report: ['execution', 'json'],
  abort: [],
  approve: [],
  unlock: [],
};

export function parseReleaseArgs(argv: readonly string[]): ReleaseArgs {
  const { flags, positional } = tokenize(argv, RELEASE_VALUE_FLAGS, RELEASE_BOOLEAN_FLAGS);
  if (flags.has('help')) throw new UsageError(USAGE);
  if (positional.length > 1) throw new UsageError(`one command expected, got '${positional.join(' ')}'`);
  const command = (positional[0] ?? 'start') as Command;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${command}' (one of ${COMMANDS.join(', ')})`);
  for (const name of flags.keys()) {
    if (COMMON_FLAGS.includes(name) || RELEASE_OPTIONS[command].includes(name)) continue;
    const of = COMMANDS.filter((c) => RELEASE_OPTIONS[c].includes(name));
    throw new UsageError(`--${name} is an option of ${of.length > 1 ? `${of.slice(0, -1).join(', ')} and ${of[of.length - 1]}` : of[0]} only`);
  }
  const env = flags.get('env');
  if (env === undefined) throw new UsageError(`--env is required (one of ${ENVIRONMENTS.join(', ')})`);
  if (!ENVIRONMENTS.includes(env as Environment)) throw new UsageError(`unknown environment '${env}' (one of ${ENVIRONMENTS.join(', ')})`);
  const strategy = flags.get('strategy');
  if (strategy !== undefined && strategy !== 'canary' && strategy !== 'blue-green') throw new UsageError(`--strategy must be canary or blue-green, got '${strategy}'`);
  const services = flags.has('services') ? (flags.get('services') ?? '').split(',').map((s) => s.trim()) : undefined;
  // Which services exist is the environment's to say (the release's preflight refuses an unknown one, listing them).
  if (services && (services.length === 0 || services.some((s) => !SERVICE_NAME_PATTERN.test(s)))) {
    throw new UsageError(`--services must be a comma-separated list of service names, e.g. backend,search; got '${flags.get('services')}'`);
  }
  const version = flags.get('version');
  if (command === 'ship' || command === 'prepare') {
    if (version === undefined) throw new UsageError(`--version is required for ${command} (an image tag, e.g. 1.4.2, or a digest sha256:<64 hex>)`);
    const bad = imageVersionProblem(version);
    if (bad) throw new UsageError(`--version '${version}' ${bad.why}: ${bad.fix}`);
  }
  return {
    command,
    env: env as Environment,
    ...(strategy ? { strategy } : {}),
    ...(flags.has('force') ? { force: true } : {}),
    ...(services ? { services } : {}),
    follow: !flags.has('no-follow'),
    ...(version !== undefined ? { version } : {}),
    ...(flags.has('dry-run') ? { dryRun: true } : {}),
    ...(flags.has('yes') ? { yes: true } : {}),
    ...(flags.has('json') ? { json: true } : {}),
    ...(flags.has('execution') ? { execution: flags.get('execution') } : {}),
    ...(flags.has('profile') ? { profile: flags.get('profile') } : {}),
    ...(flags.has('region') ? { region: flags.get('region') } : {}),
    ...(flags.has('endpoint') ? { endpoint: flags.get('endpoint') } : {}),
  };
}

async function stateMachineArn(cfn: CloudFormationClient, env: Environment): Promise<string> {
  const name = stackName(env);
  const out = await cfn.send(new DescribeStacksCommand({ StackName: name })).catch((e) => {
    if ((e as Error)?.name === 'ValidationError') throw new EnvironmentError(`stack ${name} is not deployed (environment ${env})`);
    throw classifyError(e);
  });
  const arn = out.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'ReleaseStateMachineArn')?.OutputValue;
  if (!arn) throw new EnvironmentError(`stack ${name} has no output ReleaseStateMachineArn (the release state machine is not deployed)`);
  return arn;
}

/** Parses a state's input or output from the history; {} for a truncated, non-JSON or non-object payload. */
function payload(raw: string | undefined): { release?: { percent?: number; candidate?: string } } {
  try {
    const v: unknown = JSON.parse(raw ?? '{}');
    return v !== null && typeof v === 'object' ? (v as { release?: { percent?: number; candidate?: string } }) : {};
  } catch {
    return {};
  }
}

/** One line per interesting history event: step entered, gate results, failures. */
export function describeEvent(e: HistoryEvent): string | undefined {
  const t = e.timestamp ? e.timestamp.toISOString().slice(11, 19) : '';
  if (e.stateEnteredEventDetails) {
    const name = e.stateEnteredEventDetails.name ?? '';
    // A watched bake's polls (lib/release.ts bakeLoop: <bake>Wait, <bake>Watch, <bake>Done?) are not steps of their own.
    if (/^(Bake|FinalBake|RollbackWindow)(Wait|Watch|Done\?)$/.test(name)) return undefined;
    if (name === 'Bake' || name === 'FinalBake' || name === 'RollbackWindow') {
      const input = payload(e.stateEnteredEventDetails.input);
      return `${t}  ${name} at ${input.release?.percent ?? '?'}%`;
    }
    return `${t}  → ${name}`;
  }
  if (e.stateExitedEventDetails && ['Shift', 'Gate', 'Judge', 'FinalGate', 'WindowGate', 'PreTrafficChecks'].includes(e.stateExitedEventDetails.name ?? '')) {
    const out = payload(e.stateExitedEventDetails.output);
    return `${t}  ✓ ${e.stateExitedEventDetails.name}: new color ${out.release?.candidate ?? ''} at ${out.release?.percent ?? '?'}%`;
  }
  const fail = e.taskFailedEventDetails ?? e.executionFailedEventDetails ?? e.taskTimedOutEventDetails;
  if (fail) return `${t}  ✗ ${fail.error ?? ''}: ${(fail.cause ?? '').slice(0, 400)}`;
  return undefined;
}

/**
 * Prints each history event once, until the execution ends. Every poll reads the history newest first, back to the
 * last event printed, and prints the new ones in order (test/release/follow.test.ts); the status is read before the history, so the events that ended the
 * execution are printed before the final line.
 */
export async function follow(sfn: SFNClient, executionArn: string, out: (l: string) => void, pollMs: number): Promise<string> {
  let lastId = 0;
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    // Newest first, only back to the last event seen: a production release with watched bakes has thousands of
    // events, and re-reading them from the first on every poll would call GetExecutionHistory dozens of times a
    // second, past its quota (throttled: the follow would fail while the release runs on).
    const fresh: HistoryEvent[] = [];
    let token: string | undefined;
    let seen = false;
    do {
      const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: token, maxResults: 100, reverseOrder: true }));
      for (const e of h.events ?? []) {
        if ((e.id ?? 0) <= lastId) {
          seen = true;
          break;
        }
        fresh.push(e);
      }
      token = h.nextToken;
    } while (token && !seen);
    for (const e of fresh.reverse()) {
      lastId = Math.max(lastId, e.id ?? 0);
      const line = describeEvent(e);
      if (line) out(line);
    }
    if (d.status !== 'RUNNING') {
      out(`release ${d.status}${d.error ? `: ${d.error}: ${d.cause ?? ''}` : ''}`);
      return d.status ?? 'UNKNOWN';
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface ReleaseCliDeps {
  stdout?: (l: string) => void;
  stderr?: (l: string) => void;
  clientOptions?: Partial<ClientOptions>;
  pollMs?: number;
  environments?: EnvironmentTargets;
  /** ship/prepare: the repository root whose config/<env>.ts is edited (tests use a copy). @default - this repository */
  configRoot?: string;
  /** ship: runs `cdk deploy` (tests record it). @default - the command, its output on stderr */
  runCommand?: (argv: readonly string[]) => Promise<number>;
}

/** The newest ledger entries back to the start of `execution` (ARN or name; default the last release), at most 1000. */
async function readReport(ctx: TrafficContext, execution?: string): Promise<ReleaseReport | undefined> {
  const entries: LedgerEntry[] = [];
  const arn = execution;
  await findInLedger(ctx, (e) => {
    entries.push(e);
    return String(e.action) === 'release:started' && (arn === undefined || e.detail?.owner === arn || String(e.detail?.owner).endsWith(`:${arn}`)) ? true : undefined;
  });
  return summarizeRelease(entries, arn, Object.values(ctx.topology.rollbackAlarmNames).flat());
}

export async function main(argv: readonly string[], deps: ReleaseCliDeps = {}): Promise<number> {
  const out = deps.stdout ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = deps.stderr ?? ((l: string) => process.stderr.write(`${l}\n`));
  let args: ReleaseArgs;
  try {
    args = parseReleaseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError && e.message === USAGE) {
      out(USAGE);
      return 0;
    }
    err(`error: ${(e as Error).message} (see --help)`);
    return 2;
  }
  // --json: stdout is the one JSON document; every line a person reads goes to stderr.
  const doc = args.json ? out : undefined;
  const say = args.json ? err : out;
  if (args.json) logsToStderr();
  const target = awsTarget(args.env, args, deps.environments);
  const options: ClientOptions = { region: target.region, endpoint: args.endpoint, profile: target.profile, maxAttempts: 3, ...deps.clientOptions };
  const cfn = new CloudFormationClient(clientConfig(options));
  const sfn = new SFNClient(clientConfig(options));
  const clients = createClients({ ...options, maxAttempts: 1 });
  try {
    await verifyAccount(target, options);
    const [arn, topology] = await Promise.all([stateMachineArn(cfn, args.env), loadTopology(cfn, clients.dynamodb, args.env)]);
    const ctx = { clients, topology };
    const running = async () => (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'RUNNING', maxResults: 1 }))).executions?.[0];
    switch (args.command) {
      case 'start': {
        const actor = `cli:${safeUser()}@${hostname()}`;
        const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify({ actor, ...(args.strategy ? { strategy: args.strategy } : {}), ...(args.force ? { force: true } : {}), ...(args.services ? { services: args.services } : {}) }) }));
        out(`release of ${args.env} started: ${started.executionArn}`);
        if (!args.follow) return 0;
        return (await follow(sfn, started.executionArn!, out, deps.pollMs ?? 5000)) === 'SUCCEEDED' ? 0 : 1;
      }
      case 'status': {
        const rules = await readRules(ctx);
        if (doc) {
          const [rec, lock, exec] = await Promise.all([
            readReleaseRecord(ctx),
            readLock(ctx),
            (async () => (await running()) ?? (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1 }))).executions?.[0])(),
          ]);
          const h = exec ? await sfn.send(new GetExecutionHistoryCommand({ executionArn: exec.executionArn, reverseOrder: true, maxResults: 50 })) : undefined;
          doc(
            toJson({
              schemaVersion: JSON_SCHEMA_VERSION,
              command: 'release status',
              environment: args.env,
              weights: Object.fromEntries(Object.keys(rules).map((s) => [s, rules[s].weights])),
              releaseRecord: publicRecord(rec),
              lock: lock ?? null,
              execution: exec
                ? {
                    name: exec.name,
                    executionArn: exec.executionArn,
                    status: exec.status,
                    startDate: exec.startDate?.toISOString(),
                    stopDate: exec.stopDate?.toISOString() ?? null,
                    events: (h?.events ?? []).map(describeEvent).filter(Boolean).slice(0, 12).reverse(),
                  }
                : null,
              // The judge's last verdicts of that execution, each with its numbers (as the ledger holds them).
              judgeVerdicts: exec
                ? judgeVerdictEntries(await readLedger(ctx, STATUS_LEDGER_ENTRIES), exec.executionArn!).map((e) => ({ time: e.time, ...(e.detail as object) }))
                : [],
            }),
          );
          return 0;
        }
        out(Object.keys(rules).map((s) => `${s.padEnd(9)} ${formatWeights(rules[s].weights)}`).join('\n'));
        const [rec, lock] = await Promise.all([readReleaseRecord(ctx), readLock(ctx)]);
        for (const line of explainRecord(args.env, rec, lock)) out(line);
        const exec = (await running()) ?? (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1 }))).executions?.[0];
        if (!exec) {
          out('no release has run yet');
          return 0;
        }
        out(`last release: ${exec.name} ${exec.status} (started ${exec.startDate?.toISOString()})`);
        const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn: exec.executionArn, reverseOrder: true, maxResults: 50 }));
        for (const line of (h.events ?? []).map(describeEvent).filter(Boolean).slice(0, 12).reverse()) out(line!);
        for (const line of judgeVerdictLines(await readLedger(ctx, STATUS_LEDGER_ENTRIES), exec.executionArn!)) out(line);
        return 0;
      }
      case 'abort': {
        const exec = await running();
        const rec = await readReleaseRecord(ctx);
        if (exec) {
          await sfn.send(new StopExecutionCommand({ executionArn: exec.executionArn, error: 'Aborted', cause: `aborted by ${safeUser()}` }));
          out(`stopped ${exec.executionArn}`);
        }
        const to = rec && rec.executionArn === exec?.executionArn ? rec.stable : undefined;
        const r = await rollback(ctx, { to, actor: `cli:${safeUser()}`, reason: 'release aborted' });
        out(`rolled back to ${r.to}: ${Object.entries(r.shift.weightsAfter).map(([s, w]) => `${s} ${formatWeights(w!)}`).join(', ')}`);
        return 0;
      }
      case 'report': {
        const report = await readReport(ctx, args.execution);
        if (!report) {
          err(`no release${args.execution ? ` ${args.execution}` : ''} of ${args.env} in the last 1000 ledger entries`);
          return 1;
        }
        if (doc) doc(toJson({ schemaVersion: JSON_SCHEMA_VERSION, command: 'release report', environment: args.env, report }));
        else for (const line of formatReport(report)) out(line);
        return 0;
      }
      case 'ship':
      case 'prepare': {
        const root = deps.configRoot ?? ROOT;
        // The config as it is on disk now (loaded and validated in a fresh process), not as this process loaded it.
        const [config, rules, lock, exec] = await Promise.all([loadVersions(args.env, root).then((v) => configVersions(args.env, v)), readRules(ctx), readLock(ctx), running()]);
        const live = Object.fromEntries(Object.keys(rules).map((s) => [s, { weights: rules[s].weights }]));
        const held = lock ?? (exec ? { environment: args.env, owner: exec.executionArn!, expiresAt: 0, expired: false } : undefined);
        const plan = planShip({ config, live, lock: held, version: args.version!, services: args.services });
        const commands = args.command === 'ship' ? shipCommands(plan, { profile: target.profile, yes: args.yes, strategy: args.strategy }) : [];
        const result: Record<string, unknown> = { schemaVersion: JSON_SCHEMA_VERSION, command: args.command, environment: args.env, version: args.version, dryRun: !!args.dryRun, plan, commands };
        const end = (outcome: string, code: number) => {
          if (doc) doc(toJson({ ...result, outcome, exitCode: code }));
          return code;
        };
        for (const line of formatPlan(plan)) say(line);
        if (plan.refusals.length > 0) return end('refused', 1);
        if (plan.release.length === 0) {
          say(`nothing to ${args.command}: the live color of every service already serves ${args.version}`);
          return end('nothing-to-do', 0);
        }
        if (args.dryRun) {
          say(`would edit ${plan.file} (${plan.services.filter((x) => x.action === 'set').map((x) => `${x.service}.colors.${x.idleColor}.version`).join(', ') || 'nothing'}), then run:`);
          for (const c of commands) say(`  ${c}`);
          return end('planned', 0);
        }
        const applied = applyPlan(plan, root);
        result.diff = applied.diff;
        for (const line of applied.diff.length ? applied.diff : [`${plan.file} unchanged`]) say(line);
        const problems = verifyVersions(
          plan,
          await loadVersions(args.env, root).catch((e) => {
            writeFileSync(path.join(root, plan.file), applied.original);
            throw new Error(`after the edit, ${errorMessage(e)}; the file is restored`);
          }),
        );
        if (problems.length > 0) {
          writeFileSync(path.join(root, plan.file), applied.original);
          err(`refused: after the edit, ${plan.file} says ${problems.join('; ')}; the file is restored. Edit it by hand`);
          return end('refused', 1);
        }
        if (args.command === 'prepare') return end('prepared', 0);
        say(`$ ${commands[0]}`);
        const deployed = await (deps.runCommand ?? runCommand)(deployArgs(args.env, { profile: target.profile, yes: args.yes }));
        if (deployed !== 0) {
          err(`cdk deploy exited ${deployed}: no release started; ${plan.file} keeps the new version (run ship again once the deploy works: the idle color already has it; or git checkout ${plan.file})`);
          return end('deploy-failed', 1);
        }
        const actor = `cli:${safeUser()}@${hostname()}`;
        const started = await sfn.send(
          new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify({ actor, services: plan.release, ...(args.strategy ? { strategy: args.strategy } : {}) }) }),
        );
        result.executionArn = started.executionArn;
        say(`release of ${args.env} started: ${started.executionArn}`);
        const status = await follow(sfn, started.executionArn!, say, deps.pollMs ?? 5000);
        result.status = status;
        const report = await readReport(ctx, started.executionArn).catch(() => undefined);
        if (report) {
          result.report = report;
          for (const line of formatReport(report)) say(line);
        }
        return end(status === 'SUCCEEDED' ? 'released' : 'release-failed', status === 'SUCCEEDED' ? 0 : 1);
      }
      case 'unlock': {
        const [rec, lock] = await Promise.all([readReleaseRecord(ctx), readLock(ctx)]);
        if (!lock) {
          out(`the release lock of ${args.env} is free`);
          return 0;
        }
        // Only the lock a failed safe state kept on purpose; anything else is a running release or a traffic CLI command.
        if (!rec || rec.status !== 'safe-failed' || rec.executionArn !== lock.owner) {
          err(
            `refused: the release lock of ${args.env} is held by ${lock.owner}, which is not a release whose safe state failed ` +
              `(record: ${rec ? `${rec.executionArn} ${rec.status}` : 'none'}); wait for it, or abort it (npm run release -- abort --env ${args.env})`,
          );
          return 1;
        }
        await releaseLock(ctx, lock.owner);
        out(`released the lock kept by ${lock.owner} (safe-failed: ${rec.error ?? 'no error recorded'}); check traffic with npm run traffic -- status --env ${args.env}`);
        return 0;
      }
      case 'approve': {
        const rec = await readReleaseRecord(ctx);
        if (!rec || rec.status !== 'awaiting-approval' || !rec.taskToken) {
          err(`no release of ${args.env} is waiting for approval${rec ? ` (last: ${rec.executionArn} ${rec.status})` : ''}`);
          return 1;
        }
        await sfn.send(new SendTaskSuccessCommand({ taskToken: rec.taskToken, output: JSON.stringify({ approvedBy: safeUser(), at: new Date().toISOString() }) }));
        out(`approved ${rec.executionArn}`);
        return 0;
      }
    }
  } catch (e) {
    return reportError(e, err);
  } finally {
    cfn.destroy();
    sfn.destroy();
    destroyClients(clients);
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
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
