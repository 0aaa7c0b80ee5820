import { RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  acquireLock,
  appendLedger,
  GuardRefused,
  LockHeld,
  releaseLock,
  restoreColor,
  scaleColor,
  scalableTargetResourceId,
} from '../../lambda/traffic';
import { item, plain } from '../support/dynamo';
import { conditionalCheckFailed, mocks, NOW_S, rule, throttled } from './helpers';

let m: ReturnType<typeof mocks>;
beforeEach(() => {
  m = mocks();
});
afterEach(() => m.restore());

describe('GIVEN the release lock', () => {
  test('WHEN acquiring THEN a conditional PutItem allows absent, expired or same-owner items and sets the lease', async () => {
    m.ddb.on(PutItemCommand).resolves({});
    const lock = await acquireLock(m.ctx, 'me', { ttlSeconds: 60 });
    expect(lock).toMatchObject({ owner: 'me', expiresAt: NOW_S + 60, expired: false });
    const input = plain(m.ddb.commandCalls(PutItemCommand)[0].args[0].input);
    expect(input).toMatchObject({
      TableName: 'lock',
      Item: { pk: 'dev', owner: 'me', expiresAt: NOW_S + 60 },
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now OR #owner = :owner',
      ExpressionAttributeValues: { ':now': NOW_S, ':owner': 'me' },
    });
  });

  test('WHEN no ttl is given THEN the lease is 15 minutes', async () => {
    m.ddb.on(PutItemCommand).resolves({});
    expect((await acquireLock(m.ctx, 'me')).expiresAt).toBe(NOW_S + 900);
  });

  test('fails WHEN someone else holds it THEN LockHeld names the holder and expiry', async () => {
    m.ddb.on(PutItemCommand).rejects(conditionalCheckFailed());
    m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'pipeline', expiresAt: NOW_S + 120 }) });
    const err = await acquireLock(m.ctx, 'me').catch((e) => e);
    expect(err).toBeInstanceOf(LockHeld);
    expect(err).toMatchObject({ holder: 'pipeline', expiresAt: NOW_S + 120 });
    expect(err.message).toBe('release lock of dev is held by pipeline until 2030-01-01T00:02:00.000Z');
  });

  test('fails WHEN the owner is empty THEN acquire is refused without a call', async () => {
    await expect(acquireLock(m.ctx, '  ')).rejects.toBeInstanceOf(GuardRefused);
    expect(m.ddb.calls()).toHaveLength(0);
  });

  test('fails WHEN ttlSeconds is not a positive integer THEN acquire is refused', async () => {
    await expect(acquireLock(m.ctx, 'me', { ttlSeconds: 0 })).rejects.toThrow('ttlSeconds must be a positive integer, got 0');
  });

  test('WHEN releasing THEN the delete is conditional on the owner; fails with LockHeld when another owner holds it', async () => {
    m.ddb.on(DeleteItemCommand).resolvesOnce({}).rejects(conditionalCheckFailed());
    m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'other', expiresAt: NOW_S + 5 }) });
    await releaseLock(m.ctx, 'me');
    expect(plain(m.ddb.commandCalls(DeleteItemCommand)[0].args[0].input)).toMatchObject({
      Key: { pk: 'dev' },
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
      ExpressionAttributeValues: { ':owner': 'me' },
    });
    await expect(releaseLock(m.ctx, 'me')).rejects.toThrow('held by other');
  });

  test('WHEN the PutItem is throttled THEN it is retried', async () => {
    m.ddb.on(PutItemCommand).rejectsOnce(throttled()).resolves({});
    await acquireLock(m.ctx, 'me');
    expect(m.ddb.commandCalls(PutItemCommand)).toHaveLength(2);
  });
});

describe('GIVEN the ledger', () => {
  test('WHEN appending THEN pk is the environment, sk is ISO time#suffix and undefined fields are dropped', async () => {
    m.ddb.on(PutItemCommand).resolves({});
    const e = await appendLedger(m.ctx, { actor: 'a', action: 'shift', reason: 'r', weightsBefore: { frontend: { blue: 1, green: 0 } }, detail: { x: undefined } });
    expect(e.sk).toBe('2030-01-01T00:00:00.000Z#r4nd');
    const entry = plain(m.ddb.commandCalls(PutItemCommand)[0].args[0].input).Item;
    expect(entry).toEqual({
      pk: 'dev',
      sk: '2030-01-01T00:00:00.000Z#r4nd',
      time: '2030-01-01T00:00:00.000Z',
      environment: 'dev',
      actor: 'a',
      action: 'shift',
      reason: 'r',
      weightsBefore: { frontend: { blue: 1, green: 0 } },
      detail: {},
    });
  });

  test('WHEN a retried PutItem finds its own entry THEN the append still succeeds', async () => {
    m.ddb.on(PutItemCommand).rejectsOnce(throttled()).rejects(conditionalCheckFailed());
    await expect(appendLedger(m.ctx, { actor: 'a', action: 'scale', reason: 'r' })).resolves.toMatchObject({ action: 'scale' });
  });
});

