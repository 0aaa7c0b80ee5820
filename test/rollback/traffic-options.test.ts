/** The traffic-core options the rollback Lambda relies on: shift without a success ledger entry and with pre-read rules. */
import { ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { readRules, shift } from '../../lambda/traffic';
import { plain } from '../support/dynamo';
import { world } from './helpers';

let w: ReturnType<typeof world>;
afterEach(() => w?.restore());

test('shift with ledgerOnSuccess false writes the weights and no ledger entry', async () => {
  w = world();
  const r = await shift(w.ctx, { target: { to: 'blue', percent: 100 }, actor: 't', rollback: true, ledgerOnSuccess: false });
  expect(r).toMatchObject({ changed: true, action: 'rollback' });
  expect(w.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(2);
  expect(w.ddb.commandCalls(PutItemCommand)).toHaveLength(0);
});

test('shift with ledgerOnSuccess false still records a refusal', async () => {
  w = world({ healthyTargets: 0 });
  await expect(shift(w.ctx, { target: { to: 'blue', percent: 100 }, actor: 't', rollback: true, ledgerOnSuccess: false })).rejects.toMatchObject({ guard: 'health' });
  expect(plain(w.ddb.commandCalls(PutItemCommand)[0].args[0].input).Item).toMatchObject({ action: 'refused' });
});

test('shift with currentRules skips its own DescribeRules before writing and still verifies by read-back', async () => {
  w = world();
  const rules = await readRules(w.ctx);
  w.order.length = 0;
  await shift(w.ctx, { target: { to: 'blue', percent: 100 }, actor: 't', rollback: true, currentRules: rules });
  // The guard's reads (target health of blue, desired counts), then the writes: no DescribeRules before them.
  const firstWrite = w.order.indexOf('ModifyRule');
  expect(w.order.slice(0, firstWrite).sort()).toEqual(['DescribeServices', 'DescribeTargetHealth', 'DescribeTargetHealth']);
  // A rollback reads both services back in one DescribeRules.
  expect(w.order.filter((c) => c === 'DescribeRules')).toHaveLength(1);
});
