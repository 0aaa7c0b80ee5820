import { ConfigError, type EnvironmentConfig, validateConfig } from '../../config';

/** The problems `validateConfig` reports for a config (none when it is valid). */
export function problemsOf(c: EnvironmentConfig): ConfigError['problems'] {
  try {
    validateConfig(c);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}
