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
 * timeouts) plus the bakes; still excluding the approval wait.
 */
export function worstCaseTimeToFullTraffic(policy: ReleasePolicy, strategy: Strategy = policy.strategy): number {
  return (policy.migrationCommand ? policy.migrationTimeoutSeconds : 0) + policy.stabilizeTimeoutSeconds + timeToFullTraffic(policy, strategy);
}

/** Upper bound of a whole execution under the policy (the state machine's TimeoutSeconds and the lock's lease). */
export function stateMachineTimeoutSeconds(policy: ReleasePolicy): number {
  const steps = Math.max(stepsFor(policy, 'canary').length, 1);
  // Every bake may be repeated up to judge.maxExtensions times while the judge is inconclusive (lib/release.ts
  // ExtendBake?), each repeat with its alarm gate and judge tasks.
  const looks = steps * (1 + policy.judge.maxExtensions);
  const bakes = looks * policy.bakeSeconds;
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
