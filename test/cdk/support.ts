import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import cdkJson from '../../cdk.json';
import { ENVIRONMENTS, type EnvironmentConfig, type EnvironmentName } from '../../config';
import type { EnvironmentStage } from '../../lib/stage';

export interface SynthesizedEnvironment {
  readonly stage: EnvironmentStage;
  readonly stateful: Template;
  readonly stateless: Template;
  /** Operations alarms and the dashboard (lib/monitoring-stack.ts). */
  readonly monitoring: Template;
}

/**
 * The feature flags of cdk.json and asset metadata as bin/app.ts sets them, with Lambda bundling skipped: templates
 * are the same but for asset hashes (masked in snapshots), and each synth saves seconds of esbuild. test/bundles
 * builds the real bundles.
 */
export const TEST_CONTEXT = { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:bundling-stacks': [] };

const ROOT = path.resolve(__dirname, '..', '..');
/** Where synthesized templates are kept between test files and runs, keyed by everything that shapes them. */
const TEMPLATE_CACHE = path.join(ROOT, 'node_modules', '.cache', 'synthesized-templates');
/** The sources a template depends on: constructs, config, handler code (asset hashes), flags and package versions. */
const SOURCES = ['lib', 'config', 'lambda', 'cdk.json', 'package-lock.json', 'test/cdk/support.ts'];

let fingerprint: string | undefined;
/** One hash of every source file's path and content, computed once per test file (~20 ms). */
function sourceFingerprint(): string {
  if (fingerprint) return fingerprint;
  const hash = crypto.createHash('sha256').update(ROOT);
  const walk = (p: string): void => {
    const full = path.join(ROOT, p);
    if (fs.statSync(full).isDirectory()) for (const e of fs.readdirSync(full).sort()) walk(path.join(p, e));
    else hash.update(`\0${p}\0`).update(fs.readFileSync(full));
  };
  for (const s of SOURCES) walk(s);
  fingerprint = hash.digest('hex');
  return fingerprint;
}

const cache = new Map<string, SynthesizedEnvironment>();

/**
 * Synthesizes one environment as `bin/app.ts` does (same feature flags; bundling skipped). The cdk-nag packs are
 * validation plugins of the App and run on the App's synth only, not on a stage's (`Template.fromStack`): the packs
 * are checked by `npm run synth`, test/cdk/nag.test.ts and the ten-services test (test/cdk/services.test.ts).
 *
 * Jest loads every test file in a fresh module registry, so an in-memory memo only serves one file; a dozen files
 * synthesize the same three environments. The three templates are therefore also kept on disk (TEMPLATE_CACHE),
 * keyed by the source fingerprint, the checkout's path (asset paths are absolute) and the config: a file that
 * finds them there skips the synth. `stage` (the construct tree) is synthesized on first access only.
 */
export function synthEnvironment(name: EnvironmentName, override?: (c: EnvironmentConfig) => EnvironmentConfig): SynthesizedEnvironment {
  const config = override ? override(ENVIRONMENTS[name]) : ENVIRONMENTS[name];
  const key = crypto.createHash('sha256').update(sourceFingerprint()).update(name).update(JSON.stringify(config)).digest('hex');
  const hit = cache.get(key);
  if (hit) return hit;

  let built: { stage: EnvironmentStage; templates: Record<StackName, Template> } | undefined;
  const build = () => {
    if (built) return built;
    // Required here, not imported: a file served from the template cache never loads the app's constructs.
    const { buildApp } = require('../../lib/app') as typeof import('../../lib/app');
    const stage = buildApp({ environments: [config], context: TEST_CONTEXT }).stages[name];
    built = { stage, templates: { stateful: Template.fromStack(stage.stateful), stateless: Template.fromStack(stage.stateless), monitoring: Template.fromStack(stage.monitoring) } };
    return built;
  };

  const file = path.join(TEMPLATE_CACHE, `${key}.json`);
  let templates: Record<StackName, Template>;
  if (fs.existsSync(file)) {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<StackName, Record<string, unknown>>;
    templates = { stateful: Template.fromJSON(json.stateful), stateless: Template.fromJSON(json.stateless), monitoring: Template.fromJSON(json.monitoring) };
  } else {
    templates = build().templates;
    const json = { stateful: templates.stateful.toJSON(), stateless: templates.stateless.toJSON(), monitoring: templates.monitoring.toJSON() };
    // Written whole, then renamed: another worker reading it never sees half a file.
    fs.mkdirSync(TEMPLATE_CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(json));
    fs.renameSync(tmp, file);
  }
  const result: SynthesizedEnvironment = {
    get stage() {
      return build().stage;
    },
    ...templates,
  };
  cache.set(key, result);
  return result;
}

type StackName = 'stateful' | 'stateless' | 'monitoring';

/** Resources of one type as [logicalId, resource] pairs. */
export function resourcesOf(template: Template, type: string): [string, { Properties: Record<string, any>; [k: string]: any }][] {
  return Object.entries(template.findResources(type)) as any;
}

/** The template as JSON with asset hashes masked, for snapshots that survive handler code changes. */
export function maskedTemplate(template: Template): unknown {
  const json = JSON.stringify(template.toJSON())
    .replace(/[0-9a-f]{64}(\.zip|\.json)?/g, (_m, ext) => `[ASSET HASH]${ext ?? ''}`)
    // A skipped bundle's asset path is the checkout's absolute path, which differs between machines.
    .replace(/"aws:asset:path":"[^"]*"/g, '"aws:asset:path":"[ASSET PATH]"');
  return JSON.parse(json);
}
