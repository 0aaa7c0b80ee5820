/** What every core operation receives: its SDK clients, the environment's topology and injectable time/retry. */
import { Topology } from '../shared/topology';
import { TrafficClients } from './clients';
import { errorMessage } from './errors';
import { logger } from './logger';
import { RetryOptions, withRetry } from './retry';

export interface TrafficContext {
  readonly clients: TrafficClients;
  readonly topology: Topology;
  /** Retry policy for every AWS call (tests inject a no-op sleep). */
  readonly retry?: RetryOptions;
  /** Clock (tests inject a fixed time). */
  readonly now?: () => Date;
  /** Random suffix of ledger sort keys. */
  readonly randomSuffix?: () => string;
}

/**
 * A context with only some of the core's clients, for operations that call one service (e.g. the ledger, DynamoDB
 * only), so that a handler needing just those (the release backup step) constructs and bundles no other client.
 */
export type ContextWith<K extends keyof TrafficClients> = Omit<TrafficContext, 'clients'> & { readonly clients: Pick<TrafficClients, K> };

export function nowOf(ctx: Pick<TrafficContext, 'now'>): Date {
  return ctx.now ? ctx.now() : new Date();
}

export function epochSeconds(ctx: Pick<TrafficContext, 'now'>): number {
  return Math.floor(nowOf(ctx).getTime() / 1000);
}

/** Runs one AWS call under the context's retry policy, logging each retry. */
export function call<T>(ctx: Pick<TrafficContext, 'retry'>, what: string, fn: () => Promise<T>): Promise<T> {
  return withRetry(fn, {
    ...ctx.retry,
    onRetry: (error, attempt, delayMs) => {
      logger.warn('retrying AWS call', { call: what, attempt, delayMs, error: errorMessage(error) });
      ctx.retry?.onRetry?.(error, attempt, delayMs);
    },
  });
}
