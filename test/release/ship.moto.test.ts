/**
 * `npm run release -- ship|prepare` and the `--json` outputs against moto (cli/release.ts, cli/traffic.ts): the live
 * state is read from the fixture's listener rules and lock, config/dev.ts of a copy of the repository is edited and
 * re-loaded, `cdk deploy` is recorded (no CloudFormation deploy against the emulator), and the release is started on
 * a dummy state machine that moto keeps RUNNING until it is stopped.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { main } from '../../cli/release';
import { loadVersions } from '../../cli/ship';
import { main as trafficMain } from '../../cli/traffic';
import { acquireLock, logger, releaseLock, shift, TrafficContext } from '../../lambda/traffic';
import { deployStackOutputs, useMotoFixture } from '../support/fixture';
import { MotoServer } from '../support/moto';
import { environmentsIn } from '../support/cli';
import { ACCOUNT, DUMMY_RELEASE_DEFINITION } from '../support/release';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

const ROOT = path.resolve(__dirname, '..', '..');
const ORIGINAL = readFileSync(path.join(ROOT, 'config', 'dev.ts'), 'utf8');
let moto: MotoServer;
let ctx: TrafficContext;
let sfn: SFNClient;
let stateMachineArn: string;
let root: string;

useMotoFixture(async (s) => {
  moto = s.moto;
  ctx = { clients: s.clients, topology: s.fx.topology, retry: { sleep: async () => undefined } };
  sfn?.destroy();
  sfn = new SFNClient(moto.clientConfig);
  stateMachineArn = (
    await sfn.send(new CreateStateMachineCommand({ name: 'dev-release', roleArn: `arn:aws:iam::${ACCOUNT}:role/dev-release`, definition: DUMMY_RELEASE_DEFINITION }))
  ).stateMachineArn!;
  await deployStackOutputs(moto.clientConfig, s.fx.topology, { ReleaseStateMachineArn: stateMachineArn });
  // A fresh copy of the repository's config for every test; `lambda` is linked (config imports its topology names).
  if (root) rmSync(root, { recursive: true, force: true });
  root = mkdtempSync(path.join(tmpdir(), 'ship-moto-'));
  cpSync(path.join(ROOT, 'config'), path.join(root, 'config'), { recursive: true });
  symlinkSync(path.join(ROOT, 'lambda'), path.join(root, 'lambda'));
});
afterAll(() => {
  sfn?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

const devFile = () => readFileSync(path.join(root, 'config', 'dev.ts'), 'utf8');

async function cli(argv: string[], runCommand?: (argv: readonly string[]) => Promise<number>, run = main) {
  const out: string[] = [];
  const err: string[] = [];
  const commands: string[][] = [];
  const code = await run([...argv, '--endpoint', moto.endpoint], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
    pollMs: 10,
    environments: environmentsIn(ACCOUNT),
    configRoot: root,
    runCommand: async (a) => (commands.push([...a]), runCommand ? runCommand(a) : 0),
  } as Parameters<typeof main>[1]);
  return { code, out, err, commands };
}

/** stdout must be exactly one JSON document. */
function onlyJson(out: string[]): any {
  expect(out).toHaveLength(1);
  return JSON.parse(out[0]);
}

