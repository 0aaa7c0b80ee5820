/**
 * Append-only ledger of every shift, refusal, failure, scale and rollback: one item per event in the ledger table
 * (pk = environment, sk = ISO time + '#' + random suffix), and the same record logged as structured JSON.
 */
import { randomBytes } from 'node:crypto';
import { PutItemCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { ServiceName } from '../shared/topology';
import { call, ContextWith, nowOf } from './context';
import { fromItems, toAttributes } from './dynamo-items';
import { logger } from './logger';
import { Weights } from './weights';

/** Traffic operations; `database:<procedure>` entries are `npm run db`'s (cli/db.ts). */
export type LedgerAction = 'shift' | 'refused' | 'shift-failed' | 'rollback' | 'rollback-failed' | 'scale' | 'scale-failed' | `database:${string}`;

export type WeightsByService = Partial<Record<ServiceName, Weights>>;

export interface LedgerInput {
  readonly actor: string;
  readonly action: LedgerAction;
  readonly reason: string;
  readonly weightsBefore?: WeightsByService;
  readonly weightsAfter?: WeightsByService;
  /** Extra structured detail (requested weights, refusing guard, desired counts, error). */
  readonly detail?: Record<string, unknown>;
}

export interface LedgerEntry extends LedgerInput {
  readonly pk: string;
  readonly sk: string;
  readonly time: string;
  readonly environment: string;
}

const defaultSuffix = () => randomBytes(4).toString('hex');

/**
 * The ledger item for `input` (new sort key), as stored: a JSON round trip drops undefined fields. For callers that
 * write the entry themselves, e.g. inside a DynamoDB transaction; appendLedger uses it too.
 */
export function buildLedgerEntry(ctx: ContextWith<'dynamodb'>, input: LedgerInput): LedgerEntry {
  const time = nowOf(ctx).toISOString();
  const environment = ctx.topology.environment;
  const entry: LedgerEntry = {
    pk: environment,
    sk: `${time}#${(ctx.randomSuffix ?? defaultSuffix)()}`,
    time,
    environment,
    ...input,
  };
  return JSON.parse(JSON.stringify(entry)) as LedgerEntry;
}

export async function appendLedger(ctx: ContextWith<'dynamodb'>, input: LedgerInput): Promise<LedgerEntry> {
  const entry = buildLedgerEntry(ctx, input);
  logger.info(`ledger: ${input.action}`, { ledger: entry });
  await call(ctx, 'dynamodb:PutItem(ledger)', () =>
    ctx.clients.dynamodb.send(
      new PutItemCommand({
        TableName: ctx.topology.ledgerTableName,
        // buildLedgerEntry's JSON round trip already dropped undefined fields.
        Item: toAttributes(entry),
        // The sort key is unique; never overwrite an entry if a retry lands twice.
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    ),
  ).catch((e) => {
    // A retried PutItem whose first attempt landed is not an error.
    if ((e as { name?: string })?.name === 'ConditionalCheckFailedException') return;
    throw e;
  });
  return entry;
}

/** Like appendLedger, but never throws (used on refusal/failure paths so the original error is what surfaces). */
export async function appendLedgerQuietly(ctx: ContextWith<'dynamodb'>, input: LedgerInput): Promise<LedgerEntry | undefined> {
  try {
    return await appendLedger(ctx, input);
  } catch (e) {
    logger.error('could not write ledger entry', { action: input.action, error: e as Error });
    return undefined;
  }
}

/** Most recent ledger entries of the environment, newest first. */
export async function readLedger(ctx: ContextWith<'dynamodb'>, limit = 50): Promise<LedgerEntry[]> {
  return (await readLedgerPage(ctx, limit)).entries;
}

async function readLedgerPage(ctx: ContextWith<'dynamodb'>, limit: number, start?: Record<string, unknown>) {
  const out = await call(ctx, 'dynamodb:Query(ledger)', () =>
    ctx.clients.dynamodb.send(
      new QueryCommand({
        TableName: ctx.topology.ledgerTableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: toAttributes({ ':pk': ctx.topology.environment }),
        ScanIndexForward: false,
        Limit: limit,
        ...(start ? { ExclusiveStartKey: start as QueryCommandInput['ExclusiveStartKey'] } : {}),
      }),
    ),
  );
  return { entries: fromItems<LedgerEntry>(out.Items), next: out.LastEvaluatedKey as Record<string, unknown> | undefined };
}

/**
 * Walks the ledger newest first, page by page, until `pick` returns a value or `maxEntries` were read (undefined).
 * `firstPage`: the newest entries already read (saves the first Query).
 */
export async function findInLedger<T>(
  ctx: ContextWith<'dynamodb'>,
  pick: (entry: LedgerEntry) => T | undefined,
  options: { maxEntries?: number; pageSize?: number; firstPage?: readonly LedgerEntry[] } = {},
): Promise<T | undefined> {
  const max = options.maxEntries ?? 1000;
  const pageSize = options.pageSize ?? 100;
  let seen = 0;
  let next: Record<string, unknown> | undefined;
  let page: readonly LedgerEntry[] | undefined = options.firstPage;
  if (page) {
    for (const e of page) {
      const v = pick(e);
      if (v !== undefined) return v;
    }
    // A first page shorter than asked is the whole ledger; else continue after its last entry.
    if (page.length === 0) return undefined;
    seen = page.length;
    const last = page[page.length - 1];
    next = toAttributes({ pk: last.pk, sk: last.sk });
  }
  while (seen < max) {
    const r: { entries: LedgerEntry[]; next?: Record<string, unknown> } = await readLedgerPage(ctx, Math.min(pageSize, max - seen), next);
    for (const e of r.entries) {
      const v = pick(e);
      if (v !== undefined) return v;
    }
    seen += r.entries.length;
    if (!r.next || r.entries.length === 0) return undefined;
    next = r.next;
  }
  return undefined;
}
