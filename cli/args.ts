/** Argument parsing of the traffic CLI: pure, throws UsageError (exit 2) with one clear line. */
import { ENVIRONMENTS as CONFIGS, type EnvironmentName, stageName } from '../config';
import { Color, COLORS, ServiceName, SERVICE_NAME_PATTERN } from '../lambda/shared/topology';

export type Environment = EnvironmentName;
/** Every environment of config/index.ts, in its order: a new config/<env>.ts listed there is known to the CLIs. */
export const ENVIRONMENTS: readonly Environment[] = Object.keys(CONFIGS) as Environment[];
export const COMMANDS = ['status', 'shift', 'promote', 'rollback', 'scale', 'healthcheck'] as const;
export type Command = (typeof COMMANDS)[number];

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface Common {
  env: Environment;
  profile?: string;
  region?: string;
  endpoint?: string;
  reason?: string;
}

export type CliArgs = Common &
  (
    | { command: 'status'; json?: boolean }
    | { command: 'shift'; to: Color; percent: number; service?: ServiceName }
    | { command: 'promote' }
    | { command: 'rollback'; to?: Color; keepOther: boolean }
    | { command: 'scale'; color: Color; count: number }
    | { command: 'scale'; color: Color; restore: true }
    | { command: 'healthcheck'; color: Color; baseUrl?: string }
  );

/** How every CLI reaches an environment (cli/account.ts), for the usage texts. */
export const TARGET_USAGE =
  'account, region and profile come from config/<env>.ts (profile: cli.profile, else the default credential chain); ' +
  '--region and --profile override; credentials of another account are refused';

/** The traffic CLI's commands, each with a line and an example (`--help`). */
export const TRAFFIC_HELP: readonly CommandHelp[] = [
  { command: 'status', options: '[--json]', summary: 'weights, healthy targets per AZ, counts, versions, alarms and lock of every service (--json: one JSON document)', example: 'npm run traffic -- status --env staging' },
  {
    command: 'shift',
    options: '--to <blue|green> --percent N [--service NAME] [--reason TEXT]',
    summary: 'send N% of traffic (of one service, default all) to a color; takes the release lock',
    example: 'npm run traffic -- shift --env staging --to green --percent 10 --reason "manual canary"',
  },
  { command: 'promote', options: '[--reason TEXT]', summary: 'all traffic to the non-live color; takes the release lock', example: 'npm run traffic -- promote --env staging' },
  {
    command: 'rollback',
    options: '[--to <blue|green>] [--keep-other] [--reason TEXT]',
    summary: 'all traffic back to the stable color ignoring the lock, then scale the other color to 0 (--keep-other: leave it running)',
    example: 'npm run traffic -- rollback --env production --to blue',
  },
  { command: 'scale', options: '--color <blue|green> (--count N | --restore)', summary: "set a color's desired count, or restore it to the live color's counts", example: 'npm run traffic -- scale --env dev --color green --count 0' },
  {
    command: 'healthcheck',
    options: '--color <blue|green> [--base-url URL]',
    summary: "the release's pre-traffic checks (GET every health path of every service through the test listener with the color header); no AWS call",
    example: 'npm run traffic -- healthcheck --env staging --color green',
  },
];

export const USAGE = formatHelp(
  `usage: npm run traffic -- <command> --env <${ENVIRONMENTS.join('|')}> [--profile P] [--region R] [--endpoint URL] [options]`,
  TRAFFIC_HELP,
  [TARGET_USAGE],
);

const VALUE_FLAGS = new Set(['env', 'profile', 'region', 'endpoint', 'to', 'percent', 'service', 'color', 'count', 'base-url', 'reason']);
const BOOLEAN_FLAGS = new Set(['restore', 'keep-other', 'help', 'json']);

const ALLOWED: Record<Command, string[]> = {
  status: ['json'],
  shift: ['to', 'percent', 'service', 'reason'],
  promote: ['reason'],
  rollback: ['to', 'keep-other', 'reason'],
  scale: ['color', 'count', 'restore', 'reason'],
  healthcheck: ['color', 'base-url'],
};
const COMMON = ['env', 'profile', 'region', 'endpoint'];

