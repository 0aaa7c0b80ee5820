/** Unit tests of the release step validation, configuration and steps with aws-sdk-client-mock. */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { notificationText } from '../../lambda/shared/headline';
import { RDSClient } from '@aws-sdk/client-rds';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { settingsFromEnv } from '../../lambda/release/context';
import { stateMachineTimeoutSeconds, stepsFor, timeToFullTraffic, worstCaseTimeToFullTraffic } from '../../lambda/release/policy';
import { backupSettingsFromEnv, snapshotIdentifier } from '../../lambda/release/backup';
import { createBackupHandler } from '../../lambda/release/backup-handler';
import { createReleaseHandler } from '../../lambda/release/handler';
import { gate, migrationStartedBy, ReleaseState } from '../../lambda/release/steps';
import { validateStepEvent } from '../../lambda/release/validate';
import { judgeGate } from '../../lambda/release/gate';
import { ENVIRONMENTS } from '../../config';
import { mocks } from '../lambda/helpers';
import { REHEARSAL_POLICY, releaseAt10 } from './harness';

const release: ReleaseState = releaseAt10();

describe('validateStepEvent', () => {
  test('accepts every step shape the state machine sends', () => {
    expect(validateStepEvent({ step: 'preflight', executionId: 'arn:x', input: { strategy: 'blue-green', actor: 'a' } })).toEqual({ step: 'preflight', executionId: 'arn:x', strategy: 'blue-green', actor: 'a' });
    expect(validateStepEvent({ step: 'gate', release, phase: 'bake' })).toMatchObject({ step: 'gate', phase: 'bake' });
    expect(validateStepEvent({ step: 'safe', executionId: 'arn:x', release: {}, error: { Error: 'X', Cause: 'y' } })).toMatchObject({ step: 'safe' });
    expect(validateStepEvent({ step: 'abandoned', executionArn: 'arn:x', status: 'TIMED_OUT' })).toMatchObject({ step: 'abandoned' });
    expect(validateStepEvent({ step: 'abandoned', executionArn: 'arn:x', status: 'FAILED' })).toMatchObject({ step: 'abandoned', status: 'FAILED' });
    expect(validateStepEvent({ step: 'hold', executionId: 'arn:x', release, error: { Error: 'ReleaseHeld', Cause: 'c' } })).toMatchObject({ step: 'hold' });
  });
  const fails: [string, unknown, RegExp][] = [
    ['a non-object event', 'shift', /event must be a JSON object/],
    ['an unknown step', { step: 'deploy' }, /step must be one of/],
    ['an unknown field', { step: 'shift', release, extra: 1 }, /extra must be absent/],
    ['preflight without executionId', { step: 'preflight', input: {} }, /executionId must be a non-empty string/],
    ['an unknown strategy', { step: 'preflight', executionId: 'x', input: { strategy: 'yolo' } }, /input.strategy must be one of canary, blue-green/],
    ['an unknown execution input field', { step: 'preflight', executionId: 'x', input: { percent: 5 } }, /input.percent must be absent/],
    ['a missing release', { step: 'shift' }, /release must be an object/],
    ['the same stable and candidate color', { step: 'shift', release: { ...release, candidate: 'blue' } }, /release.candidate must be the other color/],
    ['steps not ending at 100', { step: 'shift', release: { ...release, steps: [10, 50] } }, /release.steps must be strictly increasing/],
    ['decreasing steps', { step: 'shift', release: { ...release, steps: [50, 10, 100] } }, /release.steps/],
    ['a stepIndex past the steps', { step: 'shift', release: { ...release, stepIndex: 9 } }, /release.stepIndex must be an integer 0–3/],
    ['a percent over 100', { step: 'shift', release: { ...release, percent: 101 } }, /release.percent/],
    ['a bad deadline', { step: 'stabilizeCheck', release: { ...release, deadline: 'soon' } }, /release.deadline must be an ISO 8601 time/],
    ['a bad shift time', { step: 'gate', phase: 'bake', release: { ...release, shiftedAt: 'earlier' } }, /release.shiftedAt must be an ISO 8601 time/],
    ['a negative look count', { step: 'gate', phase: 'bake', release: { ...release, judgeLooks: -1 } }, /release.judgeLooks must be an integer 0–10000/],
    ['a fractional extension count', { step: 'gate', phase: 'bake', release: { ...release, extensions: 0.5 } }, /release.extensions must be an integer 0–1000/],
    ['an extend flag that is not a boolean', { step: 'gate', phase: 'bake', release: { ...release, extend: 'yes' } }, /release.extend must be a boolean/],
    ['missing counts', { step: 'shift', release: { ...release, candidateCountsBefore: {} } }, /candidateCountsBefore/],
    ['a count that is not a count', { step: 'shift', release: { ...release, candidateCountsBefore: { frontend: 1, backend: -1 } } }, /candidateCountsBefore.backend/],
    ['a name that is not a service name', { step: 'shift', release: { ...release, candidateCountsBefore: { Frontend: 1 } } }, /candidateCountsBefore/],
    ['an unknown gate phase', { step: 'gate', release, phase: 'later' }, /phase must be one of bake, final, window/],
    ['an approval without token', { step: 'approvalRequest', release }, /token must be a non-empty string/],
    ['a hold without a release state', { step: 'hold', executionId: 'arn:x', release: {} }, /release.owner must be a non-empty string/],
    ['an abandoned event with another status', { step: 'abandoned', executionArn: 'x', status: 'SUCCEEDED' }, /status must be one of TIMED_OUT, ABORTED, FAILED/],
  ];
  test.each(fails)('fails on %s', (_what, event, message) => {
    expect(() => validateStepEvent(event)).toThrow(expect.objectContaining({ name: 'InvalidStepInput', message: expect.stringMatching(message) }));
  });
});

