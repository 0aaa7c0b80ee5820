/**
 * `npm run release -- ship|prepare`: from a version to a release in one command.
 *
 * `planShip` (pure) decides, from the live state (which color serves each service, the release lock) and the config,
 * which services change and on which color; `applyPlan` edits config/<env>.ts (cli/config-edit.ts) and verifies the
 * result by loading the config in a fresh process; `deployArgs` is the `cdk deploy` the ship runs before it starts the
 * release (cli/release.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { EnvironmentConfig } from '../config';
import { stageName } from '../config';
import { imageVersionProblem } from '../config/validate';
import { Color, otherColor } from '../lambda/shared/topology';
import { formatWeights, liveColorOf, type LockInfo, type Weights } from '../lambda/traffic';
import { lineDiff, setColorVersion } from './config-edit';

export const ROOT = path.resolve(__dirname, '..');

/** What each named service gets. */
export type ShipAction =
  /** The idle color's version is edited to the new one. */
  | 'set'
  /** The idle color already has the new version in config: no edit; released as it is. */
  | 'idle-has-it'
  /** The live color already serves the new version: nothing to release for this service. */
  | 'live-has-it';

export interface ShipService {
  readonly service: string;
  readonly liveColor: Color;
  readonly idleColor: Color;
  readonly liveVersion: string;
  /** The idle color's version in config before the edit. */
  readonly from: string;
  readonly to: string;
  readonly action: ShipAction;
}

export interface ShipPlan {
  readonly env: string;
  readonly version: string;
  /** config/<env>.ts, relative to the repository root. */
  readonly file: string;
  readonly services: readonly ShipService[];
  /** The services the release will move (`--services` of the start): those whose idle color gets or has the version. */
  readonly release: readonly string[];
  /** Why nothing may be done, one line each; empty when the plan can go ahead. */
  readonly refusals: readonly string[];
}

export interface LiveService {
  readonly weights: Weights;
}

/**
 * Pure: the plan for `version` on `services` (default every service of the config) of `config`, given each service's
 * weights as deployed and the release lock. Refuses while the lock is held (a release is running or its safe state
 * kept it), while any named service's traffic is split, when a named service is unknown or not deployed, and when the
 * services to release are live on different colors (one release moves its services from one color to the other).
 */
/** What the planner needs of a config: its name and each service's versions per color. */
export interface ConfigVersions {
  readonly name: string;
  readonly services: Readonly<Record<string, { readonly colors: Readonly<Record<Color, { readonly version: string }>> }>>;
}

/** Versions as `loadVersions` returns them, in the planner's shape. */
export function configVersions(env: string, versions: Record<string, Record<Color, string>>): ConfigVersions {
  return { name: env, services: Object.fromEntries(Object.entries(versions).map(([s, v]) => [s, { colors: { blue: { version: v.blue }, green: { version: v.green } } }])) };
}

export function planShip(input: {
  readonly config: ConfigVersions | Pick<EnvironmentConfig, 'name' | 'services'>;
  readonly live: Readonly<Record<string, LiveService>>;
  readonly lock?: LockInfo;
  readonly version: string;
  readonly services?: readonly string[];
}): ShipPlan {
  const { config, live, version } = input;
  const env = config.name;
  const all = Object.keys(config.services);
  const versionsOf = (s: string) => config.services[s].colors;
  const named = input.services ?? all;
  const refusals: string[] = [];
  const bad = imageVersionProblem(version);
  if (bad) refusals.push(`--version '${version}' ${bad.why}: ${bad.fix}`);
  const unknown = named.filter((s) => !all.includes(s));
  if (unknown.length > 0) refusals.push(`no service ${unknown.join(', ')} in config/${env}.ts: its services are ${all.join(', ')}`);
  if (input.lock && !input.lock.expired) {
    refusals.push(`the release lock of ${env} is held by ${input.lock.owner}: a release is running (or its safe state kept the lock); wait for it (npm run release -- status --env ${env})`);
  }
  const services: ShipService[] = [];
  for (const s of named.filter((n) => all.includes(n))) {
    const w = live[s]?.weights;
    if (!w) {
      refusals.push(`${s} is not deployed in ${env} (no listener rule in its topology): deploy the environment first (npx cdk deploy '${stageName(env)}/*')`);
      continue;
    }
    if (w.blue > 0 && w.green > 0) {
      refusals.push(`traffic of ${s} is split (${formatWeights(w)}): finish or roll back the release in progress first`);
      continue;
    }
    const liveColor = liveColorOf(w);
    const idleColor = otherColor(liveColor);
    const colors = versionsOf(s);
    const from = colors[idleColor].version;
    const liveVersion = colors[liveColor].version;
    const action: ShipAction = liveVersion === version ? 'live-has-it' : from === version ? 'idle-has-it' : 'set';
    services.push({ service: s, liveColor, idleColor, liveVersion, from, to: version, action });
  }
  const release = services.filter((s) => s.action !== 'live-has-it');
  const lives = [...new Set(release.map((s) => s.liveColor))];
  if (lives.length > 1) {
    refusals.push(
      `the services to release are live on different colors (${release.map((s) => `${s.service} on ${s.liveColor}`).join(', ')}); ` +
        `one release moves its services from one color to the other: ship them separately with --services`,
    );
  }
  return { env, version, file: `config/${env}.ts`, services, release: release.map((s) => s.service), refusals };
}

