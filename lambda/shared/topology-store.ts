/**
 * Where a deployed environment keeps its topology: one item of the environment's lock table, written at deploy time by
 * Custom::TopologyDocument (lambda/custom-resources/topology-document.ts) and read by every handler and the CLI.
 *
 * Why not an environment variable: Lambda allows 4 KB for all of a function's variables
 * (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html) and the topology grows with every service;
 * with two services it already took the release handler over the limit. Why not a stack output: the CLI would read a
 * different copy than the handlers. The item is limited by DynamoDB's 400 KB item size only.
 *
 * A handler gets two variables: TOPOLOGY_TABLE (the table) and TOPOLOGY_VERSION (the version the custom resource wrote
 * at deploy time). Because the version is part of the function's configuration, a deploy that changes the topology
 * also changes every reader's configuration, so no warm execution environment keeps an old copy, and the function is
 * created only after the item exists.
 */
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { fromItem, toAttributes } from '../traffic/dynamo-items';
import { logger } from '../traffic/logger';
import { type RetryOptions, withRetry } from '../traffic/retry';
import { parseTopology, type Topology } from './topology';

/** Partition key of the topology item in the lock table; `#` keeps it apart from the lock items (keyed by environment name). */
export const TOPOLOGY_ITEM_KEY = '#topology';

/** Output of the stateless stack that names the table holding the topology (read by the CLI). */
export const TOPOLOGY_TABLE_OUTPUT = 'TopologyTable';

/** Environment variables of a handler that reads the topology. */
export const TOPOLOGY_ENV = { table: 'TOPOLOGY_TABLE', version: 'TOPOLOGY_VERSION' } as const;

export interface TopologyItem {
  readonly pk: typeof TOPOLOGY_ITEM_KEY;
  /** The topology as JSON, as parseTopology reads it. */
  readonly document: string;
  /** `topologyVersion(document)`. */
  readonly version: string;
  readonly updatedAt: string;
}

/** A short content hash of a topology document: the same document always has the same version. */
export function topologyVersion(document: string): string {
  return createHash('sha256').update(document).digest('hex').slice(0, 16);
}

/**
 * Stores a topology document after checking it with the handlers' own parser (so a broken document fails the deploy
 * that writes it, not the first rollback that reads it); returns its version.
 */
export async function writeTopology(dynamodb: DynamoDBClient, tableName: string, document: string, now: Date = new Date(), retry?: RetryOptions): Promise<string> {
  parseTopology(document);
  const version = topologyVersion(document);
  const item: TopologyItem = { pk: TOPOLOGY_ITEM_KEY, document, version, updatedAt: now.toISOString() };
  await withRetry(() => dynamodb.send(new PutItemCommand({ TableName: tableName, Item: toAttributes(item) })), retry);
  return version;
}

/** The topology as it is stored, with its version; throws a message naming the table when it is missing or invalid. */
export async function readTopology(dynamodb: DynamoDBClient, tableName: string, retry?: RetryOptions): Promise<{ topology: Topology; version: string }> {
  // Throttling and transient errors are retried: a rollback must not fail on its first read.
  const out = await withRetry(() => dynamodb.send(new GetItemCommand({ TableName: tableName, Key: toAttributes({ pk: TOPOLOGY_ITEM_KEY }), ConsistentRead: true })), retry);
  const item = fromItem<TopologyItem>(out.Item);
  if (!item?.document) {
    throw new Error(`no topology in table ${tableName} (item pk=${TOPOLOGY_ITEM_KEY}): deploy the environment's stateless stack, which writes it`);
  }
  try {
    return { topology: parseTopology(item.document), version: item.version };
  } catch (e) {
    throw new Error(`topology in table ${tableName}: ${(e as Error).message}`);
  }
}

export interface TopologyLoaderOptions {
  readonly dynamodb: DynamoDBClient;
  /** @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** @default - withRetry's defaults */
  readonly retry?: RetryOptions;
}

/**
 * The topology of a handler's environment, read on first use and kept for the life of the execution environment once
 * its version is the deployed one. While a deploy is in progress the stored version may differ from the function's:
 * then the stored document (what CloudFormation wrote last) is used and read again next time.
 */
export function topologyLoader(options: TopologyLoaderOptions): () => Promise<Topology> {
  const env = options.env ?? process.env;
  let cached: Topology | undefined;
  return async () => {
    if (cached) return cached;
    const table = env[TOPOLOGY_ENV.table];
    if (!table) throw new Error(`${TOPOLOGY_ENV.table} is not set: the handler was deployed without its topology table`);
    const deployed = env[TOPOLOGY_ENV.version];
    const { topology, version } = await readTopology(options.dynamodb, table, options.retry);
    if (deployed && version !== deployed) logger.warn('stored topology is not the deployed version (deploy in progress?): using the stored one', { stored: version, deployed });
    else cached = topology;
    return topology;
  };
}