describe('settingsFromEnv', () => {
  const good = {
    RELEASE_POLICY: JSON.stringify(REHEARSAL_POLICY),
    MIGRATION_TASK_DEFINITIONS: JSON.stringify({ blue: 'td-blue', green: 'td-green' }),
    MIGRATION_CONTAINER_NAME: 'backend',
    MIGRATION_SUBNETS: 'subnet-1, subnet-2',
    MIGRATION_SECURITY_GROUPS: 'sg-1',
  };
  test('reads the wiring', () => {
    expect(settingsFromEnv(good)).toMatchObject({ migration: { subnets: ['subnet-1', 'subnet-2'] } });
  });
  const fails: [string, Record<string, string | undefined>, RegExp][] = [
    ['without a policy', { ...good, RELEASE_POLICY: undefined }, /RELEASE_POLICY is not set/],
    ['on a policy that is not JSON', { ...good, RELEASE_POLICY: '{' }, /RELEASE_POLICY is not valid JSON/],
    ['on steps not ending at 100', { ...good, RELEASE_POLICY: JSON.stringify({ ...REHEARSAL_POLICY, canarySteps: [10, 50] }) }, /canarySteps/],
    ['without migration task definitions', { ...good, MIGRATION_TASK_DEFINITIONS: '{"blue":"x"}' }, /MIGRATION_TASK_DEFINITIONS/],
    ['without migration subnets', { ...good, MIGRATION_SUBNETS: '' }, /MIGRATION_SUBNETS/],
    ['on a bad lock TTL', { ...good, LOCK_TTL_SECONDS: '0' }, /LOCK_TTL_SECONDS/],
    ['on a bad test listener URL', { ...good, TEST_LISTENER_BASE_URL: 'ftp://x' }, /TEST_LISTENER_BASE_URL/],
  ];
  test.each(fails)('fails %s', (_what, env, message) => {
    expect(() => settingsFromEnv(env)).toThrow(message);
  });
  test('the backup handler reads its database and fails without one', () => {
    expect(backupSettingsFromEnv({ DATABASE_INSTANCE_ID: 'db' })).toEqual({ databaseInstanceId: 'db' });
    expect(() => backupSettingsFromEnv({ DATABASE_INSTANCE_ID: '' })).toThrow(/DATABASE_INSTANCE_ID must be set/);
  });
});

