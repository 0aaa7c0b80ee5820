import type { LedgerEntry } from '../../lambda/traffic';
import { reportLine, summarizeRelease } from '../../lambda/release/report';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:Release:exec-2';
let n = 0;
function entry(time: string, action: string, reason: string, detail?: Record<string, unknown>, actor = 'cli:ops'): LedgerEntry {
  return { pk: 'staging', sk: `${time}#${(n++).toString(16).padStart(8, '0')}`, time, environment: 'staging', actor, action: action as LedgerEntry['action'], reason, ...(detail ? { detail } : {}) };
}

const started = (time: string, owner: string) =>
  entry(time, 'release:started', 'release started', { owner, strategy: 'canary', services: ['frontend', 'backend'], stable: 'blue', candidate: 'green', fromVersion: 'frontend 1.0.0, backend 1.0.0', toVersion: 'frontend 1.1.0, backend 1.1.0' });

const previous = [started('2026-01-01T09:00:00.000Z', 'arn:aws:states:us-east-1:123456789012:execution:Release:exec-1'), entry('2026-01-01T09:10:00.000Z', 'release:completed', 'done')];

const rolledBack = [
  started('2026-01-02T10:00:00.000Z', ARN),
  entry('2026-01-02T10:00:30.000Z', 'release:scaled-up', 'green scaled'),
  entry('2026-01-02T10:03:00.000Z', 'release:stable', 'green is stable'),
  entry('2026-01-02T10:03:05.000Z', 'shift', 'core shift'),
  entry('2026-01-02T10:03:06.000Z', 'release:shifted', 'green at 10%'),
  entry('2026-01-02T10:05:06.000Z', 'release:gate-passed', 'gate passed at 10% (bake)', { phase: 'bake', alarms: ['staging-frontend-green-5xx=OK', 'staging-backend-blue-latency=ALARM'] }),
  entry('2026-01-02T10:07:06.000Z', 'release:judge-verdict', 'judge: fail', {
    outcome: 'fail',
    summary: 'backend green error rate 4.1% vs blue 0.2%',
    services: [{ service: 'backend', outcome: 'fail', numbers: { errorRate: 0.041, stableErrorRate: 0.002, requests: 1200 } }],
  }),
  entry('2026-01-02T10:07:20.000Z', 'rollback', 'automatic rollback', { alarmName: 'staging-backend-green-errors', failedColor: 'green' }, 'rollback-lambda'),
  entry('2026-01-02T10:07:40.000Z', 'release:rolled-back', 'release rolled back: all traffic on blue — GateFailed: backend'),
  entry('2026-01-02T10:07:41.000Z', 'release:report', 'an earlier report'),
];

const newer = [started('2026-01-03T10:00:00.000Z', 'arn:aws:states:us-east-1:123456789012:execution:Release:exec-3')];

