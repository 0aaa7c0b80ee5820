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
 *   common: [--profile P] [--region R] [--endpoint URL]
 *
 * The state machine ARN and topology come from the outputs `ReleaseStateMachineArn` and `Topology` of `<Stage>-Stateless`.
 * Account, region and profile come from the environment's config (cli/account.ts): before any other AWS call the
 * credentials must belong to the config's account.
 * Exit codes: 0 done / released; 1 release failed or refused; 2 usage, unknown environment, credentials (missing,
 * rejected, another account's), stack not deployed.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { hostname, userInfo } from 'node:os';
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
import { judgeVerdictLines, STATUS_LEDGER_ENTRIES } from './judge-status';
import { readLedger } from '../lambda/traffic/ledger';
import {
  clientConfig,
  ClientOptions,
  createClients,
  destroyClients,
  errorMessage,
  formatWeights,
  logger,
  readLock,
  readRules,
  releaseLock,
  rollback,
} from '../lambda/traffic';
import { SERVICE_NAME_PATTERN } from '../lambda/shared/topology';
import { ENVIRONMENTS, Environment, stackName, TARGET_USAGE, tokenize, UsageError } from './args';
import { explainRecord } from './format';
import { classifyError, EnvironmentError, loadTopology, reportError } from './traffic';
import { awsTarget, EnvironmentTargets, verifyAccount } from './account';

const COMMANDS = ['start', 'status', 'abort', 'approve', 'unlock'] as const;
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
  profile?: string;
  region?: string;
  endpoint?: string;
}

export const USAGE = `usage: npm run release -- [start|status|abort|approve|unlock] --env <${ENVIRONMENTS.join('|')}> [--strategy canary|blue-green] [--force] [--services a,b] [--no-follow] [--profile P] [--region R] [--endpoint URL]
${TARGET_USAGE}`;

const RELEASE_VALUE_FLAGS = new Set(['env', 'strategy', 'services', 'profile', 'region', 'endpoint']);
const RELEASE_BOOLEAN_FLAGS = new Set(['help', 'no-follow', 'force']);

export function parseReleaseArgs(argv: readonly string[]): ReleaseArgs {
  const { flags, positional } = tokenize(argv, RELEASE_VALUE_FLAGS, RELEASE_BOOLEAN_FLAGS);
  if (flags.has('help')) throw new UsageError(USAGE);
  if (positional.length > 1) throw new UsageError(`one command expected, got '${positional.join(' ')}'`);
  const command = (positional[0] ?? 'start') as Command;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${command}' (one of ${COMMANDS.join(', ')})`);
  const env = flags.get('env');
  if (env === undefined) throw new UsageError(`--env is required (one of ${ENVIRONMENTS.join(', ')})`);
  if (!ENVIRONMENTS.includes(env as Environment)) throw new UsageError(`unknown environment '${env}' (one of ${ENVIRONMENTS.join(', ')})`);
  const strategy = flags.get('strategy');
  if (strategy !== undefined && strategy !== 'canary' && strategy !== 'blue-green') throw new UsageError(`--strategy must be canary or blue-green, got '${strategy}'`);
  if (strategy !== undefined && command !== 'start') throw new UsageError('--strategy is an option of start only');
  if (flags.has('force') && command !== 'start') throw new UsageError('--force is an option of start only');
  if (flags.has('services') && command !== 'start') throw new UsageError('--services is an option of start only');
  const services = flags.has('services') ? (flags.get('services') ?? '').split(',').map((s) => s.trim()) : undefined;
  // Which services exist is the environment's to say (the release's preflight refuses an unknown one, listing them).
  if (services && (services.length === 0 || services.some((s) => !SERVICE_NAME_PATTERN.test(s)))) {
    throw new UsageError(`--services must be a comma-separated list of service names, e.g. backend,search; got '${flags.get('services')}'`);
  }
  return {
    command,
    env: env as Environment,
    ...(strategy ? { strategy } : {}),
    ...(flags.has('force') ? { force: true } : {}),
    ...(services ? { services } : {}),
    follow: !flags.has('no-follow'),
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
 * Prints each history event once, until the execution ends. Every poll pages through the history and prints only the
 * events newer than the last one printed; the status is read before the history, so the events that ended the
 * execution are printed before the final line.
 */
async function follow(sfn: SFNClient, executionArn: string, out: (l: string) => void, pollMs: number): Promise<string> {
  let lastId = 0;
  for (;;) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    let token: string | undefined;
    do {
      const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: token, maxResults: 100 }));
      for (const e of h.events ?? []) {
        if ((e.id ?? 0) <= lastId) continue;
        lastId = e.id ?? lastId;
        const line = describeEvent(e);
        if (line) out(line);
      }
      token = h.nextToken;
    } while (token);
    if (d.status !== 'RUNNING') {
      out(`release ${d.status}${d.error ? `: ${d.error}: ${d.cause ?? ''}` : ''}`);
      return d.status ?? 'UNKNOWN';
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function main(
  argv: readonly string[],
  deps: { stdout?: (l: string) => void; stderr?: (l: string) => void; clientOptions?: Partial<ClientOptions>; pollMs?: number; environments?: EnvironmentTargets } = {},
): Promise<number> {
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
