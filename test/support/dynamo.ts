/**
 * Tests mock the plain DynamoDBClient, whose commands carry DynamoDB attribute values: `item` builds a mocked response's
 * Item(s) from a plain object (the Lambda code's own conversion), `plain` reads a sent command's input back as plain
 * objects for assertions.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { toAttributes } from '../../lambda/traffic/dynamo-items';

export const item = (value: object): Record<string, AttributeValue> => toAttributes(value);

const CONVERTED = ['Item', 'Key', 'ExpressionAttributeValues'] as const;

/** A DynamoDB command input (also each TransactItems entry) with Item, Key and ExpressionAttributeValues unmarshalled. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function plain(input: object): Record<string, any> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const out: Record<string, any> = { ...input };
  for (const key of CONVERTED) if (out[key]) out[key] = unmarshall(out[key]);
  if (Array.isArray(out.TransactItems)) {
    out.TransactItems = out.TransactItems.map((entry: object) => Object.fromEntries(Object.entries(entry).map(([op, v]) => [op, plain(v as object)])));
  }
  return out;
}
