/** What counts as a crash, task-to-color mapping and the sliding window: pure functions of lambda/crash/event.ts. */
import { colorOfGroup, crashReason, parseTaskEvent, thresholdReached } from '../../lambda/crash/event';
import { topology as trafficTopology } from '../lambda/helpers';
import { taskStoppedEvent } from './support';

const detail = (d: Record<string, unknown>) => ({ lastStatus: 'STOPPED', ...d });

describe('crashReason', () => {
  test('an essential container that exits non-zero, or is killed without an exit code, is a crash', () => {
    expect(crashReason(detail({ stopCode: 'EssentialContainerExited', containers: [{ name: 'App', exitCode: 1 }] }))).toBe('essential container exited: App exit 1 ');
    expect(crashReason(detail({ stopCode: 'EssentialContainerExited', containers: [{ name: 'App', reason: 'OutOfMemoryError: Container killed due to memory usage' }] }))).toMatch(/App exit none OutOfMemoryError/);
  });

  test('an essential container that exits 0 is no crash', () => {
    expect(crashReason(detail({ stopCode: 'EssentialContainerExited', containers: [{ name: 'App', exitCode: 0 }] }))).toBeUndefined();
  });

  test('failed container or ELB health checks and a failed start are crashes', () => {
    expect(crashReason(detail({ stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Task failed container health checks' }))).toBe('Task failed container health checks');
    expect(crashReason(detail({ stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Task failed ELB health checks in (target-group arn:…)' }))).toMatch(/ELB health checks/);
    expect(crashReason(detail({ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull image manifest has been retried' }))).toMatch(/^failed to start: CannotPullContainerError/);
  });

  test('a scale-in, a deployment, a person or a Spot interruption stopping a task is no crash (even with exit code 143)', () => {
    for (const [stopCode, stoppedReason] of [
      ['ServiceSchedulerInitiated', 'Scaling activity initiated by (deployment ecs-svc/123)'],
      ['UserInitiated', 'Task stopped by user'],
      ['SpotInterruption', 'Your Spot Task was interrupted.'],
    ]) {
      expect(crashReason(detail({ stopCode, stoppedReason, containers: [{ name: 'App', exitCode: 143 }] }))).toBeUndefined();
    }
  });

  test('a task that is not STOPPED is no crash', () => {
    expect(crashReason({ lastStatus: 'RUNNING', stopCode: 'EssentialContainerExited', containers: [{ exitCode: 1 }] })).toBeUndefined();
  });
});

describe('parseTaskEvent', () => {
  test('takes the stop time from detail.stoppedAt, the task id from the ARN', () => {
    const s = parseTaskEvent(taskStoppedEvent({ task: 'abc', stoppedAt: '2030-01-01T00:03:30.000Z' }));
    expect(s).toMatchObject({ eventId: 'evt-1', taskId: 'abc', group: 'service:dev-frontend-green', stoppedAt: '2030-01-01T00:03:30.000Z', stoppedAtMs: Date.parse('2030-01-01T00:03:30.000Z') });
    expect(s.crash).toMatch(/App exit 1/);
  });

  test('fails on an event that is not an ECS task state change with a task and a time', () => {
    expect(() => parseTaskEvent({ source: 'aws.cloudwatch' })).toThrow(/not an ECS Task State Change event/);
    const e = taskStoppedEvent();
    expect(() => parseTaskEvent({ ...e, detail: { ...e.detail, taskArn: undefined } })).toThrow(/task ARN/);
    expect(() => parseTaskEvent({ ...e, time: 'soon', detail: { ...e.detail, stoppedAt: 'never' } })).toThrow(/stop time/);
  });
});

test('colorOfGroup maps a service task to its service and color, nothing else', () => {
  const t = trafficTopology;
  const s = Object.keys(t.services)[0];
  expect(colorOfGroup(t, `service:${t.services[s].colors.green.serviceName}`)).toEqual({ service: s, color: 'green' });
  expect(colorOfGroup(t, `service:${t.services[s].colors.blue.serviceName}`)).toEqual({ service: s, color: 'blue' });
  expect(colorOfGroup(t, 'service:someone-elses')).toBeUndefined();
  expect(colorOfGroup(t, 'family:dev-backend-migration')).toBeUndefined();
});

describe('thresholdReached (sliding window on stop times)', () => {
  const W = 120_000;
  test('two crashes within the window reach a threshold of two; apart they do not', () => {
    expect(thresholdReached([0, 100_000], 100_000, 2, W)).toBe(true);
    expect(thresholdReached([0, 130_000], 130_000, 2, W)).toBe(false);
  });

  test('a late, out-of-order crash counts where it happened', () => {
    // The crash at 60 s arrives after the one at 150 s: together with either it is within the window.
    expect(thresholdReached([150_000, 60_000], 60_000, 2, W)).toBe(true);
    expect(thresholdReached([0, 60_000, 150_000], 60_000, 3, W)).toBe(false);
  });

  test('an old crash arriving late does not revive a window that does not include it', () => {
    expect(thresholdReached([500_000, 510_000, 0], 0, 2, W)).toBe(false);
  });
});
