/**
 * The environment's release lock: one item {pk: environment, owner, expiresAt (epoch seconds), acquiredAt} in the lock
 * table, written with conditional PutItem. Acquire succeeds when the item is absent, expired, or already ours (renew).
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { call, epochSeconds, nowOf, TrafficContext } from './context';
import { fromItem, toAttributes } from './dynamo-items';
import { GuardRefused, LockHeld } from './errors';
import { logger } from './logger';

export const DEFAULT_LOCK_TTL_SECONDS = 15 * 60;

export interface LockInfo {
  readonly environment: string;
  readonly owner: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly acquiredAt?: string;
  /** True when the lease has run out (anyone may take it). */
  readonly expired: boolean;
}

function isConditionalCheckFailed(e: unknown): boolean {
  return (e as { name?: string })?.name === 'ConditionalCheckFailedException';
}

function validateOwner(owner: unknown): string {
  if (typeof owner !== 'string' || owner.trim() === '') {
    throw new GuardRefused('lock', `a lock owner token is required, got ${JSON.stringify(owner)}`);
  }
  return owner;
}

/** The current lock item, or undefined when nobody ever held it (or it was released). Strongly consistent read. */
export async function readLock(ctx: TrafficContext): Promise<LockInfo | undefined> {
  const env = ctx.topology.environment;
  const out = await call(ctx, 'dynamodb:GetItem(lock)', () =>
    ctx.clients.dynamodb.send(
      new GetItemCommand({ TableName: ctx.topology.lockTableName, Key: toAttributes({ pk: env }), ConsistentRead: true }),
    ),
  );
  const item = fromItem<Record<string, unknown>>(out.Item);
  if (!item) return undefined;
  const expiresAt = Number(item.expiresAt ?? 0);
  return {
    environment: env,
    owner: String(item.owner ?? ''),
    expiresAt,
    acquiredAt: item.acquiredAt as string | undefined,
    expired: expiresAt <= epochSeconds(ctx),
  };
}

/** Takes or renews the lock for `ttlSeconds`. Throws LockHeld naming the holder and expiry when someone else holds it. */
export async function acquireLock(
  ctx: TrafficContext,
  owner: string,
  options: { ttlSeconds?: number } = {},
): Promise<LockInfo> {
  validateOwner(owner);
  const ttl = options.ttlSeconds ?? DEFAULT_LOCK_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new GuardRefused('input', `ttlSeconds must be a positive integer, got ${JSON.stringify(ttl)}`);
  const env = ctx.topology.environment;
  const now = epochSeconds(ctx);
  const expiresAt = now + ttl;
  try {
    await call(ctx, 'dynamodb:PutItem(lock)', () =>
      ctx.clients.dynamodb.send(
        new PutItemCommand({
          TableName: ctx.topology.lockTableName,
          Item: toAttributes({ pk: env, owner, expiresAt, acquiredAt: nowOf(ctx).toISOString() }),
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: toAttributes({ ':now': now, ':owner': owner }),
        }),
      ),
    );
  } catch (e) {
    if (!isConditionalCheckFailed(e)) throw e;
    const current = await readLock(ctx);
    throw new LockHeld(env, current?.owner, current?.expiresAt);
  }
  logger.info('release lock acquired', { environment: env, owner, expiresAt });
  return { environment: env, owner, expiresAt, expired: false, acquiredAt: nowOf(ctx).toISOString() };
}

/**
 * Releases the lock if `owner` holds it (expired or not). Releasing a lock nobody holds is a no-op success;
 * releasing someone else's throws LockHeld.
 */
export async function releaseLock(ctx: TrafficContext, owner: string): Promise<void> {
  validateOwner(owner);
  const env = ctx.topology.environment;
  try {
    await call(ctx, 'dynamodb:DeleteItem(lock)', () =>
      ctx.clients.dynamodb.send(
        new DeleteItemCommand({
          TableName: ctx.topology.lockTableName,
          Key: toAttributes({ pk: env }),
          ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: toAttributes({ ':owner': owner }),
        }),
      ),
    );
  } catch (e) {
    if (!isConditionalCheckFailed(e)) throw e;
    const current = await readLock(ctx);
    throw new LockHeld(env, current?.owner, current?.expiresAt);
  }
  logger.info('release lock released', { environment: env, owner });
}

/** Throws GuardRefused('lock') unless `owner` holds an unexpired lock. */
export async function assertLockHeld(ctx: TrafficContext, owner: string | undefined): Promise<LockInfo> {
  validateOwner(owner);
  const lock = await readLock(ctx);
  if (!lock) throw new GuardRefused('lock', `${owner} does not hold the release lock of ${ctx.topology.environment} (nobody holds it)`);
  if (lock.owner !== owner) {
    throw new GuardRefused(
      'lock',
      `${owner} does not hold the release lock of ${ctx.topology.environment}: held by ${lock.owner}` +
        (lock.expired ? ' (expired)' : ` until ${new Date(lock.expiresAt * 1000).toISOString()}`),
    );
  }
  if (lock.expired) {
    throw new GuardRefused(
      'lock',
      `the release lock of ${ctx.topology.environment} held by ${owner} expired at ${new Date(lock.expiresAt * 1000).toISOString()}`,
    );
  }
  return lock;
}

/**
 * Revokes the lock if `owner` holds it (expired or not): the rollback fences a release execution it stops, whose
 * Lambda may still be running, so that every later fenced write of that execution (shift.ts) is refused. Returns true
 * when this call removed the lock, false when `owner` did not hold it. Never touches anyone else's lock.
 */
export async function revokeLock(ctx: TrafficContext, owner: string): Promise<boolean> {
  validateOwner(owner);
  let attempts = 0;
  try {
    await call(ctx, 'dynamodb:DeleteItem(lock revoke)', () => {
      attempts++;
      return ctx.clients.dynamodb.send(
        new DeleteItemCommand({
          TableName: ctx.topology.lockTableName,
          Key: toAttributes({ pk: ctx.topology.environment }),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: toAttributes({ ':owner': owner }),
        }),
      );
    });
  } catch (e) {
    if (!isConditionalCheckFailed(e)) throw e;
    // A retried delete whose first attempt landed (its answer lost) fails its own condition: no lock left means ours.
    if (attempts > 1 && !(await readLock(ctx))) return true;
    return false;
  }
  logger.warn('release lock revoked', { environment: ctx.topology.environment, owner });
  return true;
}