describe('GIVEN scaling', () => {
  beforeEach(() => {
    m.ddb.on(PutItemCommand).resolves({});
    m.ecs.on(DescribeServicesCommand).resolves({
      services: ['fe-blue', 'fe-green', 'be-blue', 'be-green'].map((n) => ({
        serviceName: n,
        desiredCount: n.endsWith('blue') ? (n.startsWith('fe') ? 4 : 3) : 1,
        runningCount: 1,
        taskDefinition: 'td',
        status: 'ACTIVE',
      })),
    });
    m.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { containerDefinitions: [{ name: 'a', image: 'x:1' }] } });
    m.ecs.on(UpdateServiceCommand).resolves({});
    m.autoscaling.on(RegisterScalableTargetCommand).resolves({});
    m.elbv2.on(DescribeRulesCommand).resolves({ Rules: [rule('frontend', 100, 0), rule('backend', 100, 0)] });
  });

  test('WHEN green is scaled to 0 THEN scalable targets are pinned to 0/0 only where scaling is set, then desired counts set', async () => {
    const r = await scaleColor(m.ctx, { color: 'green', desiredCount: 0, actor: 't' });
    expect(r).toMatchObject({ before: { frontend: 1, backend: 1 }, after: { frontend: 0, backend: 0 }, scalableTargets: { frontend: { minCapacity: 0, maxCapacity: 0 } } });
    expect(m.autoscaling.commandCalls(RegisterScalableTargetCommand).map((c) => c.args[0].input)).toEqual([
      { ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: 'service/dev-cluster/fe-green', MinCapacity: 0, MaxCapacity: 0 },
    ]);
    expect(m.ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: 'dev-cluster', service: 'fe-green', desiredCount: 0 },
      { cluster: 'dev-cluster', service: 'be-green', desiredCount: 0 },
    ]);
  });

  test('WHEN green is restored THEN it gets blue’s counts per service and the topology bounds', async () => {
    const r = await restoreColor(m.ctx, { color: 'green', actor: 't' });
    expect(r.after).toEqual({ frontend: 4, backend: 3 });
    expect(m.autoscaling.commandCalls(RegisterScalableTargetCommand)[0].args[0].input).toMatchObject({ MinCapacity: 2, MaxCapacity: 6 });
  });

  test('fails WHEN restoring the live color THEN the input guard refuses', async () => {
    const err = await restoreColor(m.ctx, { color: 'blue', actor: 't' }).catch((e) => e);
    expect(err).toMatchObject({ guard: 'input' });
    expect(m.ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  test('fails WHEN scaling a color carrying traffic to 0 THEN the traffic guard refuses and a refused entry is written', async () => {
    const err = await scaleColor(m.ctx, { color: 'blue', desiredCount: 0, actor: 't' }).catch((e) => e);
    expect(err).toMatchObject({ guard: 'traffic' });
    expect(err.reason).toContain('frontend: weight 100');
    expect(m.ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(plain(m.ddb.commandCalls(PutItemCommand)[0].args[0].input).Item).toMatchObject({ action: 'refused' });
  });

  test.each([[-1], [1.5], [1001], ['2']])('fails WHEN desiredCount is %p THEN the input guard refuses', async (n) => {
    const err = await scaleColor(m.ctx, { color: 'green', desiredCount: n as number, actor: 't' }).catch((e) => e);
    expect(err).toMatchObject({ guard: 'input' });
    expect(err.reason).toContain('desiredCount must be an integer 0–1000');
  });

  test('fails WHEN the color is unknown THEN the input guard refuses', async () => {
    await expect(scaleColor(m.ctx, { color: 'red' as 'blue', desiredCount: 1, actor: 't' })).rejects.toThrow('color must be blue or green');
  });

  test('WHEN building the scalable target id THEN it is service/<cluster>/<service>', () => {
    expect(scalableTargetResourceId('c', 's')).toBe('service/c/s');
  });
});