describe('summarizeRelease', () => {
  const all = [...newer, ...rolledBack.slice().reverse(), ...previous];

  it('sums up one execution: versions, step durations, gates with their numbers, alarms, outcome', () => {
    const r = summarizeRelease(all, ARN)!;
    expect(r).toMatchObject({
      executionArn: ARN,
      environment: 'staging',
      outcome: 'rolled-back',
      strategy: 'canary',
      services: ['frontend', 'backend'],
      stable: 'blue',
      candidate: 'green',
      fromVersion: 'frontend 1.0.0, backend 1.0.0',
      toVersion: 'frontend 1.1.0, backend 1.1.0',
      startedAt: '2026-01-02T10:00:00.000Z',
      endedAt: '2026-01-02T10:07:40.000Z',
      durationSeconds: 460,
      error: 'release rolled back: all traffic on blue — GateFailed: backend',
    });
    // Release events and the rollback Lambda's record, not the core's shift nor an earlier report; seconds since the previous step.
    expect(r.steps.map((s) => [s.event, s.seconds])).toEqual([
      ['started', 0],
      ['scaled-up', 30],
      ['stable', 150],
      ['shifted', 6],
      ['gate-passed', 120],
      ['judge-verdict', 120],
      ['rollback', 14],
      ['rolled-back', 20],
    ]);
    expect(r.gates).toEqual([
      { event: 'gate-passed', at: '2026-01-02T10:05:06.000Z', outcome: 'pass', summary: 'gate passed at 10% (bake)', numbers: {} },
      {
        event: 'judge-verdict',
        at: '2026-01-02T10:07:06.000Z',
        outcome: 'fail',
        summary: 'backend green error rate 4.1% vs blue 0.2%',
        numbers: { 'services.backend.numbers.errorRate': 0.041, 'services.backend.numbers.stableErrorRate': 0.002, 'services.backend.numbers.requests': 1200 },
      },
    ]);
    expect(r.alarms).toEqual(['staging-backend-blue-latency', 'staging-backend-green-errors']);
  });

  it("recognizes the environment's alarms named in a record's text, not those listed with another state", () => {
    const failed = [
      started('2026-01-04T10:00:00.000Z', 'exec-4'),
      entry('2026-01-04T10:01:00.000Z', 'release:gate-passed', 'gate passed', { alarms: ['dev-frontend-green-5xx=OK', 'dev-backend-green-latency=INSUFFICIENT_DATA'] }),
      entry('2026-01-04T10:02:00.000Z', 'release:rolled-back', 'release rolled back — GateFailed: gate after the bake at 25% failed: dev-backend-green-latency (green trigger) in ALARM'),
    ];
    expect(summarizeRelease(failed, 'exec-4', ['dev-frontend-green-5xx', 'dev-backend-green-latency', 'dev-backend-blue-latency'])?.alarms).toEqual(['dev-backend-green-latency']);
    expect(summarizeRelease(failed, 'exec-4')?.alarms).toEqual([]);
  });

  it('takes an execution by its name, and the latest start without one', () => {
    expect(summarizeRelease(all, 'exec-2')?.executionArn).toBe(ARN);
    expect(summarizeRelease(all)?.executionArn).toMatch(/exec-3$/);
    expect(summarizeRelease(all)?.outcome).toBe('running');
    expect(summarizeRelease(previous)).toMatchObject({ outcome: 'succeeded', durationSeconds: 600, gates: [], alarms: [] });
    expect(summarizeRelease(previous)?.error).toBeUndefined();
  });

  it('is undefined without the start of the execution', () => {
    expect(summarizeRelease(all, 'exec-9')).toBeUndefined();
    expect(summarizeRelease([])).toBeUndefined();
  });

  it('says outcome, versions, duration, gates and alarms in one line', () => {
    expect(reportLine(summarizeRelease(all, ARN)!)).toBe(
      'release of staging ROLLED-BACK after 460 s: green frontend 1.1.0, backend 1.1.0 (was blue frontend 1.0.0, backend 1.0.0); ' +
        '2 gate(s) pass, fail; alarms seen: staging-backend-blue-latency, staging-backend-green-errors',
    );
  });
});

describe('reportRelease', () => {
  const { reportRelease } = require('../../lambda/release/report') as typeof import('../../lambda/release/report');
  const topology = { environment: 'staging', ledgerTableName: 'ledger', lockTableName: 'lock', rollbackAlarmNames: { blue: [], green: [] }, services: {} } as never;

  it('never throws: a ledger that cannot be read is logged and the release goes on', async () => {
    const { logger } = require('../../lambda/traffic') as typeof import('../../lambda/traffic');
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const send = jest.fn().mockRejectedValue(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const publish = jest.fn();
    const ctx = { clients: { dynamodb: { send } }, release: { sns: { send: publish } }, topology, retry: { maxAttempts: 1, sleep: async () => undefined } } as never;
    await expect(reportRelease(ctx, ARN, '2026-01-02T10:00:00.000Z')).resolves.toBeUndefined();
    expect(send).toHaveBeenCalled();
    expect(publish).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith('could not write the release report', expect.objectContaining({ owner: ARN, error: expect.stringContaining('denied') }));
    warn.mockRestore();
  });

  it('does nothing for a release that never started (refused before preflight recorded it)', async () => {
    const send = jest.fn();
    await reportRelease({ clients: { dynamodb: { send } }, release: { sns: { send } }, topology } as never, ARN, undefined);
    expect(send).not.toHaveBeenCalled();
  });
});
