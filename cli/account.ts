/**
 * Where and as whom the operator CLIs act for an environment. The account and region are the environment's config
 * (config/<env>.ts); the profile is `--profile`, else the config's `cli.profile`, else the default credential chain;
 * `--region` overrides the region. Before any other AWS call, `verifyAccount` asks STS who the credentials belong to and
 * refuses, in one line, credentials of another account: a traffic shift or a release must never land in the wrong
 * environment because of whatever AWS_PROFILE happens to be set in the shell.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ENVIRONMENTS as CONFIGS, type EnvironmentConfig } from '../config';
import { clientConfig, type ClientOptions } from '../lambda/traffic/client-config';

/** The part of each environment's config the CLIs use to reach it; tests pass copies in moto's account. */
export type EnvironmentTargets = Readonly<Record<string, Pick<EnvironmentConfig, 'account' | 'region' | 'cli'>>>;

export interface AwsTarget {
  readonly env: string;
  /** The account config deploys the environment to; the credentials must belong to it. */
  readonly account: string;
  readonly region: string;
  readonly profile?: string;
  /** Where `profile` came from, for the messages. */
  readonly profileFrom?: '--profile' | 'config';
}

/** A refusal about the credentials, already worded as the one line to print (exit 2). */
export class AccountError extends Error {
  constructor(line: string) {
    super(line);
    this.name = 'AccountError';
  }
}

export interface Caller {
  readonly account: string;
  readonly arn: string;
}

const configFile = (env: string) => `config/${env}.ts`;

/** The environment's account, region and profile: config's, with `--region` / `--profile` overriding. */
export function awsTarget(env: string, flags: { readonly region?: string; readonly profile?: string }, configs: EnvironmentTargets = CONFIGS): AwsTarget {
  const c = configs[env];
  if (!c) throw new AccountError(`error: no config for environment '${env}' (${configFile(env)})`);
  const profile = flags.profile ?? c.cli?.profile;
  return {
    env,
    account: c.account,
    region: flags.region ?? c.region,
    ...(profile !== undefined ? { profile, profileFrom: flags.profile !== undefined ? '--profile' : 'config' } : {}),
  };
}

/** sts:GetCallerIdentity with the CLI's client options; it needs no permission, so any valid credentials answer. */
export async function callerIdentity(options: ClientOptions): Promise<Caller> {
  const sts = new STSClient(clientConfig(options));
  try {
    // https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html: "No permissions are required".
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return { account: out.Account ?? '', arn: out.Arn ?? '' };
  } finally {
    sts.destroy();
  }
}

/** Where the credentials came from: `--profile p`, `profile p (cli.profile in config/x.ts)` or the default chain. */
function sourceOf(t: AwsTarget): string {
  if (t.profileFrom === '--profile') return `--profile ${t.profile}`;
  if (t.profileFrom === 'config') return `profile ${t.profile} (cli.profile in ${configFile(t.env)})`;
  return `the default credential chain: no --profile, no cli.profile in ${configFile(t.env)}`;
}

function isMissingCredentials(e: unknown): boolean {
  const err = e as { name?: string; message?: string };
  return err?.name === 'CredentialsProviderError' || /Could not load credentials|Unable to locate credentials|Could not resolve credentials/i.test(err?.message ?? '');
}

/**
 * Refuses credentials that do not belong to the environment's account (AccountError, one line), and credentials that
 * cannot be found. Any other failure (rejected credentials, an unreachable endpoint) is thrown as it is, for the CLI's
 * usual classification. Runs against the emulator too: moto answers GetCallerIdentity with its own account.
 */
export async function verifyAccount(target: AwsTarget, options: ClientOptions): Promise<Caller> {
  let caller: Caller;
  try {
    caller = await callerIdentity(options);
  } catch (e) {
    if (!isMissingCredentials(e)) throw e;
    const why = ((e as Error).message ?? '').split('\n')[0];
    const fix = target.profile ? `log in (aws sso login --profile ${target.profile}) or check [profile ${target.profile}] in ~/.aws/config` : `pass --profile <p>, set cli.profile in ${configFile(target.env)}, or export AWS credentials`;
    throw new AccountError(`error: no AWS credentials for ${target.env} (${sourceOf(target)}): ${why}; ${fix}`);
  }
  if (caller.account !== target.account) {
    throw new AccountError(
      `refusing: the credentials (${sourceOf(target)}) are for account ${caller.account} (${caller.arn}), but ${configFile(target.env)} deploys ${target.env} to ` +
        `${target.account}; use --profile <p> or set cli.profile in ${configFile(target.env)}`,
    );
  }
  return caller;
}
