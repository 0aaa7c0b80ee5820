/**
 * The release CLI (cli/release.ts) against moto: the real command paths with the real SDK clients pointed at moto via
 * --endpoint. `Dev-Stateless` is created in moto with the fixture's `Topology` and a `ReleaseStateMachineArn` output
 * naming a state machine with a one-hour Wait state (moto keeps its executions RUNNING until stopped; it runs no tasks).
 *
 * What moto 5.2.5 does here (asserted below):
 * - GetExecutionHistory returns the same canned history for every execution, whatever its state machine or status
 *   (SF_EXECUTION_HISTORY_TYPE=SUCCESS: ExecutionStarted, PassStateEntered/Exited "A State" with output "An output",
 *   ExecutionSucceeded, timestamps in 2020) and ignores reverseOrder, maxResults and nextToken. The one line the CLI
 *   derives from it is the step entered: `00:00:10  → A State`.
 * - SendTaskSuccess accepts any token (the backend's send_task_success is a no-op) and returns 200, so `approve` with a
 *   record awaiting approval exits 0. The refusal AWS gives for an unknown or expired token (InvalidToken /
 *   TaskTimedOut) is put in front of moto by a small proxy that answers SendTaskSuccess with InvalidToken.
 */
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { CreateStateMachineCommand, DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { main } from '../../cli/release';
import { putReleaseRecord, readReleaseRecord, record } from '../../lambda/release/record';
import { acquireLock, logger, readLedger, readRules, shift, TrafficClients, TrafficContext } from '../../lambda/traffic';
import { deployStackOutputs, Fixture, useMotoFixture } from '../support/fixture';
import { MotoServer } from '../support/moto';
import { environmentsIn } from '../support/cli';
import { ACCOUNT, DUMMY_RELEASE_DEFINITION } from '../support/release';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let clients: TrafficClients;
let fx: Fixture;
let ctx: TrafficContext;
let sfn: SFNClient;
let stateMachineArn: string;

useMotoFixture(async (s) => {
  ({ moto, clients, fx } = s);
  ctx = { clients, topology: fx.topology, retry: { sleep: async () => undefined } };
  sfn?.destroy();
  sfn = new SFNClient(moto.clientConfig);
  stateMachineArn = (
    await sfn.send(new CreateStateMachineCommand({ name: 'dev-release', roleArn: `arn:aws:iam::${ACCOUNT}:role/dev-release`, definition: DUMMY_RELEASE_DEFINITION }))
  ).stateMachineArn!;
  await deployStackOutputs(moto.clientConfig, fx.topology, { ReleaseStateMachineArn: stateMachineArn });
});
afterAll(() => sfn?.destroy());

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv.includes('--endpoint') ? argv : [...argv, '--endpoint', moto.endpoint], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
    pollMs: 1,
    environments: environmentsIn(ACCOUNT),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function startRelease(name: string, input: object = { actor: 'pipeline' }): Promise<string> {
  return (await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }))).executionArn!;
}

async function describe_(executionArn: string) {
  return sfn.send(new DescribeExecutionCommand({ executionArn }));
}

async function weights() {
  const r = await readRules(ctx);
  return { frontend: r.frontend.weights, backend: r.backend.weights };
}

/** What a release has done by its first bake: holds the lock and shifted green to 10% on both rules. */
async function canaryAt10(owner: string) {
  await acquireLock(ctx, owner);
  await shift(ctx, { target: { to: 'green', percent: 10 }, actor: 'sfn', owner, reason: 'canary' });
  expect(await weights()).toEqual({ frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } });
}

/** The record a release writes (lambda/release/record.ts putReleaseRecord) with the fixture's clients. */
async function writeRecord(item: Parameters<typeof putReleaseRecord>[1]) {
  await putReleaseRecord({ clients, topology: fx.topology, retry: ctx.retry } as unknown as Parameters<typeof putReleaseRecord>[0], item);
}