describe('GIVEN dev live on blue in moto, both colors at 1.0.0 in config/dev.ts', () => {
  test('WHEN ship --dry-run --json THEN stdout is the plan (idle colors, old → new, the commands) and nothing changes', async () => {
    const r = await cli(['ship', '--env', 'dev', '--version', '1.2.0', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const doc = onlyJson(r.out);
    expect(doc).toMatchObject({
      schemaVersion: 1,
      command: 'ship',
      environment: 'dev',
      version: '1.2.0',
      dryRun: true,
      outcome: 'planned',
      exitCode: 0,
      plan: { release: ['frontend', 'backend'], refusals: [] },
      commands: ["node_modules/.bin/cdk deploy 'Dev/*' --require-approval broadening", 'npm run release -- --env dev --services frontend,backend'],
    });
    expect(doc.plan.services.map((s: any) => `${s.service} ${s.idleColor} ${s.from}→${s.to} ${s.action}`)).toEqual(['frontend green 1.0.0→1.2.0 set', 'backend green 1.0.0→1.2.0 set']);
    // The plan for a person goes to stderr with --json.
    expect(r.err.join('\n')).toContain('frontend  live blue 1.0.0; idle green 1.0.0 → 1.2.0  (set)');
    expect(devFile()).toBe(ORIGINAL);
    expect(r.commands).toEqual([]);
    expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions).toEqual([]);
  });

  test('WHEN prepare --services backend THEN only backend green is edited, the diff printed, the config re-loaded, nothing deployed or started', async () => {
    const r = await cli(['prepare', '--env', 'dev', '--version', '1.3.0', '--services', 'backend']);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'dev: version 1.3.0',
      '  backend  live blue 1.0.0; idle green 1.0.0 → 1.3.0  (set)',
      expect.stringMatching(/^config\/dev\.ts:\d+$/),
      "- colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },",
      "+ colors: { blue: { version: '1.0.0' }, green: { version: '1.3.0' } },",
    ]);
    expect(devFile().match(/version: '1\.3\.0'/g)).toHaveLength(1);
    expect(devFile().indexOf("'1.3.0'")).toBeGreaterThan(devFile().indexOf('backend: {'));
    expect(r.commands).toEqual([]);
    // Again: the idle color already has it, the file is left as it is.
    const again = await cli(['prepare', '--env', 'dev', '--version', '1.3.0', '--services', 'backend', '--json']);
    expect(onlyJson(again.out)).toMatchObject({ outcome: 'prepared', diff: [], plan: { services: [{ action: 'idle-has-it' }] } });
  });

  test('WHEN the release lock is held THEN ship refuses, naming the holder, and changes nothing', async () => {
    await acquireLock(ctx, 'arn:aws:states:us-east-1:123456789012:execution:dev-release:running-1');
    const r = await cli(['ship', '--env', 'dev', '--version', '1.2.0', '--json']);
    expect(r.code).toBe(1);
    expect(onlyJson(r.out)).toMatchObject({ outcome: 'refused', exitCode: 1, plan: { refusals: [expect.stringContaining('held by arn:aws:states:us-east-1:123456789012:execution:dev-release:running-1')] } });
    expect(devFile()).toBe(ORIGINAL);
    expect(r.commands).toEqual([]);
  });

  test('WHEN traffic is live on green THEN the idle color blue gets the version', async () => {
    await acquireLock(ctx, 'test');
    await shift(ctx, { target: { to: 'green', percent: 100 }, actor: 'test', reason: 'green live', owner: 'test' });
    await releaseLock(ctx, 'test');
    const r = await cli(['prepare', '--env', 'dev', '--version', '2.0.0', '--services', 'frontend']);
    expect(r.code).toBe(0);
    expect(r.out).toContain("+ colors: { blue: { version: '2.0.0' }, green: { version: '1.0.0' } },");
  });

  test('WHEN cdk deploy fails THEN no release starts and ship exits 1 saying the config keeps the new version', async () => {
    const r = await cli(['ship', '--env', 'dev', '--version', '1.2.0', '--yes'], async () => 1);
    expect(r.code).toBe(1);
    expect(r.commands).toEqual([['node_modules/.bin/cdk', 'deploy', 'Dev/*', '--require-approval', 'never']]);
    expect(r.err.join('\n')).toMatch(/cdk deploy exited 1: no release started; config\/dev\.ts keeps the new version/);
    expect(devFile()).not.toBe(ORIGINAL);
    expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions).toEqual([]);
  });

  test('WHEN shipped THEN it deploys, starts the release of the changed services, follows it and exits 1 when it does not succeed', async () => {
    const run = cli(['ship', '--env', 'dev', '--version', '1.2.0', '--json']);
    let arn: string | undefined;
    for (let i = 0; i < 500 && !arn; i++) {
      await new Promise((res) => setTimeout(res, 20));
      arn = (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions?.[0]?.executionArn;
    }
    expect(arn).toBeDefined();
    expect(JSON.parse((await sfn.send(new DescribeExecutionCommand({ executionArn: arn! }))).input!)).toMatchObject({ services: ['frontend', 'backend'] });
    await sfn.send(new StopExecutionCommand({ executionArn: arn!, error: 'RolledBack', cause: 'alarm' }));
    const r = await run;
    expect(r.code).toBe(1);
    expect(r.commands).toEqual([['node_modules/.bin/cdk', 'deploy', 'Dev/*', '--require-approval', 'broadening']]);
    expect(onlyJson(r.out)).toMatchObject({ command: 'ship', outcome: 'release-failed', status: 'ABORTED', executionArn: arn, exitCode: 1, diff: expect.arrayContaining([expect.stringMatching(/^\+ .*1\.2\.0/)]) });
    expect(r.err.join('\n')).toMatch(/release of dev started: .*\n[\s\S]*release ABORTED/);
  });
});

describe('--json status', () => {
  test('WHEN release status --json THEN one document: weights, record, lock, execution', async () => {
    const r = await cli(['status', '--env', 'dev', '--json']);
    expect(r.code).toBe(0);
    expect(onlyJson(r.out)).toEqual({
      schemaVersion: 1,
      command: 'release status',
      environment: 'dev',
      weights: { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } },
      releaseRecord: null,
      lock: null,
      execution: null,
      judgeVerdicts: [],
    });
  });

  test('WHEN traffic status --json THEN one document with the state of every service and color', async () => {
    const r = await cli(['status', '--env', 'dev', '--json'], undefined, trafficMain as unknown as typeof main);
    expect(r.code).toBe(0);
    const doc = onlyJson(r.out);
    expect(doc).toMatchObject({ schemaVersion: 1, command: 'traffic status', environment: 'dev', releaseRecord: null });
    expect(doc.state.services.frontend).toMatchObject({ liveColor: 'blue', idleColor: 'green', weights: { blue: 100, green: 0 } });
    expect(Object.keys(doc.state.services.backend.colors)).toEqual(['blue', 'green']);
    expect(doc.state.services.backend.colors.blue).toEqual(expect.objectContaining({ weight: 100, percent: 100, desiredCount: expect.any(Number), version: expect.any(String) }));
  });
});

describe('loadVersions (the edited config, loaded in a fresh process)', () => {
  test('returns what the file says, validated', async () => {
    expect(await loadVersions('dev', root)).toEqual({ frontend: { blue: '1.0.0', green: '1.0.0' }, backend: { blue: '1.0.0', green: '1.0.0' } });
  });

  test('a config that no longer validates is reported with its validation error, and ship refuses before any change', async () => {
    const file = path.join(root, 'config', 'dev.ts');
    writeFileSync(file, ORIGINAL.replace("green: { version: '", "green: { version: '-bad"));
    await expect(loadVersions('dev', root)).rejects.toThrow(
      /^config\/dev\.ts does not load: config\/dev\.ts has 1 problem: - services\.frontend\.colors\.green\.version = "-bad1\.0\.0": is not a valid image tag/,
    );
    const r = await cli(['ship', '--env', 'dev', '--version', '1.2.0']);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/is not a valid image tag/);
    expect(r.commands).toEqual([]);
  });
});
