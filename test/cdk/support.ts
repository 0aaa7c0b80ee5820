import { Template } from 'aws-cdk-lib/assertions';
import cdkJson from '../../cdk.json';
import { ENVIRONMENTS, type EnvironmentConfig, type EnvironmentName } from '../../config';
import { buildApp } from '../../lib/app';
import type { EnvironmentStage } from '../../lib/stage';

export interface SynthesizedEnvironment {
  readonly stage: EnvironmentStage;
  readonly stateful: Template;
  readonly stateless: Template;
  /** Operations alarms and the dashboard (lib/monitoring-stack.ts). */
  readonly monitoring: Template;
}

/**
 * The feature flags of cdk.json, with Lambda bundling skipped: templates are the same but for asset
 * hashes (masked in snapshots), and each synth saves seconds of esbuild. test/bundles builds the real bundles.
 */
export const TEST_CONTEXT = { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] };

const cache = new Map<string, SynthesizedEnvironment>();

/**
 * Synthesizes one environment as `bin/app.ts` does (same feature flags, cdk-nag packs on; bundling skipped),
 * once per test file. `Template.fromStack` runs the validation plugins, so a cdk-nag finding fails here.
 */
export function synthEnvironment(name: EnvironmentName, override?: (c: EnvironmentConfig) => EnvironmentConfig): SynthesizedEnvironment {
  const config = override ? override(ENVIRONMENTS[name]) : ENVIRONMENTS[name];
  const key = override ? `${name}:${JSON.stringify(config)}` : name;
  const hit = cache.get(key);
  if (hit) return hit;
  const { stages } = buildApp({ environments: [config], context: TEST_CONTEXT });
  const stage = stages[name];
  const result = {
    stage,
    stateful: Template.fromStack(stage.stateful),
    stateless: Template.fromStack(stage.stateless),
    monitoring: Template.fromStack(stage.monitoring),
  };
  cache.set(key, result);
  return result;
}

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
