/**
 * The release report on rehearsed releases (the synthesized state machine run locally, the real release handler
 * against moto): at the end of a release that succeeds and of one that rolls back, a `release:report` ledger entry and
 * a notification sum it up; `npm run release -- report` prints the same summary from the ledger.
 */
import { notificationText } from '../../lambda/shared/headline';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, type PublishCommandInput } from '@aws-sdk/client-sns';
import { main } from '../../cli/release';
import { logger, readLedger } from '../../lambda/traffic';
import { deployStackOutputs } from '../support/fixture';
import { MotoServer, startMoto } from '../support/moto';
import { environmentsIn } from '../support/cli';
import { ACCOUNT, DUMMY_RELEASE_DEFINITION } from '../support/release';
import { synthEnvironment } from '../cdk/support';
import { buildReleaseEnvironment, REHEARSAL_POLICY, ReleaseEnvironment, startTestListener, TestListener } from './harness';
import { Definition, definitionFromTemplate, ReleaseFunctionIds, releaseFunctionIds, runRehearsal } from './rehearsal';

jest.setTimeout(120000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let listener: TestListener;
let definition: Definition;
let ids: ReleaseFunctionIds;
let env: ReleaseEnvironment;
let published: PublishCommandInput[];

beforeAll(async () => {
  [moto, listener] = await Promise.all([startMoto(), startTestListener()]);
  const dev = synthEnvironment('dev');
  definition = definitionFromTemplate(dev.stateless);
  ids = releaseFunctionIds(dev.stage);
});
afterAll(async () => {
  await Promise.all([moto?.stop(), listener?.close()]);
});
beforeEach(async () => {
  await moto.reset();
  // The fixture as the `dev` environment, so the release CLI finds it (Dev-Stateless, config/dev.ts's account in moto).
  env = await buildReleaseEnvironment(moto, listener, REHEARSAL_POLICY, 'dev');
  published = [];
  const send = env.sns.send.bind(env.sns);
  jest.spyOn(env.sns, 'send').mockImplementation(((cmd: unknown) => {
    if (cmd instanceof PublishCommand) published.push(cmd.input);
    return send(cmd as never);
  }) as never);
  const sfn = new SFNClient(moto.clientConfig);
  const arn = (await sfn.send(new CreateStateMachineCommand({ name: 'dev-release', roleArn: `arn:aws:iam::${ACCOUNT}:role/dev-release`, definition: DUMMY_RELEASE_DEFINITION }))).stateMachineArn!;
  sfn.destroy();
  await deployStackOutputs(moto.clientConfig, env.topology, { ReleaseStateMachineArn: arn });
});
afterEach(() => env?.destroy());

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--endpoint', moto.endpoint], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
    environments: environmentsIn(ACCOUNT),
  });
  return { code, out, err };
}

async function lastLedgerEntry() {
  return (await readLedger(env.ctx, 1))[0];
}

test('GIVEN a canary release that succeeds THEN its report (ledger and topic) has the versions, every step with its duration and the 5 gates and 3 judge verdicts; report prints it', async () => {
  const run = await runRehearsal(definition, { actor: 'rehearsal', strategy: 'canary' }, { handlers: env.handlers(ids), executionName: 'ok-1' });
  expect(run.status).toBe('SUCCEEDED');
  const entry = await lastLedgerEntry();
  expect(entry.action).toBe('release:report');
  expect(entry.detail).toMatchObject({ executionArn: run.executionArn, environment: 'dev', outcome: 'succeeded', stable: 'blue', candidate: 'green', services: ['frontend', 'backend'], alarms: [] });
  const report = entry.detail as any;
  expect(report.fromVersion).toMatch(/^frontend \S+, backend \S+$/);
  expect(report.gates).toHaveLength(8);
  expect(report.gates.filter((g: any) => g.event === 'judge-verdict')).toHaveLength(3);
  expect(report.gates.every((g: any) => g.outcome === 'pass')).toBe(true);
  expect(report.steps.map((s: any) => s.event)).toEqual(expect.arrayContaining(['started', 'migration-started', 'migration-succeeded', 'scaled-up', 'stable', 'pre-traffic-passed', 'shifted', 'gate-passed', 'completed']));
  expect(report.steps[report.steps.length - 1].event).toBe('completed');
  expect(report.steps.every((s: any) => Number.isInteger(s.seconds) && s.seconds >= 0)).toBe(true);
  // The notification: the one-line summary, the report as detail.
  const note = published.find((p) => p.Subject?.startsWith('[dev] Release report: report'))!;
  const text0 = notificationText(note.Message!).split('\n');
  expect(text0[0]).toBe(note.Subject);
  expect(text0[2]).toMatch(/^release of dev SUCCEEDED after \d+ s: green frontend .* 8 gate\(s\) pass, pass, pass, pass, pass, pass, pass, pass; alarms seen: none$/);
  expect(text0.find((l) => l.startsWith('detail: '))).toMatch(/"outcome":"succeeded"/);

  const text = await cli('report', '--env', 'dev');
  expect(text.code).toBe(0);
  expect(text.out[0]).toBe(`release ${run.executionArn}`);
  expect(text.out[1]).toMatch(/^  dev: SUCCEEDED after \d+ s \(.*\), canary, by rehearsal$/);
  expect(text.out).toContain('alarms seen: none');
  const json = await cli('report', '--env', 'dev', '--json');
  expect(json.out).toHaveLength(1);
  // The CLI sums up the same ledger entries the release did (its report entry is left out).
  expect(JSON.parse(json.out[0])).toEqual({ schemaVersion: 1, command: 'release report', environment: 'dev', report: { ...report, endedAt: expect.any(String), durationSeconds: expect.any(Number) } });
});

test('GIVEN an alarm of green during the 25% bake THEN the report says rolled back, with the alarm and why; report --execution prints it', async () => {
  const alarm = env.topology.rollbackAlarmNames.green[0];
  const run = await runRehearsal(definition, { actor: 'rehearsal', strategy: 'canary' }, {
    handlers: env.handlers(ids),
    executionName: 'rb-1',
    taskOverrides: {
      Shift: async (payload, handler) => {
        const out = (await handler(payload)) as { percent: number };
        if (out.percent === 25) await env.clients.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'rehearsal: 5xx on green' }));
        return out;
      },
    },
  });
  expect(run).toMatchObject({ status: 'FAILED', error: 'GateFailed' });
  const entry = await lastLedgerEntry();
  expect(entry.action).toBe('release:report');
  expect(entry.detail).toMatchObject({ outcome: 'rolled-back', alarms: [alarm], error: expect.stringMatching(/^release rolled back: .*GateFailed/) });
  expect((entry.detail as any).steps.slice(-1)[0].event).toBe('rolled-back');

  const r = await cli('report', '--env', 'dev', '--execution', 'rb-1');
  expect(r.code).toBe(0);
  expect(r.out[1]).toMatch(/^  dev: ROLLED-BACK after/);
  expect(r.out.find((l) => l.startsWith('  why: '))).toMatch(/GateFailed: gate after the bake at 25% failed/);
  expect(r.out).toContain(`alarms seen: ${alarm}`);
  expect(await cli('report', '--env', 'dev', '--execution', 'nope')).toMatchObject({ code: 1, err: ["no release nope of dev in the last 1000 ledger entries"] });
});
