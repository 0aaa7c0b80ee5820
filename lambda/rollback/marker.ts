/**
 * The rollback marker: one item per environment and failed color in the lock table, which makes the automated rollback
 * idempotent (see README.md).
 *
 *   { pk: "<environment>#rollback#<color>", state: "in-progress" | "done" | "failed", owner, leaseExpiresAt (epoch s),
 *     alarmName, eventId, eventTimeMs, startedAt, completedAtMs?, completedAt?, ledgerSk?, lastError?,
 *     notification? (the message still to publish), notifiedAt? }
 *
 * The lease of an in-progress claim is the claiming invocation's remaining time (plus a margin): an invocation that
 * dies after claiming blocks no other alarm's rollback for longer than it could have run, and a Lambda retry of the
 * same event (same request id, so the same owner) takes its own claim back at once. The notification is stored with
 * the ledger entry in the completing transaction and removed once published, so an invocation that dies between
 * recording and notifying leaves it for the retry (`pendingNotification`).
 *
 * Why not Powertools' idempotency utility: it makes one handler call per EVENT payload idempotent, and stores the
 * handler's result after it returns. A rollback is one per INCIDENT (the failed color), whichever alarm event reports
 * it, and "recorded" must be written in the same DynamoDB transaction as the ledger entry, with the notification
 * tracked separately; expressing that with the utility would need this item anyway.
 *
 * It never collides with the release lock (pk = "<environment>"). Its lease attribute is not called `expiresAt` so a
 * TTL on the lock table's lease attribute can never delete it.
 */
import { GetItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { Color } from '../shared/topology';
import { call, epochSeconds, nowOf, TrafficContext } from '../traffic/context';
import { fromItem, toAttributes } from '../traffic/dynamo-items';
import { LedgerEntry } from '../traffic/ledger';

export type MarkerState = 'in-progress' | 'done' | 'failed';

export interface RollbackMarker {
  readonly pk: string;
  readonly state: MarkerState;
  readonly owner: string;
  readonly leaseExpiresAt: number;
  readonly alarmName?: string;
  readonly eventId?: string;
  readonly eventTimeMs?: number;
  readonly startedAt?: string;
  /** Epoch ms when the last rollback of this color completed. Alarm events older than this are already handled. */
  readonly completedAtMs?: number;
  readonly completedAt?: string;
  readonly ledgerSk?: string;
  readonly lastError?: string;
  /** The rolled-back notification (JSON of notify.ts Notification), stored until published. */
  readonly notification?: string;
  readonly notifiedAt?: string;
}

/** Lease of an in-progress claim when the invocation's remaining time is unknown (tests, CLI); the Lambda passes its own. */
export const DEFAULT_LEASE_SECONDS = 120;

export function markerKey(environment: string, color: Color): string {
  return `${environment}#rollback#${color}`;
}

const isConditionalCheckFailed = (e: unknown) => (e as { name?: string })?.name === 'ConditionalCheckFailedException';

export async function readMarker(ctx: TrafficContext, color: Color): Promise<RollbackMarker | undefined> {
  const out = await call(ctx, 'dynamodb:GetItem(rollback marker)', () =>
    ctx.clients.dynamodb.send(
      new GetItemCommand({
        TableName: ctx.topology.lockTableName,
        Key: toAttributes({ pk: markerKey(ctx.topology.environment, color) }),
        ConsistentRead: true,
      }),
    ),
  );
  return fromItem<RollbackMarker>(out.Item);
}

/**
 * Claims the rollback of `color` for `owner`. Succeeds when there is no marker, the marker is done or failed, an
 * in-progress claim's lease ran out or the claim is already `owner`'s (a Lambda retry of the same request) — and no rollback of this color completed at or after the alarm event. Returns
 * false (nothing written) when another invocation holds the claim or the event is already handled.
 * completedAtMs of an earlier rollback is kept.
 */
export async function claimMarker(
  ctx: TrafficContext,
  req: { color: Color; owner: string; alarmName: string; eventId?: string; eventTimeMs: number; leaseSeconds?: number },
): Promise<boolean> {
  const now = epochSeconds(ctx);
  try {
    await call(ctx, 'dynamodb:UpdateItem(rollback marker claim)', () =>
      ctx.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: ctx.topology.lockTableName,
          Key: toAttributes({ pk: markerKey(ctx.topology.environment, req.color) }),
          UpdateExpression:
            'SET #state = :inProgress, #owner = :owner, leaseExpiresAt = :lease, alarmName = :alarm, eventId = :eventId, ' +
            'eventTimeMs = :eventTimeMs, startedAt = :startedAt REMOVE lastError',
          ConditionExpression:
            '(attribute_not_exists(pk) OR #state <> :inProgress OR leaseExpiresAt <= :now OR #owner = :owner) AND ' +
            '(attribute_not_exists(completedAtMs) OR completedAtMs < :eventTimeMs)',
          ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
          ExpressionAttributeValues: toAttributes({
            ':inProgress': 'in-progress',
            ':owner': req.owner,
            ':lease': now + (req.leaseSeconds ?? DEFAULT_LEASE_SECONDS),
            ':alarm': req.alarmName,
            ':eventId': req.eventId ?? 'none',
            ':eventTimeMs': req.eventTimeMs,
            ':startedAt': nowOf(ctx).toISOString(),
            ':now': now,
          }),
        }),
      ),
    );
    return true;
  } catch (e) {
    if (isConditionalCheckFailed(e)) return false;
    throw e;
  }
}