describe('the backup step runs in its own handler', () => {
  const topology = () => ({}) as never;
  test('the release handler refuses step backup', async () => {
    const handler = createReleaseHandler({ clients: {} as never, release: {} as never, topology, settings: () => ({}) as never });
    await expect(handler({ step: 'backup', release })).rejects.toMatchObject({ name: 'InvalidStepInput', message: expect.stringContaining('backup handler') });
  });
  test('the backup handler refuses every other step', async () => {
    const handler = createBackupHandler({
      clients: { rds: new RDSClient({ region: 'us-east-1' }), dynamodb: new DynamoDBClient({ region: 'us-east-1' }), sns: new SNSClient({ region: 'us-east-1' }) },
      topology,
      settings: () => ({ databaseInstanceId: 'db' }),
    });
    await expect(handler({ step: 'shift', release })).rejects.toMatchObject({ name: 'InvalidStepInput', message: expect.stringContaining('step backup only') });
  });
});

describe('policy arithmetic', () => {
  test('time to full traffic counts the bakes below 100', () => {
    expect(stepsFor(REHEARSAL_POLICY, 'blue-green')).toEqual([100]);
    expect(timeToFullTraffic(REHEARSAL_POLICY)).toBe(900);
    expect(timeToFullTraffic(REHEARSAL_POLICY, 'blue-green')).toBe(0);
    expect(timeToFullTraffic(ENVIRONMENTS.production.release)).toBeLessThanOrEqual(45 * 60);
    // The worst case repeats every bake for each judge extension (README: 75 minutes for production).
    const p = ENVIRONMENTS.production.release;
    expect(worstCaseTimeToFullTraffic(p)).toBe((p.migrationCommand ? p.migrationTimeoutSeconds : 0) + p.stabilizeTimeoutSeconds + 900 * (1 + p.judge.maxExtensions));
    expect(worstCaseTimeToFullTraffic(p)).toBe(75 * 60);
    expect(worstCaseTimeToFullTraffic(p)).toBeLessThan(stateMachineTimeoutSeconds(p));
  });
  test('the overall timeout exceeds every bounded wait together', () => {
    const p = REHEARSAL_POLICY;
    expect(stateMachineTimeoutSeconds(p)).toBeGreaterThan(p.migrationTimeoutSeconds + p.stabilizeTimeoutSeconds + 4 * p.bakeSeconds + p.finalBakeSeconds + p.rollbackWindowSeconds);
  });
  test('names are valid for RDS and ECS', () => {
    expect(snapshotIdentifier('production', 'arn:aws:states:us-east-1:1:execution:Release:My_Run.1', new Date('2030-01-02T00:00:00Z'))).toBe('release-production-20300102-My-Run-1');
    expect(migrationStartedBy('arn:aws:states:us-east-1:1:execution:Release:' + 'x'.repeat(80)).length).toBeLessThanOrEqual(36);
  });
});

