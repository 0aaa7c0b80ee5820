/**
 * Rollback Lambda: invoked by an EventBridge rule on "CloudWatch Alarm State Change" events (state ALARM) of the
 * environment's rollback alarms. Thin: parses the environment once and hands the event to the core (core.ts).
 *
 * Environment: TOPOLOGY_TABLE and TOPOLOGY_VERSION (where the topology is stored, lambda/shared/topology-store.ts),
 * RELEASE_STATE_MACHINE_ARN (optional: the release state machine whose RUNNING executions are stopped).
 *
 * Returns the outcome (ignored / notify-only / duplicate / rolled-back). Throws InvalidAlarmEvent for a malformed
 * event, RollbackFailed when traffic could not be moved, RollbackIncomplete when a step after the traffic move failed;
 * in every throwing case the core already logged, and for the last two emitted a metric and notified.
 */
import { topologyLoader } from '../shared/topology-store';
import { attemptBoundMs } from '../traffic/client-config';
import { createAllClients } from '../traffic/notification-clients';
import { handleAlarmEvent, RollbackOutcome } from './core';
import { REPORT_RESERVE_MS } from './budget';

// Created once per execution environment: every attempt bounded (client-config.ts TRAFFIC_REQUEST_BOUNDS), SDK-level
// attempts 1 because the core's retry policy retries (with backoff and a deadline, see below).
const clients = createAllClients({ region: process.env.AWS_REGION, maxAttempts: 1 });
const loadTopology = topologyLoader({ dynamodb: clients.dynamodb });

export interface LambdaContext {
  readonly awsRequestId?: string;
  getRemainingTimeInMillis?(): number;
}

export const handler = async (event: unknown, context?: LambdaContext): Promise<RollbackOutcome> => {
  const remainingMs = context?.getRemainingTimeInMillis?.();
  return handleAlarmEvent(
    {
      clients,
      topology: await loadTopology(),
      releaseStateMachineArn: process.env.RELEASE_STATE_MACHINE_ARN || undefined,
      // Lambda retries an async event with the same request id: the retry owns the same claim.
      ...(context?.awsRequestId ? { invocationId: `rollback:${context.awsRequestId}` } : {}),
      ...(remainingMs !== undefined
        ? {
            // No retry starts that could not end before the time needed to report a failure loudly.
            retry: { deadlineMs: Date.now() + remainingMs - REPORT_RESERVE_MS, attemptBoundMs: attemptBoundMs() },
            // The claim lives as long as this invocation can, so a crashed invocation blocks no one for longer.
            leaseSeconds: Math.ceil(remainingMs / 1000) + 5,
          }
        : {}),
    },
    event,
  );
};