describe('GIVEN Dev-Stateless with Topology and ReleaseStateMachineArn outputs in moto', () => {
  describe('status', () => {
    test('WHEN no release has run THEN it prints the weights and says so, exit 0', async () => {
      const r = await cli('status', '--env', 'dev');
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out.split('\n')).toEqual(['frontend  blue 100 / green 0', 'backend   blue 100 / green 0', 'no release has run yet']);
    });

    test('WHEN a release is RUNNING THEN it prints the weights, that execution as RUNNING and the step it is in; exit 0', async () => {
      await canaryAt10('release-1');
      const arn = await startRelease('release-1');
      // moto's canned history (see the header): the step the CLI derives is "A State"
      expect(((await sfn.send(new GetExecutionHistoryCommand({ executionArn: arn }))).events ?? []).map((e) => e.type)).toEqual([
        'ExecutionStarted',
        'PassStateEntered',
        'PassStateExited',
        'ExecutionSucceeded',
      ]);
      const r = await cli('status', '--env', 'dev');
      expect(r).toMatchObject({ code: 0, err: '' });
      const lines = r.out.split('\n');
      expect(lines[0]).toBe('frontend  blue 90 / green 10');
      expect(lines[1]).toBe('backend   blue 90 / green 10');
      expect(lines[2]).toMatch(/^last release: release-1 RUNNING \(started \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
      expect(lines[3]).toBe('00:00:10  → A State');
      expect(lines).toHaveLength(4);
    });

    test("WHEN the running release's judge has looked THEN status shows its last verdicts with their numbers, not another execution's", async () => {
      await canaryAt10('release-1');
      const arn = await startRelease('release-1');
      const rctx = { clients, topology: fx.topology, retry: ctx.retry, release: { sns: undefined as never } };
      const verdict = (owner: string, look: number, outcome: string, action: string, numbers: Record<string, number>) =>
        record(rctx as unknown as Parameters<typeof record>[0], {
          actor: 'release',
          event: 'judge-verdict',
          message: `judge ${outcome}`,
          notify: false,
          detail: { owner, percent: 10, look, maxLooks: 9, outcome, action, byPolicy: false, summary: `look ${look}`, window: { minutes: 5 }, services: [{ service: 'frontend', outcome, reason: `${outcome} reason`, numbers }] },
        });
      await verdict('arn:aws:states:us-east-1:123456789012:execution:dev-release:older', 1, 'fail', 'fail', {});
      await verdict(arn, 1, 'inconclusive', 'extend', { candidateRequests: 40, pValue: 0.21345 });
      await verdict(arn, 2, 'pass', 'pass', { candidateRequests: 5200, pValue: 0.61 });
      const r = await cli('status', '--env', 'dev');
      expect(r).toMatchObject({ code: 0, err: '' });
      const lines = r.out.split('\n');
      const at = lines.indexOf('judge verdicts (last 2):');
      expect(at).toBeGreaterThan(0);
      expect(lines.slice(at + 1)).toEqual([
        expect.stringMatching(/^ {2}\d\d:\d\d:\d\d {2}10% look 1\/9 over 5 min: INCONCLUSIVE → bake extended — look 1$/),
        '      frontend  inconclusive inconclusive reason [candidateRequests=40 pValue=0.2135]',
        expect.stringMatching(/^ {2}\d\d:\d\d:\d\d {2}10% look 2\/9 over 5 min: PASS → pass — look 2$/),
        '      frontend  pass         pass reason [candidateRequests=5200 pValue=0.61]',
      ]);
    });

    test('WHEN an older execution was stopped and a newer one runs THEN the running one is shown', async () => {
      const old = await startRelease('release-old');
      await sfn.send(new StopExecutionCommand({ executionArn: old }));
      await startRelease('release-new');
      const r = await cli('status', '--env', 'dev');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/last release: release-new RUNNING/);
    });
  });

  describe('abort', () => {
    test('WHEN a release is RUNNING at green 10% THEN it is stopped (ABORTED) and both rules go back to blue 100', async () => {
      await canaryAt10('release-1');
      const arn = await startRelease('release-1');
      await writeRecord({ executionArn: arn, status: 'running', stable: 'blue', candidate: 'green' });
      const r = await cli('abort', '--env', 'dev');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect((await describe_(arn)).status).toBe('ABORTED');
      expect(r.out.split('\n')).toEqual([`stopped ${arn}`, 'rolled back to blue: frontend blue 100 / green 0, backend blue 100 / green 0']);
      expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } });
      expect((await readLedger(ctx)).map((e) => e.action)).toContain('rollback');
    });

    test('WHEN the release record names another execution THEN the rollback still goes to the live color (blue)', async () => {
      await canaryAt10('release-2');
      const arn = await startRelease('release-2');
      await writeRecord({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:dev-release:earlier', status: 'failed', stable: 'green', candidate: 'blue' });
      const r = await cli('abort', '--env', 'dev');
      expect(r.code).toBe(0);
      expect((await describe_(arn)).status).toBe('ABORTED');
      expect(await weights()).toEqual({ frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } });
    });

    test('fails WHEN nothing runs and all traffic is on blue THEN one line from the core (nothing to roll back), exit 1', async () => {
      const r = await cli('abort', '--env', 'dev');
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^GuardRefused: .*nothing to roll back/);
    });
  });

  describe('approve', () => {
    test('fails WHEN no release record exists THEN exit 1 with one line', async () => {
      const r = await cli('approve', '--env', 'dev');
      expect(r).toEqual({ code: 1, out: '', err: 'no release of dev is waiting for approval' });
    });

    test('fails WHEN the record is running, not awaiting approval THEN exit 1 with one line naming it', async () => {
      const arn = await startRelease('release-3');
      await writeRecord({ executionArn: arn, status: 'running', stable: 'blue', candidate: 'green' });
      const r = await cli('approve', '--env', 'dev');
      expect(r).toEqual({ code: 1, out: '', err: `no release of dev is waiting for approval (last: ${arn} running)` });
    });

    test('WHEN the record awaits approval THEN SendTaskSuccess is sent with the stored token (moto accepts any token) and it exits 0', async () => {
      const arn = await startRelease('release-4');
      await writeRecord({ executionArn: arn, status: 'awaiting-approval', stable: 'blue', candidate: 'green', taskToken: 'AAAAKgAAAAIAAAAAAAAAAfaketoken' });
      expect((await readReleaseRecord(ctx))?.taskToken).toBe('AAAAKgAAAAIAAAAAAAAAAfaketoken');
      const r = await cli('approve', '--env', 'dev');
      expect(r).toEqual({ code: 0, out: `approved ${arn}`, err: '' });
    });

    test('fails WHEN Step Functions rejects the token (InvalidToken, via a proxy in front of moto) THEN one error line and exit 1, no stack trace', async () => {
      const arn = await startRelease('release-5');
      await writeRecord({ executionArn: arn, status: 'awaiting-approval', stable: 'blue', candidate: 'green', taskToken: 'expired-token' });
      const sent: { target: string; body: string }[] = [];
      const proxy = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks).toString();
        const target = String(req.headers['x-amz-target'] ?? '');
        if (target === 'AWSStepFunctions.SendTaskSuccess') {
          sent.push({ target, body });
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'test' });
          res.end(JSON.stringify({ __type: 'com.amazonaws.swf.service.v2.model#InvalidToken', message: 'Invalid Token: expired-token' }));
          return;
        }
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length').map(([k, v]) => [k, String(v)]));
        const upstream = await fetch(`${moto.endpoint}${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/xml' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const r = await cli('approve', '--env', 'dev', '--endpoint', `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
        expect(sent).toHaveLength(1);
        expect(JSON.parse(sent[0].body)).toMatchObject({ taskToken: 'expired-token' });
        expect(r.code).toBe(1);
        expect(r.out).toBe('');
        expect(r.err).toBe('error: InvalidToken: Invalid Token: expired-token');
      } finally {
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
      }
    });
  });

  describe('start --no-follow', () => {
    test.each([['canary'], ['blue-green']])('WHEN started with --strategy %s THEN one RUNNING execution has the strategy and the actor in its input, exit 0', async (strategy) => {
      const r = await cli('start', '--env', 'dev', '--strategy', strategy, '--no-follow');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const arn = /^release of dev started: (arn:\S+)$/.exec(r.out)?.[1];
      expect(arn).toBeDefined();
      const d = await describe_(arn!);
      expect(d.status).toBe('RUNNING');
      expect(d.stateMachineArn).toBe(stateMachineArn);
      expect(JSON.parse(d.input!)).toEqual({ actor: expect.stringMatching(/^cli:.+@.+$/), strategy });
    });

    test('WHEN started without --strategy THEN the input carries no strategy (the state machine uses the config default)', async () => {
      const r = await cli('start', '--env', 'dev', '--no-follow');
      expect(r.code).toBe(0);
      const arn = /started: (\S+)$/.exec(r.out)![1];
      expect(Object.keys(JSON.parse((await describe_(arn)).input!))).toEqual(['actor']);
    });
  });

  describe('start (following)', () => {
    test('WHEN the execution is stopped while the CLI follows it THEN each history event is printed once, then the end, exit 1', async () => {
      const run = main(['start', '--env', 'dev', '--endpoint', moto.endpoint], {
        stdout: (l) => out.push(l),
        stderr: (l) => out.push(`stderr: ${l}`),
        clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
        pollMs: 10,
        environments: environmentsIn(ACCOUNT),
      });
      const out: string[] = [];
      // let the CLI poll a few times, then stop the execution the way the rollback Lambda would
      let arn: string | undefined;
      for (let i = 0; i < 200 && !arn; i++) {
        await new Promise((r) => setTimeout(r, 10));
        arn = /started: (\S+)$/.exec(out[0] ?? '')?.[1];
      }
      expect(arn).toBeDefined();
      await new Promise((r) => setTimeout(r, 200));
      await sfn.send(new StopExecutionCommand({ executionArn: arn!, error: 'RolledBack', cause: 'alarm' }));
      expect(await run).toBe(1);
      expect(out[0]).toBe(`release of dev started: ${arn}`);
      expect(out.slice(1, -1)).toEqual(['00:00:10  → A State']);
      expect(out[out.length - 1]).toMatch(/^release ABORTED/);
    });
  });

  describe('unlock (failure-safe: a failed safe state keeps the lock and the CLI explains it)', () => {
    const arn = 'arn:aws:states:us-east-1:123456789012:execution:dev-release:failed-1';
    test('WHEN the record says safe-failed and its execution holds the lock THEN status explains it and unlock clears the lock', async () => {
      await acquireLock(ctx, arn);
      await writeRecord({ executionArn: arn, status: 'safe-failed', stable: 'blue', candidate: 'green', error: 'AccessDenied: ModifyRule', done: ['release record: failed'] });
      const status = await cli('status', '--env', 'dev');
      expect(status.out).toMatch(/release record: .*failed-1 safe-failed .*AccessDenied: ModifyRule/);
      expect(status.out).toMatch(/the safe state of that release FAILED after: release record: failed.*rollback --to blue --env dev/);
      expect(status.out).toContain('the release lock is KEPT on purpose');
      expect(status.out).toContain('npm run release -- unlock --env dev');
      const r = await cli('unlock', '--env', 'dev');
      expect(r).toMatchObject({ code: 0, out: expect.stringContaining(`released the lock kept by ${arn}`) });
      expect((await cli('unlock', '--env', 'dev')).out).toBe('the release lock of dev is free');
    });
    test('WHEN the lock belongs to a release that did not fail its safe state THEN unlock refuses, exit 1', async () => {
      await acquireLock(ctx, 'release-running');
      await writeRecord({ executionArn: 'release-running', status: 'running', stable: 'blue', candidate: 'green' });
      const r = await cli('unlock', '--env', 'dev');
      expect(r).toMatchObject({ code: 1, err: expect.stringMatching(/refused: .*held by release-running.*running/) });
    });
    test('WHEN started with --force THEN the execution input carries force: true', async () => {
      const r = await cli('start', '--env', 'dev', '--force', '--no-follow');
      const started = /started: (\S+)$/.exec(r.out)![1];
      expect(JSON.parse((await describe_(started)).input!)).toMatchObject({ force: true });
    });
  });
});
