/**
 * Pure arithmetic of a release policy: which steps a strategy walks, how long waits last, and the timeouts the state
 * machine and its lock get. Shared by the construct (lib/release.ts), the handler and the bench.
 */
import type { ReleasePolicy } from '../../config/types';

export type Strategy = ReleasePolicy['strategy'];
export const STRATEGIES: readonly Strategy[] = ['canary', 'blue-green'];

/** Longest a single release task (one Lambda invocation) may take before the state machine gives up on it. */
export const TASK_TIMEOUT_SECONDS = 120;
/** The release Lambda's own timeout: below TASK_TIMEOUT_SECONDS, so Lambda reports the timeout first. */
export const HANDLER_TIMEOUT_SECONDS = 90;
/** Poll interval of the "wait until stable" and "wait for the migration" loops. */
export const POLL_SECONDS = 15;
/** Timeout of one pre-traffic HTTP check. */
export const HEALTHCHECK_TIMEOUT_MS = 5000;
/** Slack added to the overall timeout for Lambda calls, retries and polling granularity. */
export const OVERALL_SLACK_SECONDS = 30 * 60;

/** The traffic percentages (of the new color) a release walks through. Blue/green goes straight to 100. */
export function stepsFor(policy: Pick<ReleasePolicy, 'canarySteps'>, strategy: Strategy): number[] {
  return strategy === 'blue-green' ? [100] : [...policy.canarySteps];
}

/**
 * Seconds from the first traffic shift until the new color has 100%, counting the bake after every step below 100
 * (excluding a manual approval wait, the stabilize wait and the migration, which depend on the environment).
 */
export function timeToFullTraffic(policy: ReleasePolicy, strategy: Strategy = policy.strategy): number {
  const steps = stepsFor(policy, strategy);
  return steps.filter((s) => s < 100).length * policy.bakeSeconds;
}

/**
 * Worst case from start until 100%: every bounded wait before full traffic at its limit (migration and stabilize
 * timeouts) plus the bakes, each repeated `judge.maxExtensions` times by an inconclusive judge; still excluding the
 * approval wait.
 */
export function worstCaseTimeToFullTraffic(policy: ReleasePolicy, strategy: Strategy = policy.strategy): number {
  const bakes = timeToFullTraffic(policy, strategy) * (1 + policy.judge.maxExtensions);
  return (policy.migrationCommand ? policy.migrationTimeoutSeconds : 0) + policy.stabilizeTimeoutSeconds + bakes;
}

/** Longest interval between two target-health polls of a bake (config monitoring.crash.pollSeconds is validated to it). */
export const MAX_WATCH_POLL_SECONDS = 60;

/** Upper bound of a whole execution under the policy (the state machine's TimeoutSeconds and the lock's lease). */
export function stateMachineTimeoutSeconds(policy: ReleasePolicy): number {
  const steps = Math.max(stepsFor(policy, 'canary').length, 1);
  // A watched bake ends with the first poll after its time: up to one interval and one task past it (each bake, the
  // final bake and the window). Every bake may be repeated up to judge.maxExtensions times while the judge is
  // inconclusive (lib/release.ts ExtendBake?), each repeat with its alarm gate and judge tasks.
  const looks = steps * (1 + policy.judge.maxExtensions);
  const bakes = looks * policy.bakeSeconds + (looks + 2) * (MAX_WATCH_POLL_SECONDS + TASK_TIMEOUT_SECONDS);
  const approval = policy.approvalAfterFirstStep ? policy.approvalTimeoutSeconds : 0;
  const tasks = (steps * 3 + looks * 2 + 12) * TASK_TIMEOUT_SECONDS;
  return (
    (policy.migrationCommand ? policy.migrationTimeoutSeconds : 0) +
    policy.stabilizeTimeoutSeconds +
    bakes +
    approval +
    policy.finalBakeSeconds +
    policy.rollbackWindowSeconds +
    tasks +
    OVERALL_SLACK_SECONDS
  );
}

/** Step Functions Standard: at most 25,000 events in one execution's history (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). */
export const HISTORY_EVENTS_LIMIT = 25_000;
/** Events of one loop turn: Wait (entered, exited), Lambda task (entered, scheduled, started, succeeded, exited), Choice (entered, exited). */
export const EVENTS_PER_POLL = 9;
/** Events of one task at its worst: 5 for the attempt, 3 more for each of its 3 retries. */
const EVENTS_PER_TASK = 5 + 3 * 3;

/**
 * History events of the longest execution under the policy with bakes polled every `watchPollSeconds`: every bounded
 * loop at its limit (migration, stabilize), every bake, the final bake and the window polled to their end, every task
 * retried to its limit. Held below HISTORY_EVENTS_LIMIT by a test for every shipped environment.
 */
export function worstCaseHistoryEvents(policy: ReleasePolicy, watchPollSeconds: number): number {
  const steps = Math.max(stepsFor(policy, 'canary').length, 1);
  const turns = (seconds: number, every: number) => Math.ceil(seconds / every) + 1;
  // Every bake may be repeated judge.maxExtensions times (lib/release.ts ExtendBake?), each with its gate and judge
  // tasks and the choice between them.
  const looks = steps * (1 + policy.judge.maxExtensions);
  const watched = looks * turns(policy.bakeSeconds, watchPollSeconds) + turns(policy.finalBakeSeconds, watchPollSeconds) + turns(policy.rollbackWindowSeconds, watchPollSeconds);
  const loops = (policy.migrationCommand ? turns(policy.migrationTimeoutSeconds, POLL_SECONDS) : 0) + turns(policy.stabilizeTimeoutSeconds, POLL_SECONDS);
  const bakeStarts = (looks + 2) * 2;
  return (watched + loops) * EVENTS_PER_POLL + bakeStarts + (steps * 3 + looks * 2 + 12) * EVENTS_PER_TASK + looks * 2 + 10;
}
