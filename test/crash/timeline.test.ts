/** The crash timeline model (scripts/lib/crash-timeline.ts) meets the target and adds up. */
import { crashTimeline, crashTimelineLine } from '../../scripts/lib/crash-timeline';
import { TARGET_HEALTH_CHECK } from '../../lib/services';

test('from the first crash to traffic safe takes at most 60 s in the model, its terms adding up', () => {
  const t = crashTimeline();
  expect(t.firstCrashToSafeSeconds).toBeLessThanOrEqual(60);
  expect(t.firstCrashToSafeSeconds).toBeCloseTo(t.eventSeconds + t.countSeconds + t.rollbackSeconds, 5);
  // The health-poll path waits for the load balancer to mark the target unhealthy first.
  expect(t.healthPollToSafeSeconds).toBeGreaterThan(TARGET_HEALTH_CHECK.intervalSeconds * TARGET_HEALTH_CHECK.unhealthyThresholdCount);
});

test('prints one line in the issue\'s format', () => {
  expect(crashTimelineLine()).toMatch(/^crash: first_crash_to_safe=[\d.]+ \(event [\d.]+ \+ count [\d.]+ \+ rollback [\d.]+\) health_poll_to_safe=[\d.]+ task_start_to_crash=\d+$/);
});
