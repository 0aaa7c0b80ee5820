/**
 * Timeline model of crash detection (README "Crash detection"): from the first crashed task of the new color to
 * traffic safe on the stable color, from AWS's documented behaviour and this project's settings. A model, not a
 * measurement: every term is named, and where AWS documents no figure the assumption says so.
 *
 * `crashTimelineLine()` is the line `npm run bench -- judge` prints; `crashTimeline()` its figures (test/crash/timeline.test.ts).
 */
import { ENVIRONMENTS } from '../../config';
import { timeToSafeBudget } from '../../lambda/rollback/budget';
import { attemptBoundMs } from '../../lambda/traffic/client-config';
import { CONTAINER_HEALTH_CHECK, TARGET_HEALTH_CHECK } from '../../lib/services';

/**
 * ECS task state change → EventBridge → the crash Lambda. ECS sends task state changes to EventBridge with durable
 * (at least once) delivery and EventBridge invokes the target when the event arrives
 * (https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html: "The first attempt is made as
 * soon as the event arrives"). AWS publishes no latency figure for it: assumed 5 s, a Lambda cold start included.
 */
export const EVENT_DELIVERY_SECONDS = 5;

/**
 * From the first crash to the crash that reaches the threshold (monitoring.crash.tasks = 2). A defect that crashes one
 * task of the new version crashes its siblings on the same code path: ECS starts a service's tasks together and the
 * canary spreads requests over them. Assumed: the second task stops within 10 s of the first. With one task only,
 * the second crash is its replacement's: Fargate provisioning and image pull (tens of seconds) plus TASK_START_TO_CRASH;
 * the window (120 s) still counts it, but the timeline is then longer.
 */
export const SECOND_CRASH_SECONDS = 10;

/**
 * A task's time from start to crash when its container fails its health check instead of exiting: the start period,
 * then `retries` failed checks `intervalSeconds` apart (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html).
 * Not on the crash timeline (which starts at the first crash): it is how long such a task serves before it is one.
 */
export const TASK_START_TO_CRASH_SECONDS = CONTAINER_HEALTH_CHECK.startPeriodSeconds + CONTAINER_HEALTH_CHECK.retries * CONTAINER_HEALTH_CHECK.intervalSeconds;

/** Step Functions: a Task's catch to the next state's start (seconds: assumed 1 s; the service documents none). */
const TRANSITION_SECONDS = 1;

const s = (ms: number) => Math.round(ms / 100) / 10;

export interface CrashTimeline {
  readonly eventSeconds: number;
  readonly countSeconds: number;
  readonly rollbackSeconds: number;
  readonly firstCrashToSafeSeconds: number;
  /** Target failing its first health check → marked unhealthy → two bad polls → SafeState → traffic safe. */
  readonly healthPollToSafeSeconds: number;
  readonly taskStartToCrashSeconds: number;
}

export function crashTimeline(env: keyof typeof ENVIRONMENTS = 'production'): CrashTimeline {
  const c = ENVIRONMENTS[env];
  const budget = timeToSafeBudget();
  // Before the rollback core starts: the count (UpdateItem) and the release record and lock (GetItem ×2 at once), each
  // at its attempt bound; then the rollback core's worst case to safe (one call hanging, cold start included).
  const rollbackMs = 2 * attemptBoundMs() + budget.oneHangMs;
  const count = SECOND_CRASH_SECONDS;
  // The ALB marks a target unhealthy after `unhealthyThresholdCount` failed checks `intervalSeconds` apart
  // (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html); the watch
  // sees it at its next poll and fails the bake at the `unhealthyPolls`-th; each poll is one Lambda task (one
  // DescribeTargetHealth round at its attempt bound); the safe state then moves traffic (the rollback core's worst
  // case stands in for it: the same traffic writes and read-back).
  const albMarks = TARGET_HEALTH_CHECK.intervalSeconds * TARGET_HEALTH_CHECK.unhealthyThresholdCount;
  const polls = c.monitoring.crash.unhealthyPolls * (c.monitoring.crash.pollSeconds + attemptBoundMs() / 1000);
  const healthPoll = albMarks + polls + TRANSITION_SECONDS + budget.oneHangMs / 1000;
  return {
    eventSeconds: EVENT_DELIVERY_SECONDS,
    countSeconds: count,
    rollbackSeconds: s(rollbackMs),
    firstCrashToSafeSeconds: s((EVENT_DELIVERY_SECONDS + count) * 1000 + rollbackMs),
    healthPollToSafeSeconds: s(healthPoll * 1000),
    taskStartToCrashSeconds: TASK_START_TO_CRASH_SECONDS,
  };
}

/** One line for `npm run bench -- judge`; target first_crash_to_safe ≤ 60 s. */
export function crashTimelineLine(): string {
  const t = crashTimeline();
  return (
    `crash: first_crash_to_safe=${t.firstCrashToSafeSeconds} (event ${t.eventSeconds} + count ${t.countSeconds} + rollback ${t.rollbackSeconds}) ` +
    `health_poll_to_safe=${t.healthPollToSafeSeconds} task_start_to_crash=${t.taskStartToCrashSeconds}`
  );
}
