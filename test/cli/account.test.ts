/**
 * The CLIs reach an environment with its config's account, region and profile (cli/account.ts): flags override region
 * and profile, STS GetCallerIdentity runs before any other AWS call, and credentials of another account, or none, are
 * refused in one line with exit 2.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { AccountError, awsTarget, EnvironmentTargets, verifyAccount } from '../../cli/account';
import { main as release } from '../../cli/release';
import { main as traffic } from '../../cli/traffic';
import { ENVIRONMENTS } from '../../config';
import { logger } from '../../lambda/traffic';

logger.setLogLevel('SILENT');

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const sfn = mockClient(SFNClient);
const ddb = mockClient(DynamoDBClient);
afterEach(() => [sts, cfn, sfn, ddb].forEach((m) => m.reset()));
afterAll(() => [sts, cfn, sfn, ddb].forEach((m) => m.restore()));

const identity = (account: string) => ({ Account: account, Arn: `arn:aws:sts::${account}:assumed-role/Operator/me`, UserId: 'AROAEXAMPLE:me' });
const notDeployed = Object.assign(new Error('Stack with id X does not exist'), { name: 'ValidationError', $metadata: {} });
const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });

/** Staging with a profile in its config. */
const withProfile: EnvironmentTargets = { ...ENVIRONMENTS, staging: { ...ENVIRONMENTS.staging, cli: { profile: 'staging-operator' } } };

/** The region and profile the STS client of the n-th GetCallerIdentity was built with. */
async function stsClientOf(n = 0): Promise<{ region: string; profile?: string }> {
  const client = sts.commandCalls(GetCallerIdentityCommand)[n].thisValue as STSClient;
  return { region: await client.config.region(), profile: client.config.profile };
}

async function run(cli: typeof traffic | typeof release, argv: string[], environments?: EnvironmentTargets) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), ...(environments ? { environments } : {}) });
  return { code, out, err };
}

describe('GIVEN an environment config', () => {
  test('WHEN no flag is given THEN the target is the config’s account and region, and its profile when it has one', () => {
    expect(awsTarget('production', {})).toEqual({ env: 'production', account: ENVIRONMENTS.production.account, region: ENVIRONMENTS.production.region });
    expect(awsTarget('staging', {}, withProfile)).toEqual({
      env: 'staging',
      account: ENVIRONMENTS.staging.account,
      region: ENVIRONMENTS.staging.region,
      profile: 'staging-operator',
      profileFrom: 'config',
    });
  });

  test('WHEN --region and --profile are given THEN they override the config, never the account', () => {
    expect(awsTarget('staging', { region: 'eu-west-1', profile: 'other' }, withProfile)).toEqual({
      env: 'staging',
      account: ENVIRONMENTS.staging.account,
      region: 'eu-west-1',
      profile: 'other',
      profileFrom: '--profile',
    });
  });
});

describe('GIVEN verifyAccount', () => {
  const target = awsTarget('production', {});

  test('WHEN the credentials belong to the config’s account THEN it answers the caller', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity(ENVIRONMENTS.production.account));
    await expect(verifyAccount(target, { region: target.region })).resolves.toEqual({
      account: ENVIRONMENTS.production.account,
      arn: `arn:aws:sts::${ENVIRONMENTS.production.account}:assumed-role/Operator/me`,
    });
  });

  test('refuses WHEN the credentials belong to another account THEN one line names both accounts, the ARN and the fix', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity('222222222222'));
    const e = await verifyAccount(target, { region: target.region }).catch((x) => x);
    expect(e).toBeInstanceOf(AccountError);
    expect(e.message).toBe(
      'refusing: the credentials (the default credential chain: no --profile, no cli.profile in config/production.ts) are for account 222222222222 ' +
        `(arn:aws:sts::222222222222:assumed-role/Operator/me), but config/production.ts deploys production to ${ENVIRONMENTS.production.account}; ` +
        'use --profile <p> or set cli.profile in config/production.ts',
    );
  });

  test('fails WHEN no credentials are found THEN one line says so, naming the profile and how to log in', async () => {
    sts.on(GetCallerIdentityCommand).rejects(noCredentials);
    const e = await verifyAccount(awsTarget('staging', {}, withProfile), {}).catch((x) => x);
    expect(e).toBeInstanceOf(AccountError);
    expect(e.message).toBe(
      'error: no AWS credentials for staging (profile staging-operator (cli.profile in config/staging.ts)): Could not load credentials from any providers; ' +
        'log in (aws sso login --profile staging-operator) or check [profile staging-operator] in ~/.aws/config',
    );
  });

  test('fails WHEN AWS rejects the credentials THEN the error is thrown as it is, for the CLI’s classification', async () => {
    const rejected = Object.assign(new Error('The security token included in the request is invalid.'), { name: 'InvalidClientTokenId', $metadata: {} });
    sts.on(GetCallerIdentityCommand).rejects(rejected);
    await expect(verifyAccount(target, {})).rejects.toBe(rejected);
  });
});

