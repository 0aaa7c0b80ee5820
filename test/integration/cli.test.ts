/**
 * The CLI and the switch handler's command mapping against moto. The CLI finds the topology in the `Topology` output
 * of `<Stage>-Stateless`; here that stack is created in moto with a placeholder resource and the fixture's topology.
 */
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { main } from '../../cli/traffic';
import { validateCommand, runCommand } from '../../lambda/switch/handler';
import {
  acquireLock,
  EnvironmentState,
  GuardRefused,
  logger,
  readLedger,
  readLock,
  readRules,
  TrafficClients,
  TrafficContext,
} from '../../lambda/traffic';
import { deployStackOutputs, Fixture, useMotoFixture } from '../support/fixture';
import { MotoServer } from '../support/moto';
import { environmentsIn, MOTO_ACCOUNT } from '../support/cli';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let clients: TrafficClients;
let fx: Fixture;
let ctx: TrafficContext;

useMotoFixture(async (s) => {
  ({ moto, clients, fx } = s);
  ctx = { clients, topology: fx.topology, retry: { sleep: async () => undefined } };
  await deployStackOutputs(moto.clientConfig, fx.topology);
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--endpoint', moto.endpoint], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
    retry: { sleep: async () => undefined },
    owner: 'cli:tester@host:1',
    environments: environmentsIn(MOTO_ACCOUNT),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function weights() {
  const r = await readRules(ctx);
  return { frontend: r.frontend.weights, backend: r.backend.weights };
}

describe('GIVEN the Dev-Stateless stack with a Topology output in moto', () => {
  test('WHEN running status THEN it prints the table, live and idle colors, alarms, lock and the config field to edit', async () => {
    const r = await cli('status', '--env', 'dev');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/frontend\s+blue\s+live\s+100\s+100%\s+unknown 2\/2\s+2\/0\s+1\.0\.0/);
    expect(r.out).toMatch(/backend\s+green\s+idle\s+0\s+0%\s+unknown 2\/2\s+2\/0\s+1\.1\.0/);
    expect(r.out).toContain('live color: blue');
    expect(r.out).toMatch(/frontend\s+green\s+idle\s+0\s+0%/);
    expect(r.out).toContain('release lock: free');
    expect(r.out).toContain('config/dev.ts → services.frontend.colors.green.version');
    expect(r.out).toContain('config/dev.ts → services.backend.colors.green.version');
  });

  test('WHEN shifting green to 10% THEN the weights change, the lock is taken for the shift and released after', async () => {
    const r = await cli('shift', '--env', 'dev', '--to', 'green', '--percent', '10');
    expect(r.code).toBe(0);
    expect(r.out).toContain('blue 100 / green 0  →  blue 90 / green 10');
    expect(await weights()).toEqual({ frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } });
    expect(await readLock(ctx)).toBeUndefined();
    expect((await readLedger(ctx))[0]).toMatchObject({ action: 'shift', actor: 'cli:tester@host' });
    // the verified weights are published for the dashboard
    const listed = await clients.cloudwatch.send(new ListMetricsCommand({ Namespace: 'SafeReleases', MetricName: 'TrafficWeightPercent' }));
    const series = (listed.Metrics ?? []).map((mt) => Object.fromEntries((mt.Dimensions ?? []).map((d) => [d.Name, d.Value])));
    expect(series).toHaveLength(4);
    expect(series).toEqual(
      expect.arrayContaining([
        { Environment: 'dev', Service: 'frontend', Color: 'green' },
        { Environment: 'dev', Service: 'backend', Color: 'blue' },
      ]),
    );
  });

  test('fails WHEN another caller holds the lock THEN shift exits 1 naming the holder and nothing changes', async () => {
    await acquireLock(ctx, 'pipeline-42');
    const r = await cli('shift', '--env', 'dev', '--to', 'green', '--percent', '10');
    expect(r.code).toBe(1);
    expect(r.err).toContain('LockHeld');
    expect(r.err).toContain('pipeline-42');
    expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } });
  });

  test('WHEN promoting then rolling back to blue THEN all traffic goes to green, then back to blue with green scaled to 0', async () => {
    expect((await cli('promote', '--env', 'dev')).code).toBe(0);
    expect(await weights()).toEqual({ frontend: { blue: 0, green: 100 }, backend: { blue: 0, green: 100 } });
    await acquireLock(ctx, 'someone-else'); // rollback ignores the lock
    const r = await cli('rollback', '--env', 'dev', '--to', 'blue');
    expect(r.code).toBe(0);
    expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } });
    const targets = await clients.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }));
    expect(targets.ScalableTargets!.filter((t) => t.ResourceId!.endsWith('-green')).map((t) => t.MaxCapacity)).toEqual([0, 0]);
  });

  test('WHEN scaling green with --count THEN desired counts are set', async () => {
    const r = await cli('scale', '--env', 'dev', '--color', 'green', '--count', '1');
    expect(r.code).toBe(0);
    expect(r.out).toContain('desired 2 → 1');
  });

  test('fails WHEN the stack of the environment is not deployed THEN one line on stderr and exit 2', async () => {
    const r = await cli('status', '--env', 'staging');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toContain('Staging-Stateless is not deployed');
  });

  test('fails WHEN the environment is unknown THEN exit 2 before any AWS call', async () => {
    const r = await cli('status', '--env', 'qa');
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown environment 'qa'");
  });
});

