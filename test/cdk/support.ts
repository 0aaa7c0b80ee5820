import { Template } from 'aws-cdk-lib/assertions';
import cdkJson from '../../cdk.json';
import { ENVIRONMENTS, type EnvironmentConfig, type EnvironmentName } from '../../config';
import { buildApp } from '../../lib/app';
import type { EnvironmentStage } from '../../lib/stage';

export interface SynthesizedEnvironment {
  readonly stage: EnvironmentStage;
  readonly stateful: Template;
  readonly stateless: Template;
}

const cache = new Map<string, SynthesizedEnvironment>();

/**
 * Synthesizes one environment exactly as `bin/app.ts` does (same feature flags, cdk-nag packs on),
 * once per test file. `Template.fromStack` runs the validation plugins, so a cdk-nag finding fails here.
 */
export function synthEnvironment(name: EnvironmentName, override?: (c: EnvironmentConfig) => EnvironmentConfig): SynthesizedEnvironment {
  const config = override ? override(ENVIRONMENTS[name]) : ENVIRONMENTS[name];
  const key = override ? `${name}:${JSON.stringify(config)}` : name;
  const hit = cache.get(key);
  if (hit) return hit;
  const { stages } = buildApp({ environments: [config], context: cdkJson.context });
  const stage = stages[name];
  const result = {
    stage,
    stateful: Template.fromStack(stage.stateful),
    stateless: Template.fromStack(stage.stateless),
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
  const json = JSON.stringify(template.toJSON());
  return JSON.parse(json.replace(/[0-9a-f]{64}(\.zip|\.json)?/g, (_m, ext) => `[ASSET HASH]${ext ?? ''}`));
}
