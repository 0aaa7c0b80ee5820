/**
 * Crash detection Lambda: invoked by an EventBridge rule on "ECS Task State Change" events (STOPPED, crash-like stop
 * codes) of the environment's cluster. Thin: reads its settings and the topology, hands the event to the core.
 *
 * Environment: TOPOLOGY_TABLE and TOPOLOGY_VERSION (lambda/shared/topology-store.ts), RELEASE_STATE_MACHINE_ARN (its
 * running execution is stopped by a rollback), CRASH_TASKS and CRASH_WINDOW_SECONDS (config monitoring.crash).
 */
import { REPORT_RESERVE_MS } from '../rollback/budget';
import { topologyLoader } from '../shared/topology-store';
import { attemptBoundMs } from '../traffic/client-config';
import { createAllClients } from '../traffic/notification-clients';
import { CrashOutcome, CrashSettings, handleTaskEvent } from './core';

// Created once per execution environment; SDK attempts 1, the core's retry policy retries (as the rollback Lambda).
const clients = createAllClients({ region: process.env.AWS_REGION, maxAttempts: 1 });
const loadTopology = topologyLoader({ dynamodb: clients.dynamodb });

/** CRASH_TASKS and CRASH_WINDOW_SECONDS, set by the construct from validated config (config monitoring.crash). */
export const crashSettingsFromEnv = (env: Record<string, string | undefined>): CrashSettings => ({ tasks: Number(env.CRASH_TASKS), windowSeconds: Number(env.CRASH_WINDOW_SECONDS) });

export const handler = async (event: unknown, context?: { awsRequestId?: string; getRemainingTimeInMillis?(): number }): Promise<CrashOutcome> => {
  const remainingMs = context?.getRemainingTimeInMillis?.();
  return handleTaskEvent(
    {
      clients,
      topology: await loadTopology(),
      releaseStateMachineArn: process.env.RELEASE_STATE_MACHINE_ARN || undefined,
      // A Lambda retry of the same event keeps the request id, so it owns the same rollback claim.
      ...(context?.awsRequestId ? { invocationId: `crash:${context.awsRequestId}` } : {}),
      ...(remainingMs !== undefined
        ? {
            retry: { deadlineMs: Date.now() + remainingMs - REPORT_RESERVE_MS, attemptBoundMs: attemptBoundMs() },
            leaseSeconds: Math.ceil(remainingMs / 1000) + 5,
          }
        : {}),
    },
    crashSettingsFromEnv(process.env),
    event,
  );
};
