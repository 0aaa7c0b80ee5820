import { pascalCase } from './names';
import { dev } from './dev';
import { production } from './production';
import { staging } from './staging';
import type { EnvironmentConfig, EnvironmentName } from './types';

export * from './types';
export { ConfigError, validateConfig, validateEnvironments } from './validate';

/**
 * Every environment, in deployment order, keyed by its `name`. A new environment is its file in config/ and one line
 * here (README, "Adding an environment").
 */
export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentConfig>> = { dev, staging, production };

/**
 * The CDK stage (and stack name prefix) of an environment: each hyphen-separated part capitalized and joined, so
 * `dev` -> `Dev`, `qa` -> `Qa`, `perf-eu` -> `PerfEu`. Validation keeps names to lowercase letters, digits and
 * hyphens, starting with a letter, which makes the result a valid stage name and stack name prefix.
 */
export function stageName(env: EnvironmentName): string {
  return pascalCase(env);
}
