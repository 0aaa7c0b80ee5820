import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { fromItem, fromItems, toAttributes } from '../../lambda/traffic/dynamo-items';

/** Items of the shapes the handlers store: ledger entries, the lock, the markers, the release record, the topology. */
const SAMPLES: Record<string, unknown>[] = [
  { pk: 'dev', owner: 'arn:aws:states:us-east-1:1:execution:r:x', expiresAt: 1795805674, acquiredAt: '2030-01-01T00:00:00.000Z' },
  {
    pk: 'dev',
    sk: '2030-01-01T00:00:00.000Z#ab12',
    action: 'rollback',
    weightsBefore: { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } },
    detail: { done: ['a', 'b'], trafficChanged: true, scaledTo0: { frontend: 0 }, missing: undefined, nothing: null, ratio: 0.25, neg: -3, empty: '', list: [1, 'x', { y: [] }, undefined] },
    skipped: undefined,
  },
  { pk: 'dev#rollback#green', state: 'done', completedAtMs: 1795805674735, notification: JSON.stringify({ a: 1 }) },
  {},
];

describe('dynamo-items converts exactly as @aws-sdk/util-dynamodb with removeUndefinedValues', () => {
  test.each(SAMPLES.map((s, i) => [i, s]))('sample %i: toAttributes = marshall, fromItem = unmarshall', (_i, sample) => {
    const wire = toAttributes(sample as object);
    expect(wire).toEqual(marshall(sample, { removeUndefinedValues: true }));
    expect(fromItem(wire)).toEqual(unmarshall(wire));
    expect(fromItems([wire, wire])).toEqual([unmarshall(wire), unmarshall(wire)]);
  });
  test('fails WHEN a value this code never stores arrives (a Set, a Date, NaN) THEN it is refused, not stored wrong', () => {
    expect(() => toAttributes({ s: new Set(['a']) })).toThrow('cannot store a Set');
    expect(() => toAttributes({ d: new Date(0) })).toThrow('cannot store a Date');
    expect(() => toAttributes({ n: NaN })).toThrow('cannot store NaN');
    expect(() => fromItem({ b: { B: new Uint8Array(1) } })).toThrow('unexpected DynamoDB attribute type B');
  });
  test('no item is undefined; no items is an empty list', () => {
    expect(fromItem(undefined)).toBeUndefined();
    expect(fromItems(undefined)).toEqual([]);
  });
});
