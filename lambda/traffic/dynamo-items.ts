/**
 * The one place that converts between plain objects and DynamoDB attribute values. Everything in lambda/** talks to
 * DynamoDB through the plain DynamoDBClient (GetItem, PutItem, UpdateItem, DeleteItem, Query, TransactWriteItems) and
 * converts items, keys and expression attribute values here, with the options the document client used before:
 * undefined values are dropped (removeUndefinedValues), numbers come back as JavaScript numbers.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** A DynamoDB item, key or expression-attribute-values map in wire form. */
export type AttributeMap = Record<string, AttributeValue>;

/** A plain object (item, key or `:name` → value map) as DynamoDB attribute values; undefined fields are dropped. */
export function toAttributes(value: object): AttributeMap {
  return marshall(value as Record<string, unknown>, { removeUndefinedValues: true });
}

/** A DynamoDB item as a plain object, or undefined when there is no item. */
export function fromItem<T>(item: AttributeMap | undefined): T | undefined {
  return item ? (unmarshall(item) as T) : undefined;
}

/** A list of DynamoDB items (Query) as plain objects. */
export function fromItems<T>(items: AttributeMap[] | undefined): T[] {
  return (items ?? []).map((item) => unmarshall(item) as T);
}
