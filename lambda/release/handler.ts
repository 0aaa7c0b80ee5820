/**
 * Release Lambda: one handler for every Task of the release state machine except Backup (backup-handler.ts, its own
 * function with the RDS client and permissions). It validates `{ "step": "...", ... }` (validate.ts) and dispatches to
 * one step function (steps.ts); no traffic logic lives here.
 *
 * Core errors (GuardRefused, LockHeld, VerifyMismatch, ShiftFailed) and release errors (PreflightRefused,
 * MigrationFailed, MigrationTimeout, StabilizeTimeout, PreTrafficCheckFailed, GateFailed, ReleaseHeld, InvalidStepInput) are thrown
 * as-is, so the state machine sees them by name.
 */
import { scopeTopology, type Topology } from '../shared/topology';
import { topologyLoader } from '../shared/topology-store';
import { createClients, TrafficClients } from '../traffic';
import { attemptBoundMs } from '../traffic/client-config';
import { createSnsClient } from '../traffic/notification-clients';

/** Time kept at the end of a release step for its failure path (record, notification). */
const STEP_RESERVE_MS = 10_000;
import { ReleaseClients, ReleaseContext, ReleaseSettings, settingsFromEnv } from './context';
import { InvalidStepInput } from './errors';
import { HttpGet } from './pretraffic';
import * as steps from './steps';
import { watch } from './watch';
import { StepEvent, validateStepEvent } from './validate';

/**
 * Maps a validated event onto one step function. A step of a release (one that carries its state) sees the release's
 * services only: the context's topology is scoped to them (`scopeTopology`), so nothing it does touches the others.
 */
export async function runStep(ctx: ReleaseContext & { httpGet?: HttpGet }, e: StepEvent): Promise<unknown> {
  const services = 'release' in e && e.step !== 'backup' ? e.release?.services : undefined;
  if (services !== undefined) ctx = { ...ctx, topology: scopeTopology(ctx.topology, services) };
  switch (e.step) {
    case 'preflight':
      return steps.preflight(ctx, e);
    case 'backup':
      throw new InvalidStepInput('invalid release step input: step backup runs in the backup handler (lambda/release/backup-handler.ts), not here');
    case 'migrationStart':
      return steps.migrationStart(ctx, e.release);
    case 'migrationCheck':
      return steps.migrationCheck(ctx, e.release);
    case 'scaleUp':
      return steps.scaleUp(ctx, e.release);
    case 'stabilizeCheck':
      return steps.stabilizeCheck(ctx, e.release);
    case 'preTraffic':
      return steps.preTraffic(ctx, e.release);
    case 'shift':
      return steps.shiftStep(ctx, e.release);
    case 'gate':
      return steps.gate(ctx, e.release, e.phase);
    case 'watch':
      return watch(ctx, e.release, e.watch);
    case 'approvalRequest':
      return steps.approvalRequest(ctx, e.release, e.token);
    case 'finish':
      return steps.finish(ctx, e.release);
    case 'safe':
      return steps.safe(ctx, e);
    case 'hold':
      return steps.hold(ctx, e);
    case 'abandoned':
      return steps.abandoned(ctx, e);
  }
}

/** Builds the step runner for given clients and configuration (the Lambda's module scope; tests in-process). */
export function createReleaseHandler(deps: {
  clients: TrafficClients;
  release: ReleaseClients;
  /** Called on every invocation; the loader keeps its own copy. */
  topology: () => Topology | Promise<Topology>;
  settings: () => ReleaseSettings;
  httpGet?: HttpGet;
  retry?: ReleaseContext['retry'];
}): (event: unknown, context?: { getRemainingTimeInMillis?(): number }) => Promise<unknown> {
  let settings: ReleaseSettings | undefined;
  return async (event: unknown, context?: { getRemainingTimeInMillis?(): number }) => {
    const e = validateStepEvent(event);
    const topology = await deps.topology();
    settings ??= deps.settings();
    const remainingMs = context?.getRemainingTimeInMillis?.();
    // No retry starts that could not end before the Lambda's own timeout, less the time a step needs to fail cleanly:
    // the step ends in its error (caught by the state machine) instead of a Sandbox.Timedout mid-write.
    const retry =
      remainingMs === undefined ? deps.retry : { ...deps.retry, deadlineMs: Date.now() + remainingMs - STEP_RESERVE_MS, attemptBoundMs: attemptBoundMs() };
    return runStep({ clients: deps.clients, release: deps.release, topology, settings, httpGet: deps.httpGet, retry }, e);
  };
}

// Created once per execution environment: the traffic core's clients and SNS (no Step Functions, no RDS).
const options = { region: process.env.AWS_REGION, maxAttempts: 1 };
const clients = createClients(options);

export const handler = createReleaseHandler({
  clients,
  release: { sns: createSnsClient(options) },
  topology: topologyLoader({ dynamodb: clients.dynamodb }),
  settings: () => settingsFromEnv(process.env),
});
