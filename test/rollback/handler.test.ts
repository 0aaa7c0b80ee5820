import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { toAttributes } from '../../lambda/traffic/dynamo-items';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { emfLine, subjectOf } from '../../lambda/rollback';
import { stableColorOf } from '../../lambda/traffic/stable';
import { parseAlarmEvent } from '../../lambda/rollback/event';
import { event, SM_ARN, topology, world } from './helpers';

let w: ReturnType<typeof world>;
afterEach(() => w?.restore());

describe('handler', () => {
  const env = { ...process.env };
  // One module instance (its clients are mocked by aws-sdk-client-mock); it caches the topology once parsed.
  afterAll(() => {
    process.env = { ...env };
  });

  test('WHEN TOPOLOGY_TABLE is not set THEN it throws before calling anything', async () => {
    w = world();
    delete process.env.TOPOLOGY_TABLE;
    const { handler } = await import('../../lambda/rollback/handler');
    await expect(handler(event())).rejects.toThrow('TOPOLOGY_TABLE is not set');
    expect(w.order).toEqual([]);
  });

  test('WHEN invoked with an alarm event THEN it rolls back with the stored topology and release state machine', async () => {
    w = world();
    w.ddb.on(GetItemCommand, { TableName: 'dev-lock', Key: { pk: { S: '#topology' } } }).resolves({ Item: toAttributes({ pk: '#topology', document: JSON.stringify(topology), version: 'v1' }) });
    process.env.TOPOLOGY_TABLE = 'dev-lock';
    process.env.TOPOLOGY_VERSION = 'v1';
    process.env.RELEASE_STATE_MACHINE_ARN = SM_ARN;
    const { handler } = await import('../../lambda/rollback/handler');
    const out = await handler(event(), { awsRequestId: 'req-1' });
    expect(out).toMatchObject({ status: 'rolled-back', failedColor: 'green' });
    expect(w.sfn.commandCalls(ListExecutionsCommand)[0].args[0].input.stateMachineArn).toBe(SM_ARN);
    expect(w.sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
});

describe('stableColorOf', () => {
  const all = (c: 'blue' | 'green') => ({ frontend: c === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 }, backend: c === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 } });
  const mixed = { frontend: { blue: 50, green: 50 }, backend: { blue: 50, green: 50 } };
  test('is the color carrying all traffic now', () => {
    expect(stableColorOf(all('green'), [])).toEqual({ color: 'green', source: 'current' });
  });
  test('is the newest all-traffic state in the ledger when both carry traffic (weightsAfter before weightsBefore)', () => {
    const ledger = [
      { sk: '3', action: 'scale' },
      { sk: '2', action: 'shift', weightsBefore: all('green'), weightsAfter: mixed },
      { sk: '1', action: 'rollback', weightsAfter: all('blue') },
    ] as never;
    expect(stableColorOf(mixed, ledger)).toEqual({ color: 'green', source: 'ledger', sk: '2' });
  });
  test('ignores single-service shifts and, when nothing says, is unknown (never a guess from the weights)', () => {
    const ledger = [{ sk: '1', action: 'shift', weightsBefore: { frontend: { blue: 100, green: 0 } } }] as never;
    expect(stableColorOf(mixed, ledger)).toMatchObject({ source: 'unknown', why: expect.stringContaining('no ledger entry within the 1 read') });
  });
  test('is the release\'s stable color while a release is in progress, even with all traffic on the new color', () => {
    const release = { executionArn: 'x', status: 'running', stable: 'blue', candidate: 'green' } as const;
    expect(stableColorOf(all('green'), [], release)).toEqual({ color: 'blue', source: 'release', executionArn: 'x' });
    expect(stableColorOf(all('green'), [], { ...release, status: 'succeeded' })).toEqual({ color: 'green', source: 'current' });
    // A held release handed the decision to the operator: its record may be stale by the time an alarm fires.
    expect(stableColorOf(all('green'), [], { ...release, status: 'held' })).toEqual({ color: 'green', source: 'current' });
  });
  test('is unknown when the ledger or the release record cannot be read and traffic is split', () => {
    expect(stableColorOf(mixed, new Error('denied'))).toMatchObject({ source: 'unknown', why: expect.stringContaining('ledger could not be read: denied') });
    expect(stableColorOf(mixed, [], new Error('denied'))).toMatchObject({ source: 'unknown', why: expect.stringContaining('release record could not be read') });
    expect(stableColorOf(all('blue'), new Error('denied'), new Error('denied'))).toEqual({ color: 'blue', source: 'current' });
  });
});

describe('notification and metric formats', () => {
  test('the SNS subject stays ASCII and under 100 characters', () => {
    const e = parseAlarmEvent(event('green-' + 'x'.repeat(200)));
    const s = subjectOf('production', { kind: 'rolled-back', event: e, failedColor: 'green', stableColor: 'blue', headline: 'h', done: [] });
    expect(s.length).toBeLessThan(100);
    expect(s).toMatch(/^\[production\] Automatic rollback: alarm green-x+\.\.\.$/);
  });

  test('an EMF line names namespace, dimension, units and values', () => {
    const line = JSON.parse(emfLine('staging', { RollbackCompleted: 1, RollbackTimeToSafe: 120 }, { alarmName: 'a' }, new Date(5)));
    expect(line).toEqual({
      alarmName: 'a',
      _aws: {
        Timestamp: 5,
        CloudWatchMetrics: [
          {
            Namespace: 'SafeReleases',
            Dimensions: [['Environment']],
            Metrics: [
              { Name: 'RollbackCompleted', Unit: 'Count' },
              { Name: 'RollbackTimeToSafe', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      Environment: 'staging',
      RollbackCompleted: 1,
      RollbackTimeToSafe: 120,
    });
  });
});