function serviceFlag(value: string | undefined): ServiceName {
  if (value === undefined || !SERVICE_NAME_PATTERN.test(value)) throw new UsageError(`--service must be a service name of the environment (e.g. frontend), got ${JSON.stringify(value)}`);
  return value;
}

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value === undefined) throw new UsageError(`--${flag} is required (one of ${allowed.join(', ')})`);
  if (!allowed.includes(value as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

function int(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined) throw new UsageError(`--${flag} is required (an integer ${min}–${max})`);
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be an integer ${min}–${max}, got '${value}'`);
  }
  return Number(value);
}

/**
 * Splits argv into positional words and `--flag value` / `--flag=value` / boolean `--flag` options,
 * for every CLI of the project. Throws UsageError on unknown, repeated or value-less flags.
 */
export function tokenize(
  argv: readonly string[],
  valueFlags: ReadonlySet<string>,
  booleanFlags: ReadonlySet<string>,
): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (flags.has(name)) throw new UsageError(`--${name} given more than once`);
    if (booleanFlags.has(name)) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, 'true');
    } else if (valueFlags.has(name)) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { flags, positional };
}

/** Parses argv (without node and script). Throws UsageError; `--help` throws UsageError(USAGE). */
export function parseArgs(argv: readonly string[]): CliArgs {
  const { flags, positional } = tokenize(argv, VALUE_FLAGS, BOOLEAN_FLAGS);
  if (flags.has('help')) throw new UsageError(USAGE);
  if (positional.length === 0) throw new UsageError(`a command is required (one of ${COMMANDS.join(', ')})`);
  if (positional.length > 1) throw new UsageError(`one command expected, got '${positional.join(' ')}'`);
  const command = positional[0] as Command;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${positional[0]}' (one of ${COMMANDS.join(', ')})`);
  for (const name of flags.keys()) {
    if (!COMMON.includes(name) && !ALLOWED[command].includes(name)) throw new UsageError(`--${name} is not an option of ${command}`);
  }
  const env = flags.get('env');
  if (env === undefined) throw new UsageError(`--env is required (one of ${ENVIRONMENTS.join(', ')})`);
  if (!ENVIRONMENTS.includes(env as Environment)) throw new UsageError(`unknown environment '${env}' (one of ${ENVIRONMENTS.join(', ')})`);
  const endpoint = flags.get('endpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL, got '${endpoint}'`);
  const common: Common = {
    env: env as Environment,
    ...(flags.has('profile') ? { profile: flags.get('profile') } : {}),
    ...(flags.has('region') ? { region: flags.get('region') } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(flags.has('reason') ? { reason: flags.get('reason') } : {}),
  };
  switch (command) {
    case 'status':
      return { ...common, command, ...(flags.has('json') ? { json: true } : {}) };
    case 'promote':
      return { ...common, command };
    case 'shift':
      return {
        ...common,
        command,
        to: choice('to', flags.get('to'), COLORS),
        percent: int('percent', flags.get('percent'), 0, 100),
        // Which services exist is the environment's topology's to say: the shift refuses an unknown one, listing them.
        ...(flags.has('service') ? { service: serviceFlag(flags.get('service')) } : {}),
      };
    case 'rollback':
      return {
        ...common,
        command,
        ...(flags.has('to') ? { to: choice('to', flags.get('to'), COLORS) } : {}),
        keepOther: flags.has('keep-other'),
      };
    case 'scale': {
      const color = choice('color', flags.get('color'), COLORS);
      if (flags.has('restore')) {
        if (flags.has('count')) throw new UsageError('give either --count or --restore, not both');
        return { ...common, command, color, restore: true };
      }
      if (!flags.has('count')) throw new UsageError('--count is required (an integer 0–1000), or --restore');
      return { ...common, command, color, count: int('count', flags.get('count'), 0, 1000) };
    }
    case 'healthcheck': {
      const color = choice('color', flags.get('color'), COLORS);
      const baseUrl = flags.get('base-url');
      if (baseUrl === undefined) return { ...common, command, color };
      if (!/^https?:\/\/[^\s]+$/.test(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL, got '${baseUrl}'`);
      return { ...common, command, color, baseUrl: baseUrl.replace(/\/+$/, '') };
    }
  }
}

/** Stack holding the `Topology` output: `<Stage>-Stateless`, Stage = Dev | Staging | Production. */
export function stackName(env: Environment): string {
  // The stage name as lib/app.ts gives it (`perf-eu` → `PerfEu`).
  return `${stageName(env)}-Stateless`;
}

/** Stack holding the network and the database: `<Stage>-Stateful`. */
export function statefulStackName(env: Environment): string {
  return `${stageName(env)}-Stateful`;
}

/** One command of a CLI's help: what it does in a line, and an example that works as written. */
export interface CommandHelp {
  readonly command: string;
  /** Its options, e.g. `--to <blue|green> --percent N`. */
  readonly options?: string;
  readonly summary: string;
  readonly example: string;
}

/**
 * The help text of a CLI (every CLI of the project renders its `--help` with this): usage, one line per command with
 * its options and an example below it, then notes. Tests check every command a CLI dispatches is in its help.
 */
export function formatHelp(usage: string, commands: readonly CommandHelp[], notes: readonly string[] = []): string {
  return [
    usage,
    'commands:',
    ...commands.flatMap((c) => [`  ${c.command}${c.options ? ` ${c.options}` : ''}`, `      ${c.summary}`, `      e.g. ${c.example}`]),
    ...notes,
  ].join('\n');
}
