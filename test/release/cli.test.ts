/** The release CLI: argument parsing and the one-line exit-2 errors (unknown env, stack not deployed). */
import { describeEvent, main, parseReleaseArgs } from '../../cli/release';
import { startMoto, MotoServer } from '../support/moto';
import { environmentsIn, MOTO_ACCOUNT } from '../support/cli';

describe('parseReleaseArgs', () => {
  test('defaults to start and follows', () => {
    expect(parseReleaseArgs(['--env', 'production', '--strategy', 'blue-green'])).toEqual({ command: 'start', env: 'production', strategy: 'blue-green', follow: true });
    expect(parseReleaseArgs(['approve', '--env=dev'])).toMatchObject({ command: 'approve', env: 'dev' });
    expect(parseReleaseArgs(['--env', 'dev', '--services', 'backend,search'])).toMatchObject({ command: 'start', services: ['backend', 'search'] });
  });
  test('ship, prepare and report take their own options', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(parseReleaseArgs(['ship', '--env', 'staging', '--version', '1.4.2', '--services', 'backend', '--dry-run', '--yes', '--json'])).toEqual({
      command: 'ship',
      env: 'staging',
      version: '1.4.2',
      services: ['backend'],
      dryRun: true,
      yes: true,
      json: true,
      follow: true,
    });
    expect(parseReleaseArgs(['prepare', '--env', 'dev', '--version', digest])).toMatchObject({ command: 'prepare', version: digest });
    expect(parseReleaseArgs(['report', '--env', 'dev', '--execution', 'exec-1', '--json'])).toMatchObject({ command: 'report', execution: 'exec-1', json: true });
    expect(parseReleaseArgs(['status', '--env', 'dev', '--json'])).toMatchObject({ command: 'status', json: true });
  });
  test.each([
    [['--strategy', 'canary'], /--env is required/],
    [['--env', 'qa'], /unknown environment 'qa'/],
    [['--env', 'dev', '--strategy', 'yolo'], /--strategy must be canary or blue-green/],
    [['status', '--env', 'dev', '--strategy', 'canary'], /--strategy is an option of start and ship only/],
    [['deploy', '--env', 'dev'], /unknown command 'deploy'/],
    [['status', '--env', 'dev', '--force'], /--force is an option of start only/],
    [['status', '--env', 'dev', '--services', 'backend'], /--services is an option of start, ship and prepare only/],
    [['--env', 'dev', '--services', 'Back End'], /--services must be a comma-separated list of service names/],
    [['--env', 'dev', '--forced'], /unknown option --forced/],
    [['ship', '--env', 'dev'], /--version is required for ship/],
    [['prepare', '--env', 'dev', '--version', 'sha256:abc'], /--version 'sha256:abc' is not a valid image digest/],
    [['ship', '--env', 'dev', '--version', 'repo:1.0'], /is an image reference, not a tag or digest/],
    [['--env', 'dev', '--version', '1.0'], /--version is an option of ship and prepare only/],
    [['prepare', '--env', 'dev', '--version', '1.0', '--dry-run'], /--dry-run is an option of ship only/],
    [['abort', '--env', 'dev', '--json'], /--json is an option of status, ship, prepare and report only/],
    [['status', '--env', 'dev', '--execution', 'x'], /--execution is an option of report only/],
  ])('fails on %j', (argv, message) => {
    expect(() => parseReleaseArgs(argv)).toThrow(message);
  });
});

test('describeEvent prints steps, bakes and failures', () => {
  expect(describeEvent({ timestamp: new Date('2030-01-01T00:00:05Z'), type: 'WaitStateEntered', id: 1, stateEnteredEventDetails: { name: 'Bake', input: '{"release":{"percent":25}}' } })).toBe('00:00:05  Bake at 25%');
  expect(describeEvent({ timestamp: new Date('2030-01-01T00:00:06Z'), type: 'ExecutionFailed', id: 2, executionFailedEventDetails: { error: 'GateFailed', cause: 'x in ALARM' } })).toBe('00:00:06  ✗ GateFailed: x in ALARM');
});

test('describeEvent prints ? for a truncated, non-JSON or null payload instead of throwing', () => {
  const at = new Date('2030-01-01T00:00:07Z');
  expect(describeEvent({ timestamp: at, type: 'WaitStateEntered', id: 3, stateEnteredEventDetails: { name: 'Bake', input: '{"release":{"perc', inputDetails: { truncated: true } } })).toBe('00:00:07  Bake at ?%');
  expect(describeEvent({ timestamp: at, type: 'WaitStateEntered', id: 4, stateEnteredEventDetails: { name: 'FinalBake', input: 'null' } })).toBe('00:00:07  FinalBake at ?%');
  // A watched bake's polls print nothing: the bake prints once when it starts.
  for (const name of ['BakeWait', 'BakeWatch', 'FinalBakeDone?', 'RollbackWindowWatch']) {
    expect(describeEvent({ timestamp: at, type: 'TaskStateEntered', id: 5, stateEnteredEventDetails: { name, input: '{}' } })).toBeUndefined();
  }
  expect(describeEvent({ timestamp: at, type: 'TaskStateExited', id: 5, stateExitedEventDetails: { name: 'Gate', output: 'An output' } })).toBe('00:00:07  ✓ Gate: new color  at ?%');
});

describe('main', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => moto?.stop());
  test('exit 2 with one line for an unknown environment and for a stack that is not deployed', async () => {
    const err: string[] = [];
    expect(await main(['--env', 'qa'], { stderr: (l) => err.push(l) })).toBe(2);
    expect(
      await main(['status', '--env', 'staging', '--endpoint', moto.endpoint], {
        stderr: (l) => err.push(l),
        clientOptions: { credentials: moto.clientConfig.credentials, region: 'us-east-1' },
        environments: environmentsIn(MOTO_ACCOUNT),
      }),
    ).toBe(2);
    expect(err).toEqual([expect.stringMatching(/unknown environment 'qa'/), expect.stringMatching(/^error: stack Staging-Stateless is not deployed/)]);
  });
});