describe('gate', () => {
  const m = mocks();
  const sns = mockClient(SNSClient);
  afterAll(() => {
    m.restore();
    sns.restore();
  });
  beforeEach(() => {
    m.cloudwatch.reset();
    m.ddb.reset();
    sns.reset();
    m.ddb.on(PutItemCommand).resolves({});
    sns.on(PublishCommand).resolves({});
  });
  // Green is the candidate, blue the stable color; each color has a composite, a trigger and a comparison.
  const ctx = () => ({
    ...m.ctx,
    topology: {
      ...m.ctx.topology,
      notificationTopicArn: 'arn:aws:sns:us-east-1:1:t',
      rollbackAlarmNames: { blue: ['blue-rollback', 'blue-5xx', 'blue-vs-green-5xx'], green: ['green-rollback', 'green-5xx', 'green-vs-blue-5xx'] },
      comparisonAlarmNames: { blue: ['blue-vs-green-5xx'], green: ['green-vs-blue-5xx'] },
    },
    release: { sns: new SNSClient({ region: 'us-east-1' }) },
    settings: settingsFromEnv({ RELEASE_POLICY: JSON.stringify({ ...REHEARSAL_POLICY, backupBeforeRelease: false, migrationCommand: undefined }) }),
  });
  const OK = { 'blue-5xx': 'OK', 'blue-vs-green-5xx': 'OK', 'green-5xx': 'OK', 'green-vs-blue-5xx': 'OK', 'blue-rollback': 'OK', 'green-rollback': 'OK' };
  const alarms = (states: Record<string, string>) => ({
    MetricAlarms: Object.entries(states)
      .filter(([n]) => !n.endsWith('-rollback'))
      .map(([AlarmName, StateValue]) => ({ AlarmName, StateValue: StateValue as 'OK' })),
    CompositeAlarms: Object.entries(states)
      .filter(([n]) => n.endsWith('-rollback'))
      .map(([AlarmName, StateValue]) => ({ AlarmName, StateValue: StateValue as 'OK' })),
  });

  test('passes with every alarm OK and asks for approval after the first canary step', async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms(OK));
    await expect(gate(ctx(), release, 'bake')).resolves.toMatchObject({ awaitApproval: true });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
  test('fails (rollback) when a trigger of the new color is in ALARM', async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms({ ...OK, 'green-5xx': 'ALARM', 'green-rollback': 'ALARM' }));
    await expect(gate(ctx(), release, 'bake')).rejects.toMatchObject({ name: 'GateFailed', message: expect.stringContaining('green-5xx (green trigger)') });
  });
  test("fails (rollback) when the new color's comparison with the stable one is in ALARM", async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms({ ...OK, 'green-vs-blue-5xx': 'ALARM' }));
    await expect(gate(ctx(), release, 'final')).rejects.toMatchObject({ name: 'GateFailed', message: expect.stringContaining('green-vs-blue-5xx (green comparison)') });
  });
  // Regression (#11): the old gate failed (and so rolled back the new color) on an alarm of EITHER color.
  test('GIVEN only a trigger of the STABLE color in ALARM THEN the release is held, not failed', async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms({ ...OK, 'blue-5xx': 'ALARM', 'blue-rollback': 'ALARM' }));
    const e = await gate(ctx(), { ...release, stepIndex: 2, percent: 50 }, 'bake').catch((x) => x);
    expect(e).toMatchObject({ name: 'ReleaseHeld', message: expect.stringMatching(/stable color blue has blue-5xx \(blue trigger\) in ALARM: held at 50%, no rollback/) });
  });
  // Regression (#11): the stable color's comparison fires when the NEW color is better; the old gate rolled back.
  test("GIVEN only the stable color's comparison (the new color is better) in ALARM THEN the gate passes and records it as ignored", async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms({ ...OK, 'blue-vs-green-5xx': 'ALARM', 'blue-rollback': 'ALARM' }));
    await expect(gate(ctx(), { ...release, stepIndex: 2, percent: 50 }, 'bake')).resolves.toMatchObject({ percent: 50 });
    const published = { message: notificationText(sns.commandCalls(PublishCommand)[0].args[0].input.Message!) };
    expect(published.message).toContain('ignored (stable color, not a fault of green): ');
    expect(published.message).toContain('blue-vs-green-5xx (blue comparison)');
    expect(published.message).toContain('blue-rollback (blue composite)');
  });
  test('GIVEN alarms of both colors THEN the new color is at fault: fail, not hold', async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms({ ...OK, 'blue-5xx': 'ALARM', 'green-5xx': 'ALARM' }));
    await expect(gate(ctx(), release, 'window')).rejects.toMatchObject({ name: 'GateFailed' });
  });
  test('a notification that cannot be published does not fail the step', async () => {
    m.cloudwatch.on(DescribeAlarmsCommand).resolves(alarms(OK));
    sns.on(PublishCommand).rejects(new Error('AuthorizationError'));
    await expect(gate(ctx(), { ...release, stepIndex: 2, percent: 50 }, 'bake')).resolves.toMatchObject({ awaitApproval: false });
  });
});

describe('judgeGate', () => {
  const a = (name: string, color: 'blue' | 'green', kind: 'composite' | 'trigger' | 'comparison', state = 'ALARM') => ({ name, color, kind, state });
  test.each([
    ['nothing firing', 'pass', [a('g', 'green', 'trigger', 'OK')]],
    ['a new-color composite', 'fail', [a('g', 'green', 'composite')]],
    ['a new-color comparison', 'fail', [a('g', 'green', 'comparison')]],
    ['a stable-color trigger', 'hold', [a('b', 'blue', 'trigger')]],
    ['a stable-color comparison and composite only', 'pass', [a('b', 'blue', 'comparison'), a('bc', 'blue', 'composite')]],
    ['both colors', 'fail', [a('b', 'blue', 'trigger'), a('g', 'green', 'trigger')]],
  ] as const)('%s → %s', (_what, outcome, alarms) => {
    expect(judgeGate(alarms, { candidate: 'green', stable: 'blue' }).outcome).toBe(outcome);
  });
});