describe('GIVEN the traffic CLI', () => {
  test('refuses WHEN the credentials belong to another account THEN exit 2, one line, and no other AWS call', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity('222222222222'));
    const r = await run(traffic, ['shift', '--env', 'production', '--to', 'green', '--percent', '10']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringMatching(/^refusing: the credentials .* are for account 222222222222 .* but config\/production\.ts deploys production to 333333333333; /)]);
    expect(r.out).toEqual([]);
    expect([cfn.calls(), sfn.calls(), ddb.calls()].map((c) => c.length)).toEqual([0, 0, 0]);
  });

  test('WHEN the account matches THEN the region and profile of the config reach STS and CloudFormation', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity(ENVIRONMENTS.staging.account));
    cfn.on(DescribeStacksCommand).rejects(notDeployed);
    const r = await run(traffic, ['status', '--env', 'staging'], withProfile);
    expect(await stsClientOf()).toEqual({ region: ENVIRONMENTS.staging.region, profile: 'staging-operator' });
    expect(r.err).toEqual([`error: stack Staging-Stateless is not deployed in ${ENVIRONMENTS.staging.region} (environment staging)`]);
    expect(r.code).toBe(2);
  });

  test('WHEN --region and --profile are given THEN they override the config’s', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity(ENVIRONMENTS.staging.account));
    cfn.on(DescribeStacksCommand).rejects(notDeployed);
    const r = await run(traffic, ['status', '--env', 'staging', '--region', 'eu-west-1', '--profile', 'break-glass'], withProfile);
    expect(await stsClientOf()).toEqual({ region: 'eu-west-1', profile: 'break-glass' });
    expect(r.err).toEqual(['error: stack Staging-Stateless is not deployed in eu-west-1 (environment staging)']);
  });

  test('fails WHEN there are no credentials THEN exit 2 with one line, no stack trace', async () => {
    sts.on(GetCallerIdentityCommand).rejects(noCredentials);
    const r = await run(traffic, ['status', '--env', 'dev']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([
      'error: no AWS credentials for dev (the default credential chain: no --profile, no cli.profile in config/dev.ts): ' +
        'Could not load credentials from any providers; pass --profile <p>, set cli.profile in config/dev.ts, or export AWS credentials',
    ]);
    expect(cfn.calls()).toHaveLength(0);
  });

  test('fails WHEN AWS rejects the credentials THEN exit 2 with the usual one line', async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredToken', $metadata: {} }));
    const r = await run(traffic, ['status', '--env', 'dev']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(['error: AWS rejected the credentials: ExpiredToken: The security token included in the request is expired']);
  });

  test('WHEN running healthcheck THEN no AWS call is made, STS included', async () => {
    const code = await traffic(['healthcheck', '--env', 'dev', '--color', 'green'], { stdout: () => undefined, httpGet: async () => 200 });
    expect(code).toBe(0);
    expect(sts.calls()).toHaveLength(0);
  });
});

describe('GIVEN the release CLI', () => {
  test('refuses WHEN the credentials belong to another account THEN exit 2, one line, and no other AWS call', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity('111111111111'));
    const r = await run(release, ['--env', 'production']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringMatching(/^refusing: .* are for account 111111111111 .* deploys production to 333333333333; use --profile <p> or set cli\.profile in config\/production\.ts$/)]);
    expect([cfn.calls(), sfn.calls(), ddb.calls()].map((c) => c.length)).toEqual([0, 0, 0]);
  });

  test('WHEN the account matches THEN the config’s region is used (no AWS_REGION needed) and the release goes on', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity(ENVIRONMENTS.production.account));
    cfn.on(DescribeStacksCommand).rejects(notDeployed);
    const r = await run(release, ['status', '--env', 'production']);
    expect(await stsClientOf()).toEqual({ region: ENVIRONMENTS.production.region, profile: undefined });
    expect(await (cfn.call(0).thisValue as CloudFormationClient).config.region()).toBe(ENVIRONMENTS.production.region);
    expect(r.err).toEqual(['error: stack Production-Stateless is not deployed (environment production)']);
    expect(r.code).toBe(2);
  });

  test('WHEN --profile is given THEN it overrides the config’s profile', async () => {
    sts.on(GetCallerIdentityCommand).resolves(identity(ENVIRONMENTS.staging.account));
    cfn.on(DescribeStacksCommand).rejects(notDeployed);
    await run(release, ['status', '--env', 'staging', '--profile', 'break-glass'], withProfile);
    expect(await stsClientOf()).toEqual({ region: ENVIRONMENTS.staging.region, profile: 'break-glass' });
  });
});
