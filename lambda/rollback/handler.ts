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
import { createAllClients } from '../traffic/notification-clients';
import { handleAlarmEvent, RollbackOutcome } from './core';

// Created once per execution environment. SDK-level attempts 1: the core's retry policy retries.
const clients = createAllClients({ region: process.env.AWS_REGION, maxAttempts: 1 });
const loadTopology = topologyLoader({ dynamodb: clients.dynamodb });

export const handler = async (event: unknown, context?: { awsRequestId?: string }): Promise<RollbackOutcome> => {
  return handleAlarmEvent(
    {
      clients,
      topology: await loadTopology(),
      releaseStateMachineArn: process.env.RELEASE_STATE_MACHINE_ARN || undefined,
      ...(context?.awsRequestId ? { invocationId: `rollback:${context.awsRequestId}` } : {}),
    },
    event,
  );
};
