/**
 * `npm run bench`: the figures the issues name, each the median of several runs on this machine.
 *
 *   synth of all environments (npm run synth)        target <= 10 s
 *   unit test suite (no emulator)                    target <= 60 s
 *   each Lambda bundle: size                         target <= 400 KB
 *   each Lambda bundle: module init in Node          target <= 100 ms
 *   verified coordinated shift against moto          (scripts/bench-traffic.ts)
 *   scripts/bench-*.ts added by later issues         (their last JSON line)
 *
 * Prints a table, then the whole result as one JSON line; progress (one line per figure as it is measured) goes to stderr.
 *
 * `npm run bench -- <name>` runs only scripts/bench-<name>.ts and prints its lines but the last (JSON) one, e.g.
 * `npm run bench -- judge` prints the judge's one line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { median } from './lib/stats';

const ROOT = path.join(__dirname, '..');
const SYNTH_RUNS = Number(process.env.BENCH_SYNTH_RUNS ?? 5);
const TEST_RUNS = Number(process.env.BENCH_TEST_RUNS ?? 3);
const INIT_RUNS = Number(process.env.BENCH_INIT_RUNS ?? 9);
/** Test files that start the moto emulator (directly or through a harness) are not part of the unit suite. */
function emulatorTestFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.test.ts') && /\bmoto\b/i.test(fs.readFileSync(p, 'utf8'))) out.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, 'test'));
  return out.sort();
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.toString().slice(-2000)}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The handler bundles of the last synth (both production stacks), found through the templates' asset metadata. */
function bundles(): { name: string; file: string }[] {
  const dir = path.join(ROOT, 'cdk.out', 'assembly-Production');
  const templates = fs.readdirSync(dir).filter((f) => /^Production(Stateless|Stateful).*\.template\.json$/.test(f));
  if (templates.length < 2) throw new Error('no synthesized Production templates; synth failed?');
  return templates.flatMap((template) => {
    const resources = JSON.parse(fs.readFileSync(path.join(dir, template), 'utf8')).Resources as Record<string, any>;
    return Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'])
      .map(([id, r]) => ({ name: id.replace(/Function[0-9A-F]{8}$/, ''), dir: path.join(dir, r.Metadata['aws:asset:path']) }))
      .filter((b) => fs.existsSync(path.join(b.dir, 'index.mjs')))
      .map((b) => ({ name: b.name, file: path.join(b.dir, 'index.mjs') }));
  });
}

/** Time to import a bundle in a fresh Node process, as a cold start pays it (without the runtime's own start). */
function initMs(file: string): number {
  const runs: number[] = [];
  for (let i = 0; i < INIT_RUNS; i++) {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t)`],
      { env: { ...process.env, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    runs.push(Number(out.toString().trim()));
  }
  return median(runs);
}

function lastJsonLine(script: string): Record<string, unknown> {
  const out = execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), [script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  const line = out.trim().split('\n').pop()!;
  return JSON.parse(line);
}

/** One line of progress on stderr, so stdout stays the table and the JSON line. */
function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** `npm run bench -- judge`: one bench script alone, its human lines (not its JSON line). */
function only(name: string): void {
  const script = path.join('scripts', `bench-${name}.ts`);
  if (!/^[a-z0-9-]+$/.test(name) || !fs.existsSync(path.join(ROOT, script))) {
    const known = fs.readdirSync(path.join(ROOT, 'scripts')).filter((f) => /^bench-.*\.ts$/.test(f)).map((f) => f.replace(/^bench-|\.ts$/g, ''));
    throw new Error(`no bench named ${JSON.stringify(name)}; use one of ${known.join(', ')}`);
  }
  const out = execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), [script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  console.log(out.trim().split('\n').slice(0, -1).join('\n'));
}

function main(): void {
  const name = process.argv[2];
  if (name) return only(name);
  const result: Record<string, unknown> = {};
  const rows: [string, string, string][] = [];

  progress(`synth of all environments, ${SYNTH_RUNS} runs...`);
  const synth = median(Array.from({ length: SYNTH_RUNS }, () => timed('npm', ['run', 'synth'])));
  result.synthAllEnvironmentsMs = Math.round(synth);
  rows.push(['synth, all environments', `${(synth / 1000).toFixed(2)} s`, '<= 10 s']);
  progress(`synth: median ${(synth / 1000).toFixed(2)} s`);

  const emulator = emulatorTestFiles();
  const ignore = emulator.map((f) => `--testPathIgnorePatterns=${f.replace(/[.]/g, '\\.')}`);
  progress(`unit suite (all but the ${emulator.length} emulator files), ${TEST_RUNS} runs...`);
  const unit = median(Array.from({ length: TEST_RUNS }, () => timed('npx', ['jest', '--silent', ...ignore])));
  result.unitSuiteMs = Math.round(unit);
  result.unitSuiteExcludes = emulator;
  rows.push([`unit suite (all but the ${emulator.length} emulator files)`, `${(unit / 1000).toFixed(2)} s`, '<= 60 s']);
  progress(`unit suite: median ${(unit / 1000).toFixed(2)} s`);

  const handlers: Record<string, { sizeKB: number; initMs: number }> = {};
  for (const b of bundles()) {
    const sizeKB = fs.statSync(b.file).size / 1024;
    const init = initMs(b.file);
    handlers[b.name] = { sizeKB: Math.round(sizeKB * 10) / 10, initMs: Math.round(init * 10) / 10 };
    rows.push([`bundle ${b.name}`, `${sizeKB.toFixed(1)} KB, init ${init.toFixed(1)} ms`, '<= 400 KB, <= 100 ms']);
    progress(`bundle ${b.name}: ${sizeKB.toFixed(1)} KB, init ${init.toFixed(1)} ms`);
  }
  result.handlers = handlers;

  for (const script of fs.readdirSync(path.join(ROOT, 'scripts')).filter((f) => /^bench-.*\.ts$/.test(f)).sort()) {
    progress(`${script}...`);
    const figures = lastJsonLine(path.join('scripts', script));
    result[script.replace(/^bench-|\.ts$/g, '')] = figures;
    rows.push([script, JSON.stringify(figures), '']);
    progress(`${script}: ${JSON.stringify(figures)}`);
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${'figure'.padEnd(width)}  ${'median'.padEnd(40)}  target`);
  for (const [name, value, target] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(40)}  ${target}`);
  console.log(JSON.stringify(result));
}

main();