/** The `cdk deploy` of the environment's stacks with the pinned local CLI; `--yes` skips cdk's approval of security changes. */
export function deployArgs(env: string, opts: { readonly profile?: string; readonly yes?: boolean }): string[] {
  return [
    path.join('node_modules', '.bin', 'cdk'),
    'deploy',
    `${stageName(env)}/*`,
    '--require-approval',
    opts.yes ? 'never' : 'broadening',
    ...(opts.profile ? ['--profile', opts.profile] : []),
  ];
}

/** The commands the ship runs after the edit, as a person would type them (for --dry-run and the log). */
export function shipCommands(plan: ShipPlan, opts: { readonly profile?: string; readonly yes?: boolean; readonly strategy?: string }): string[] {
  return [
    deployArgs(plan.env, opts).map((a) => (a.includes('*') ? `'${a}'` : a)).join(' '),
    `npm run release -- --env ${plan.env} --services ${plan.release.join(',')}${opts.strategy ? ` --strategy ${opts.strategy}` : ''}${opts.profile ? ` --profile ${opts.profile}` : ''}`,
  ];
}

const WHAT: Record<ShipAction, string> = {
  set: 'set',
  'idle-has-it': 'unchanged: the idle color already has this version',
  'live-has-it': 'nothing to release: the live color already serves this version',
};

/** The plan as lines: services, idle colors, old → new versions. */
export function formatPlan(plan: ShipPlan): string[] {
  const width = Math.max(7, ...plan.services.map((s) => s.service.length));
  return [
    `${plan.env}: version ${plan.version}`,
    ...plan.services.map(
      (s) => `  ${s.service.padEnd(width)}  live ${s.liveColor} ${s.liveVersion}; idle ${s.idleColor} ${s.from} → ${s.to}  (${WHAT[s.action]})`,
    ),
    ...plan.refusals.map((r) => `refused: ${r}`),
  ];
}

export interface Applied {
  readonly diff: readonly string[];
  /** The file's text before the edit (to put back). */
  readonly original: string;
}

/** Edits config/<env>.ts under `root` for every `set` service and writes it; returns the diff. */
export function applyPlan(plan: ShipPlan, root: string = ROOT): Applied {
  const full = path.join(root, plan.file);
  const original = readFileSync(full, 'utf8');
  let text = original;
  for (const s of plan.services.filter((x) => x.action === 'set')) {
    const edit = setColorVersion(text, plan.file, s.service, s.idleColor, s.to);
    if (edit.before !== s.from) {
      throw new Error(`${plan.file} says ${s.service}.colors.${s.idleColor}.version is '${edit.before}', but the loaded config said '${s.from}' (edited meanwhile?); run again`);
    }
    text = edit.text;
  }
  if (text !== original) writeFileSync(full, text);
  return { diff: lineDiff(plan.file, original, text), original };
}

/**
 * Loads config/index.ts under `root` in a fresh process (this one has the old config loaded), validates the
 * environment and returns each service's versions: what the config now says, as the app will synthesize it.
 */
export async function loadVersions(env: string, root: string = ROOT): Promise<Record<string, Record<Color, string>>> {
  const code =
    `try { const { ENVIRONMENTS, validateConfig } = require(require('node:path').join(process.argv[1], 'config'));` +
    `const c = validateConfig(ENVIRONMENTS[process.argv[2]]);` +
    `process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(c.services).map(([s, v]) => [s, { blue: v.colors.blue.version, green: v.colors.green.version }]))));` +
    `} catch (e) { process.stderr.write(String((e && e.message) || e)); process.exit(1); }`;
  try {
    const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['-e', code, root, env], { cwd: root, timeout: 60000 });
    return JSON.parse(stdout) as Record<string, Record<Color, string>>;
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`config/${env}.ts does not load: ${stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 8).join(' ') || (e as Error).message}`);
  }
}

/** What the edited config says differs from the plan: one line per difference (empty: verified). */
export function verifyVersions(plan: ShipPlan, versions: Record<string, Record<Color, string>>): string[] {
  return plan.services
    .filter((s) => s.action !== 'live-has-it')
    .flatMap((s) => {
      const got = versions[s.service];
      const problems: string[] = [];
      if (got?.[s.idleColor] !== s.to) problems.push(`${s.service}.colors.${s.idleColor}.version is '${got?.[s.idleColor]}', expected '${s.to}'`);
      if (got?.[s.liveColor] !== s.liveVersion) problems.push(`${s.service}.colors.${s.liveColor}.version (live) is '${got?.[s.liveColor]}', expected it unchanged ('${s.liveVersion}')`);
      return problems;
    });
}

/** Runs a command with its output on this process's stderr (stdout stays the CLI's own, e.g. --json). Resolves its exit code. */
export function runCommand(argv: readonly string[], cwd: string = ROOT): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['inherit', 2, 2] });
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 1));
  });
}
