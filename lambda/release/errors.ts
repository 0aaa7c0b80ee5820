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

/**
 * The new color's alarms are all OK but a rollback trigger of the STABLE color is in ALARM: no fault of the new color,
 * so no rollback. The state machine stops in Held (traffic where it is, lock released, operator decides).
 */
export class ReleaseHeld extends ReleaseError {
  readonly code = 'ReleaseHeld';
}
