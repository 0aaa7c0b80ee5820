/** Errors the rollback Lambda throws. Each surfaces as an invocation error (the Lambda Errors metric). */
import { TrafficError } from '../traffic/errors';

/** The invocation event is not a well-formed CloudWatch Alarm State Change event. Nothing was read or changed. */
export class InvalidAlarmEvent extends TrafficError {
  readonly code = 'InvalidAlarmEvent';
  constructor(readonly problems: readonly string[]) {
    super(`invalid CloudWatch Alarm State Change event:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Traffic could not be moved back to the stable color (after retries). The failing color may still carry traffic:
 * a person must act. The RollbackFailed metric was emitted and a notification published before this was thrown.
 */
export class RollbackFailed extends TrafficError {
  readonly code = 'RollbackFailed';
  constructor(
    message: string,
    readonly cause?: unknown,
  ) {
    super(message);
  }
}

/**
 * Traffic is back on the stable color (verified), but a later step failed (stopping the release execution, scaling
 * the failed color to 0, or recording the rollback). The RollbackIncomplete metric was emitted and a notification
 * published. A retry of the same event completes the remaining steps.
 */
export class RollbackIncomplete extends TrafficError {
  readonly code = 'RollbackIncomplete';
  constructor(
    message: string,
    readonly failedSteps: readonly string[],
  ) {
    super(message);
  }
}
