/**
 * Errors of the release steps. Each class name is the Step Functions error name (Lambda reports `error.name` as the
 * errorType), so the state machine and its history name what went wrong without parsing messages.
 */
import { TrafficError } from '../traffic';

export abstract class ReleaseError extends TrafficError {}

/** The step's input is not what the state machine sends (a bug or a hand-made event); nothing was read or changed. */
export class InvalidStepInput extends ReleaseError {
  readonly code = 'InvalidStepInput';
}

/** A release precondition does not hold (same version on both colors, traffic already split, no backup). */
export class PreflightRefused extends ReleaseError {
  readonly code = 'PreflightRefused';
}

/** The migration task stopped with a non-zero exit code (or without one). */
export class MigrationFailed extends ReleaseError {
  readonly code = 'MigrationFailed';
}

/** The migration task ran past migrationTimeoutSeconds; it was stopped. */
export class MigrationTimeout extends ReleaseError {
  readonly code = 'MigrationTimeout';
}

/** The new color's services did not become stable with healthy targets within stabilizeTimeoutSeconds. */
export class StabilizeTimeout extends ReleaseError {
  readonly code = 'StabilizeTimeout';
}

/** A pre-traffic check through the test listener failed. */
export class PreTrafficCheckFailed extends ReleaseError {
  readonly code = 'PreTrafficCheckFailed';
}

/** A rollback alarm (or a comparison alarm) was in ALARM after a bake. */
export class GateFailed extends ReleaseError {
  readonly code = 'GateFailed';
}

/** The new color's targets were unhealthy beyond the threshold in consecutive polls of a bake: rolled back like GateFailed. */
export class CandidateUnhealthy extends ReleaseError {
  readonly code = 'CandidateUnhealthy';
}

/**
 * The new color's alarms are all OK but a rollback trigger of the STABLE color is in ALARM: no fault of the new color,
 * so no rollback. The state machine stops in Held (traffic where it is, lock released, operator decides).
 */
export class ReleaseHeld extends ReleaseError {
  readonly code = 'ReleaseHeld';
}

/**
 * The weights are not what this release last wrote (an operator moved traffic, e.g. `npm run traffic -- rollback`,
 * during a bake or the rollback window). The release stops like ReleaseHeld: traffic stays where the operator put it,
 * never undone, never followed by scaling a color to 0.
 */
export class OperatorOverride extends ReleaseError {
  readonly code = 'OperatorOverride';
}

/**
 * Finish got past its checks but did not complete (the old color's scale-down, the record, the ledger entry or the lock
 * release failed). Traffic stays on the new color: a failure at or after the scale-down is never a reason to roll back.
 */
export class FinishIncomplete extends ReleaseError {
  readonly code = 'FinishIncomplete';
}

/**
 * The safe state's own work failed (rollback writes, record, lock). It recorded `safe-failed` (best effort), notified,
 * emitted ReleaseSafeStateFailed and kept the lock so no new release starts on a half-rolled-back environment.
 */
export class SafeStateFailed extends ReleaseError {
  readonly code = 'SafeStateFailed';
}
