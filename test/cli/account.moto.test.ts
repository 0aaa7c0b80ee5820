/**
 * The account check with the real STS client against moto, which answers GetCallerIdentity with its default account
 * (123456789012): the shipped configs' accounts are refused, a config in moto's account goes on to the stack lookup.
 */
import { awsTarget, callerIdentity, verifyAccount } from '../../cli/account';
import { main as release } from '../../cli/release';
import { main as traffic } from '../../cli/traffic';
import { ENVIRONMENTS } from '../../config';
import { logger } from '../../lambda/traffic';
import { environmentsIn, MOTO_ACCOUNT } from '../support/cli';
import { MotoServer, startMoto } from '../support/moto';

logger.setLogLevel('SILENT');

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => moto?.stop());

async function run(cli: typeof traffic | typeof release, argv: string[], inMoto: boolean) {
  const err: string[] = [];
  const code = await cli([...argv, '--endpoint', moto.endpoint], {
    stdout: () => undefined,
    stderr: (l) => err.push(l),
    clientOptions: { credentials: moto.clientConfig.credentials },
    ...(inMoto ? { environments: environmentsIn(MOTO_ACCOUNT) } : {}),
  });
  return { code, err };
}

test('GIVEN moto WHEN asking STS who the credentials are THEN it answers its account and an ARN in it', async () => {
  const caller = await callerIdentity({ ...moto.clientConfig });
  expect(caller.account).toBe(MOTO_ACCOUNT);
  expect(caller.arn).toMatch(/^arn:aws:(sts|iam)::123456789012:/);
  await expect(verifyAccount(awsTarget('dev', {}, environmentsIn(MOTO_ACCOUNT)), { ...moto.clientConfig })).resolves.toEqual(caller);
});

test.each([
  ['traffic', traffic, ['status', '--env', 'production']],
  ['release', release, ['status', '--env', 'production']],
] as const)('refuses WHEN the %s CLI runs with credentials of another account than the config’s THEN exit 2, one line, before the stack lookup', async (_name, cli, argv) => {
  const r = await run(cli, [...argv], false);
  expect(r.code).toBe(2);
  expect(r.err).toEqual([
    expect.stringMatching(
      new RegExp(`^refusing: the credentials \\(.*\\) are for account ${MOTO_ACCOUNT} \\(arn:aws:.*\\), but config/production\\.ts deploys production to ${ENVIRONMENTS.production.account}; `),
    ),
  ]);
});

test('WHEN the config’s account is moto’s THEN the CLI goes on to the stack lookup in the config’s region', async () => {
  const r = await run(traffic, ['status', '--env', 'staging'], true);
  expect(r.err).toEqual([`error: stack Staging-Stateless is not deployed in ${ENVIRONMENTS.staging.region} (environment staging)`]);
  expect(r.code).toBe(2);
});
