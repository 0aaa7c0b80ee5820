/**
 * Retries throttling and transient AWS errors with exponential backoff and full jitter. Everything is injectable so
 * tests run without real sleeps.
 *
 * Why not the SDK's own retry strategy (clients run with maxAttempts 1; their request timeouts are the SDK's, see
 * client-config.ts): the SDK's standard strategy knows nothing of the invocation's deadline (`deadlineMs`: no retry
 * that could not end before the rollback must report its failure), draws from a client-wide retry quota that can
 * refuse retries after a burst of failures (unpredictable on the 3 a.m. path, and it would make the computed worst case
 * in lambda/rollback/budget.ts a guess), and cannot be driven with an injected clock and sleep in tests.
 */
export interface RetryOptions {
  /** Total attempts including the first. Default 5. */
  readonly maxAttempts?: number;
  /** Base delay in ms; attempt n waits random() * min(maxDelayMs, baseDelayMs * 2^(n-1)). Default 100. */
  readonly baseDelayMs?: number;
  /** Cap of a single wait. Default 3000. */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Called before each wait (logging). */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /**
   * Epoch ms after which no new attempt may end: a retry is not started unless its wait plus `attemptBoundMs` ends by
   * then, and the last error is thrown instead. The rollback Lambda sets it to its own deadline minus the time it needs
   * to report a failure (metric, notification), so a call that keeps hanging fails loudly instead of timing the
   * invocation out silently. @default - no deadline
   */
  readonly deadlineMs?: number;
  /** The longest one attempt can take (client-config.ts attemptBoundMs). @default 0 */
  readonly attemptBoundMs?: number;
  /** Clock for the deadline. @default Date.now */
  readonly clock?: () => number;
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'SlowDown',
  'PriorRequestNotComplete',
  'BandwidthLimitExceeded',
  'LimitExceededException',
]);

const TRANSIENT = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServerException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/** True for throttling, 5xx and network errors; false for validation, conditional-check and not-found errors. */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'ConditionalCheckFailedException') return false;
  if (e.$retryable) return true;
  if (e.name && (THROTTLING.has(e.name) || TRANSIENT.has(e.name))) return true;
  if (e.code && (THROTTLING.has(e.code) || TRANSIENT.has(e.code))) return true;
  const status = e.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500);
}

export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  const base = options.baseDelayMs ?? 100;
  const cap = options.maxDelayMs ?? 3000;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= maxAttempts || !isRetryable(error)) throw error;
      const delay = Math.round(random() * Math.min(cap, base * 2 ** (attempt - 1)));
      if (options.deadlineMs !== undefined && (options.clock ?? Date.now)() + delay + (options.attemptBoundMs ?? 0) > options.deadlineMs) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
