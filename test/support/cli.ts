/**
 * The CLIs' environments as the tests run them: every config of config/index.ts with its account replaced, so the
 * CLIs' account check (cli/account.ts) passes against moto, whose GetCallerIdentity answers its default account.
 */
import type { EnvironmentTargets } from '../../cli/account';
import { ENVIRONMENTS } from '../../config';

/** moto's default account (MOTO_ACCOUNT_ID unset): what its sts:GetCallerIdentity returns. */
export const MOTO_ACCOUNT = '123456789012';

/** Each environment's config with `account` (default moto's) instead of the configured one; region and profile kept. */
export function environmentsIn(account: string = MOTO_ACCOUNT): EnvironmentTargets {
  return Object.fromEntries(Object.entries(ENVIRONMENTS).map(([name, c]) => [name, { ...c, account }]));
}
