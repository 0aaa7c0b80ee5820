/**
 * Typed errors of the traffic core. Every error a caller should act on has a stable `code`; refusals name the guard
 * and why, so handlers, the CLI and the ledger can report them without parsing messages.
 */

export type GuardName =
  | 'weights' // weights not integers 0–999, or all zero
  | 'health' // the color gaining traffic lacks healthy targets
  | 'alarm' // a rollback alarm of the environment is in ALARM
  | 'lock' // the caller does not hold the environment's release lock
  | 'traffic' // e.g. scaling a color to 0 while it still carries traffic
  | 'input'; // a request that cannot be satisfied as asked (e.g. restore the live color from itself)

export abstract class TrafficError extends Error {
  /** The error's name wherever it surfaces (Lambda errorType, Step Functions error, logs, ledger): a string literal. */
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    // The name comes from `code`, not from the class: the handler bundles are minified, which renames classes
    // (`RollbackFailed` became two letters in the deployed code), and Lambda reports `error.name` as the errorType
    // that Step Functions catchers, execution histories and failure records show. `code` is set by the subclass's
    // field initializer after this constructor returns, hence a getter.
    Object.defineProperty(this, 'name', { get: () => this.code, enumerable: false, configurable: true });
  }
}

/** A guard refused the operation; nothing was changed. */
export class GuardRefused extends TrafficError {
  readonly code = 'GuardRefused';
  constructor(
    readonly guard: GuardName,
    readonly reason: string,
  ) {
    super(`refused by the ${guard} guard: ${reason}`);
  }
}

/** How a failed coordinated shift left the environment. */
export interface ShiftOutcome {
  /** Full message including what was restored. */
  readonly message: string;
  readonly restored: boolean;
  readonly restoredServices: readonly string[];
}

/**
 * A write was accepted but reading it back showed different weights. When raised by `shift`, the message also says
 * which services were restored (`restored`, `restoredServices`), as for ShiftFailed.
 */
export class VerifyMismatch extends TrafficError {
  readonly code = 'VerifyMismatch';
  readonly failedService: string;
  readonly restored?: boolean;
  readonly restoredServices?: readonly string[];
  constructor(
    readonly service: string,
    readonly expected: { blue: number; green: number },
    readonly actual: { blue: number; green: number },
    outcome?: ShiftOutcome,
  ) {
    super(
      outcome?.message ??
        `verify failed for ${service}: expected blue ${expected.blue} / green ${expected.green}, ` +
          `read back blue ${actual.blue} / green ${actual.green}`,
    );
    this.failedService = service;
    this.restored = outcome?.restored;
    this.restoredServices = outcome?.restoredServices;
  }
}

/** The environment's release lock is held by someone else (acquire, release). */
export class LockHeld extends TrafficError {
  readonly code = 'LockHeld';
  constructor(
    readonly environment: string,
    readonly holder: string | undefined,
    readonly expiresAt: number | undefined,
  ) {
    super(
      holder
        ? `release lock of ${environment} is held by ${holder} until ${new Date((expiresAt ?? 0) * 1000).toISOString()}`
        : `release lock of ${environment} is not held by the caller`,
    );
  }
}

/**
 * A coordinated shift failed part-way. `restored` says whether the services written before the failure were put back
 * to their previous weights; when false, the environment is split and needs a person (the message says so).
 */
export class ShiftFailed extends TrafficError {
  readonly code = 'ShiftFailed';
  constructor(
    message: string,
    readonly failedService: string,
    readonly restored: boolean,
    readonly restoredServices: readonly string[],
    readonly cause?: unknown,
  ) {
    super(message);
  }
}

/**
 * A rollback-mode move (all traffic back to one color) did not reach every service after its retries. Unlike a
 * coordinated shift it restores nothing: the services in `moved` carry no traffic on the failing color any more and
 * stay that way; `notMoved` still need moving (a retry of the rollback moves only those).
 */
export class MoveIncomplete extends TrafficError {
  readonly code = 'MoveIncomplete';
  constructor(
    message: string,
    readonly moved: readonly string[],
    readonly notMoved: readonly string[],
    readonly errors: Readonly<Record<string, string>>,
  ) {
    super(message);
  }
}

/** The topology does not match what AWS reports (e.g. the rule forwards to a target group not in the topology). */
export class TopologyMismatch extends TrafficError {
  readonly code = 'TopologyMismatch';
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.name && e.name !== 'Error' && !e.message.includes(e.name) ? `${e.name}: ${e.message}` : e.message;
  return String(e);
}
