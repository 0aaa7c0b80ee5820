/**
 * The one place that converts between plain objects and DynamoDB attribute values. Everything in lambda/** talks to
 * DynamoDB through the plain DynamoDBClient (GetItem, PutItem, UpdateItem, DeleteItem, Query, TransactWriteItems) and
 * converts items, keys and expression attribute values here, with the options the document client used before:
 * undefined values are dropped (removeUndefinedValues), numbers come back as JavaScript numbers.
 *
 * Why not @aws-sdk/util-dynamodb's marshall/unmarshall: they handle sets, binary, class instances and big numbers that
 * these items never hold, for about 5 KB in every bundle with a DynamoDB client (the rollback bundle must stay under
 * 400 KB). What the items do hold (strings, finite numbers, booleans, null, lists and maps of those) converts exactly as
 * util-dynamodb converts it with removeUndefinedValues (test/lambda/dynamo-items.test.ts compares both); anything else
 * is refused loudly rather than stored wrong.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** A DynamoDB item, key or expression-attribute-values map in wire form. */
export type AttributeMap = Record<string, AttributeValue>;

function toValue(v: unknown): AttributeValue {
  if (v === null) return { NULL: true };
  switch (typeof v) {
    case 'string':
      return { S: v };
    case 'boolean':
      return { BOOL: v };
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`cannot store ${v} in DynamoDB`);
      return { N: String(v) };
    case 'object':
      if (Array.isArray(v)) return { L: v.filter((x) => x !== undefined).map(toValue) };
      if (Object.getPrototypeOf(v) === Object.prototype) return { M: toAttributes(v as object) };
  }
  throw new Error(`cannot store a ${typeof v === 'object' ? (v as object).constructor?.name : typeof v} in DynamoDB items here`);
}

function fromValue(a: AttributeValue): unknown {
  if (a.S !== undefined) return a.S;
  if (a.N !== undefined) return Number(a.N);
  if (a.BOOL !== undefined) return a.BOOL;
  if (a.NULL !== undefined) return null;
  if (a.L !== undefined) return a.L.map(fromValue);
  if (a.M !== undefined) return fromAttributes(a.M);
  throw new Error(`unexpected DynamoDB attribute type ${Object.keys(a).join(', ')}`);
}

function fromAttributes(m: AttributeMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = fromValue(v);
  return out;
}

/** A plain object (item, key or `:name` → value map) as DynamoDB attribute values; undefined fields are dropped. */
export function toAttributes(value: object): AttributeMap {
  const out: AttributeMap = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toValue(v);
  return out;
}

/** A DynamoDB item as a plain object, or undefined when there is no item. */
export function fromItem<T>(item: AttributeMap | undefined): T | undefined {
  return item ? (fromAttributes(item) as T) : undefined;
}

/** A list of DynamoDB items (Query) as plain objects. */
export function fromItems<T>(items: AttributeMap[] | undefined): T[] {
  return (items ?? []).map((item) => fromAttributes(item) as T);
}