describe('GIVEN the switch handler command mapping', () => {
  test('WHEN status, lock, shift, scale restore and unlock run through validateCommand and runCommand THEN the core is driven', async () => {
    const state = (await runCommand(ctx, validateCommand({ command: 'status' }))) as EnvironmentState;
    expect(state.liveColor).toBe('blue');
    await runCommand(ctx, validateCommand({ command: 'lock', owner: 'sfn-exec-1' }));
    await runCommand(ctx, validateCommand({ command: 'shift', to: 'green', percent: 25, owner: 'sfn-exec-1', actor: 'sfn', reason: 'canary' }));
    expect(await weights()).toEqual({ frontend: { blue: 75, green: 25 }, backend: { blue: 75, green: 25 } });
    await runCommand(ctx, validateCommand({ command: 'unlock', owner: 'sfn-exec-1' }));
    expect(await readLock(ctx)).toBeUndefined();
    await runCommand(ctx, validateCommand({ command: 'rollback', actor: 'alarm' }));
    const restored = await runCommand(ctx, validateCommand({ command: 'scale', color: 'green', restore: true }));
    expect(restored).toMatchObject({ after: { frontend: 2, backend: 2 } });
  });

  test('fails WHEN a shift runs without the lock THEN GuardRefused surfaces from the handler mapping', async () => {
    await expect(
      runCommand(ctx, validateCommand({ command: 'shift', to: 'green', percent: 10, owner: 'nobody' })),
    ).rejects.toBeInstanceOf(GuardRefused);
  });
});

describe('GIVEN a local server standing in for the test listener', () => {
  let server: Server;
  let base: string;
  let seen: { path: string; headers: IncomingHttpHeaders }[];
  let answer: (host: string, path: string) => number;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      res.statusCode = answer(req.headers.host ?? '', req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    answer = () => 200;
  });

  async function healthcheck(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['healthcheck', ...argv], { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  test("WHEN healthchecking green of staging with --base-url THEN each service's own checks arrive with its Host and X-Release-Color", async () => {
    const r = await healthcheck('--color', 'green', '--env', 'staging', '--base-url', base);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(seen.map((s) => `${s.headers.host} ${s.path}`).sort()).toEqual([
      'api.staging.example.com /health',
      'api.staging.example.com /health/db',
      'api.staging.example.com /health/external',
      'api.staging.example.com /health/redis',
      'staging.example.com /health',
    ]);
    expect(seen.every((s) => s.headers['x-release-color'] === 'green')).toBe(true);
    expect(r.out).toContain('all 5 checks passed');
  });

  test('fails WHEN the backend answers 503 on /health/redis THEN that check fails, is printed, and the exit code is 1', async () => {
    answer = (host, path) => (host === 'api.dev.example.com' && path === '/health/redis' ? 503 : 200);
    const r = await healthcheck('--env', 'dev', '--color', 'blue', '--base-url', base);
    expect(r.code).toBe(1);
    expect(seen.every((s) => s.headers['x-release-color'] === 'blue')).toBe(true);
    expect(r.out).toMatch(/FAIL\s+backend\s+\/health\/redis\s+HTTP 503 \(expected 200\)\s+\(\d+ ms\)/);
    expect(r.out).toMatch(/PASS\s+frontend\s+\/health\s+HTTP 200/);
    expect(r.out).toContain('1 of 5 checks failed');
  });
});