/**
 * In one transaction: writes the rollback ledger entry and marks the claim done — only if `owner` still holds the
 * in-progress claim. So exactly one invocation records the rollback. Returns false when the claim was lost (nothing
 * written).
 */
export async function completeMarker(
  ctx: TrafficContext,
  req: { color: Color; owner: string; ledgerEntry: LedgerEntry; notification: string },
): Promise<boolean> {
  const now = nowOf(ctx);
  const lost = Symbol('claim lost');
  const out = await call(ctx, 'dynamodb:TransactWriteItems(rollback ledger + marker)', async () => {
    try {
      return await ctx.clients.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: ctx.topology.ledgerTableName,
                Item: toAttributes(req.ledgerEntry),
                ConditionExpression: 'attribute_not_exists(sk)',
              },
            },
            {
              Update: {
                TableName: ctx.topology.lockTableName,
                Key: toAttributes({ pk: markerKey(ctx.topology.environment, req.color) }),
                UpdateExpression:
                  'SET #state = :done, completedAtMs = :ms, completedAt = :at, ledgerSk = :sk, notification = :n REMOVE notifiedAt',
                ConditionExpression: '#owner = :owner AND #state = :inProgress',
                ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
                ExpressionAttributeValues: toAttributes({
                  ':done': 'done',
                  ':ms': now.getTime(),
                  ':at': now.toISOString(),
                  ':sk': req.ledgerEntry.sk,
                  ':n': req.notification,
                  ':owner': req.owner,
                  ':inProgress': 'in-progress',
                }),
              },
            },
          ],
        }),
      );
    } catch (e) {
      const err = e as { name?: string; CancellationReasons?: { Code?: string }[]; $retryable?: unknown };
      if (err?.name !== 'TransactionCanceledException') throw e;
      // Cancelled by our condition (the ledger entry exists, or the claim is no longer ours): nothing was written.
      if (err.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')) return lost;
      // Cancelled by a conflicting concurrent write: retryable.
      err.$retryable = {};
      throw e;
    }
  });
  if (out !== lost) return true;
  // A retried transaction whose first attempt landed is cancelled by its own write: that is still ours.
  const marker = await readMarker(ctx, req.color);
  return marker?.state === 'done' && marker.ledgerSk === req.ledgerEntry.sk;
}

/** Marks `owner`'s claim failed so a retry of the event can take over at once. Never throws (failure path). */
export async function failMarker(ctx: TrafficContext, req: { color: Color; owner: string; error: string }): Promise<void> {
  try {
    await call(ctx, 'dynamodb:UpdateItem(rollback marker failed)', () =>
      ctx.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: ctx.topology.lockTableName,
          Key: toAttributes({ pk: markerKey(ctx.topology.environment, req.color) }),
          UpdateExpression: 'SET #state = :failed, lastError = :error',
          // Never over a done marker: a recording transaction that landed while its confirmation failed stays done.
          ConditionExpression: '#owner = :owner AND #state = :inProgress',
          ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
          ExpressionAttributeValues: toAttributes({ ':failed': 'failed', ':error': req.error.slice(0, 2000), ':owner': req.owner, ':inProgress': 'in-progress' }),
        }),
      ),
    );
  } catch {
    // The lease runs out anyway; the caller already reports the failure loudly.
  }
}

/** Marks the notification of the recorded rollback `ledgerSk` published (removes the stored message). Never throws. */
export async function markNotified(ctx: TrafficContext, req: { color: Color; ledgerSk: string }): Promise<void> {
  try {
    await call(ctx, 'dynamodb:UpdateItem(rollback marker notified)', () =>
      ctx.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: ctx.topology.lockTableName,
          Key: toAttributes({ pk: markerKey(ctx.topology.environment, req.color) }),
          UpdateExpression: 'SET notifiedAt = :at REMOVE notification',
          ConditionExpression: 'ledgerSk = :sk',
          ExpressionAttributeValues: toAttributes({ ':at': nowOf(ctx).toISOString(), ':sk': req.ledgerSk }),
        }),
      ),
    );
  } catch {
    // At worst a retry of the event publishes the notification a second time.
  }
}
