import { dev } from './dev';
import { production } from './production';
import { staging } from './staging';
import type { EnvironmentConfig, EnvironmentName } from './types';

export * from './types';
export { ConfigError, validateConfig, validateEnvironments } from './validate';

/** Every environment, in deployment order. */
export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentConfig>> = { dev, staging, production };

/** The CDK stage (and stack name prefix) of an environment: `Dev`, `Staging`, `Production`. */
export function stageName(env: EnvironmentName): string {
  return env.charAt(0).toUpperCase() + env.slice(1);
}
