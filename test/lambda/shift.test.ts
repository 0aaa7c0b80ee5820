import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRulesCommand, DescribeTargetHealthCommand, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GuardRefused, shift, ShiftFailed, VerifyMismatch } from '../../lambda/traffic';
import { item, plain } from '../support/dynamo';
import { healthy, mocks, NOW_S, rule, throttled, topology } from './helpers';

let m: ReturnType<typeof mocks>;
beforeEach(() => {
  m = mocks();
  m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S + 600 }) });
  m.ddb.on(PutItemCommand).resolves({});
  m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'blue-5xx', StateValue: 'OK' }] });
  m.elbv2.on(DescribeTargetHealthCommand).resolves(healthy('us-east-1a', 'us-east-1b'));
});
afterEach(() => m.restore());

/** DescribeRules answers with the weights last written by ModifyRule (a tiny stateful fake). */
function statefulRules(initial: Record<'frontend' | 'backend', [number, number]>, override?: (arn: string) => [number, number] | undefined) {
  const current = { ...initial };
  m.elbv2.on(DescribeRulesCommand).callsFake((input: { RuleArns: string[] }) => ({
    Rules: input.RuleArns.map((arn) => {
      const svc = arn.endsWith('frontend') ? 'frontend' : 'backend';
      const [b, g] = override?.(arn) ?? current[svc];
      return rule(svc, b, g);
    }),
  }));
  m.elbv2.on(ModifyRuleCommand).callsFake((input: { RuleArn: string; Actions: { ForwardConfig: { TargetGroups: { Weight: number }[] } }[] }) => {
    const svc = input.RuleArn.endsWith('frontend') ? 'frontend' : 'backend';
    const groups = input.Actions[0].ForwardConfig.TargetGroups;
    current[svc] = [groups[0].Weight, groups[1].Weight];
    return {};
  });
  return current;
}

const ledgerItems = () => m.ddb.commandCalls(PutItemCommand).map((c) => plain(c.args[0].input).Item as Record<string, unknown>);

describe('GIVEN all traffic on blue and the lock held by "me"', () => {
  test('WHEN shifting green to 10% THEN each rule gets a weighted forward keeping stickiness and order, frontend first', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    const r = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 'tester', reason: 'canary' });
    expect(r).toMatchObject({ changed: true, weightsAfter: { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } } });
    const writes = m.elbv2.commandCalls(ModifyRuleCommand).map((c) => c.args[0].input);
    expect(writes.map((w) => w.RuleArn)).toEqual(['arn:rule/frontend', 'arn:rule/backend']);
    expect(writes[0].Actions).toEqual([
      {
        Type: 'forward',
        Order: 1,
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: topology.services.frontend.colors.blue.targetGroupArn, Weight: 90 },
            { TargetGroupArn: topology.services.frontend.colors.green.targetGroupArn, Weight: 10 },
          ],
          TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
        },
      },
    ]);
    expect(ledgerItems()).toEqual([
      expect.objectContaining({ pk: 'dev', sk: '2030-01-01T00:00:00.000Z#r4nd', action: 'shift', actor: 'tester', reason: 'canary' }),
    ]);
  });

  test('WHEN the rule has other actions THEN only the forward action is replaced', async () => {
    const auth = { Type: 'authenticate-oidc' as const, Order: 1, AuthenticateOidcConfig: { Issuer: 'i', AuthorizationEndpoint: 'a', TokenEndpoint: 't', UserInfoEndpoint: 'u', ClientId: 'c' } };
    m.elbv2.on(DescribeRulesCommand).resolvesOnce({
      Rules: [{ ...rule('frontend', 100, 0), Actions: [auth, { ...rule('frontend', 100, 0).Actions![0], Order: 2 }] }],
    }).resolves({ Rules: [rule('frontend', 90, 10)] });
    m.elbv2.on(ModifyRuleCommand).resolves({});
    await shift(m.ctx, { target: { to: 'green', percent: 10 }, service: 'frontend', owner: 'me', actor: 't' });
    const actions = m.elbv2.commandCalls(ModifyRuleCommand)[0].args[0].input.Actions!;
    expect(actions[0]).toEqual(auth);
    expect(actions[1]).toMatchObject({ Type: 'forward', Order: 2 });
  });

  test('WHEN ModifyRule is throttled once THEN it is retried and the shift succeeds', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.elbv2.on(ModifyRuleCommand).rejectsOnce(throttled()).resolves({});
    // after the retry the fake no longer records weights, so answer reads with the target directly
    m.elbv2.on(DescribeRulesCommand).resolvesOnce({ Rules: [rule('frontend', 100, 0), rule('backend', 100, 0)] }).resolves({
      Rules: [rule('frontend', 90, 10), rule('backend', 90, 10)],
    });
    await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' });
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(3);
  });

  test('WHEN the target equals the current weights THEN nothing is written and the rules are still read back', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    const r = await shift(m.ctx, { target: { weights: { blue: 90, green: 10 } }, owner: 'me', actor: 't' });
    expect(r.changed).toBe(false);
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
    expect(m.elbv2.commandCalls(DescribeRulesCommand).length).toBe(3); // initial read + one verify per service
  });

  test('fails WHEN one AZ of green has fewer healthy targets than the minimum THEN the health guard names the AZ', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        ...healthy('us-east-1a').TargetHealthDescriptions,
        { Target: { Id: 'b', AvailabilityZone: 'us-east-1b' }, TargetHealth: { State: 'unhealthy' } },
      ],
    });
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toBeInstanceOf(GuardRefused);
    expect(err.guard).toBe('health');
    expect(err.reason).toBe('frontend green needs at least 1 healthy target in every AZ it serves; us-east-1b: 0 healthy of 1');
    expect(m.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
    expect(ledgerItems()[0]).toMatchObject({ action: 'refused', detail: { guard: 'health' } });
  });

  test('fails WHEN green has no registered targets THEN the health guard refuses', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    await expect(shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' })).rejects.toThrow(
      'refused by the health guard: frontend green has no registered targets',
    );
  });

  test('fails WHEN no owner is given THEN the lock guard refuses', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, actor: 't' }).catch((e) => e);
    expect(err.guard).toBe('lock');
    expect(err.reason).toContain('owner token is required');
  });

  test('fails WHEN the lock lease of the owner expired THEN the lock guard refuses', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.ddb.on(GetItemCommand).resolves({ Item: item({ pk: 'dev', owner: 'me', expiresAt: NOW_S - 5 }) });
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err.guard).toBe('lock');
    expect(err.reason).toContain('expired');
  });

  test('fails WHEN the target color is not blue or green THEN the weights guard refuses', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    const err = await shift(m.ctx, { target: { to: 'red' as 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err.guard).toBe('weights');
  });

  test('fails WHEN a named service is unknown THEN the input guard refuses before any call', async () => {
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, service: 'db' as 'backend', owner: 'me', actor: 't' }).catch((e) => e);
    expect(err.guard).toBe('input');
    expect(m.elbv2.calls()).toHaveLength(0);
  });
});

describe('GIVEN a rollback', () => {
  test('WHEN rolling back to blue THEN neither the lock nor the alarms are read', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    m.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'green-5xx', StateValue: 'ALARM' }] });
    const r = await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 'alarm', rollback: true });
    expect(r.action).toBe('rollback');
    expect(m.ddb.commandCalls(GetItemCommand)).toHaveLength(0);
    expect(m.cloudwatch.commandCalls(DescribeAlarmsCommand)).toHaveLength(0);
  });

  test('fails WHEN blue has registered but no healthy targets THEN the rollback is refused', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    m.elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: 'a' }, TargetHealth: { State: 'unhealthy' } }] });
    const err = await shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 'alarm', rollback: true }).catch((e) => e);
    expect(err.guard).toBe('health');
    expect(err.reason).toBe('frontend blue has no healthy targets');
  });

  test('WHEN one AZ of blue has no healthy target THEN a rollback still proceeds', async () => {
    statefulRules({ frontend: [90, 10], backend: [90, 10] });
    m.elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        ...healthy('us-east-1a').TargetHealthDescriptions,
        { Target: { Id: 'b', AvailabilityZone: 'us-east-1b' }, TargetHealth: { State: 'unhealthy' } },
      ],
    });
    await expect(shift(m.ctx, { target: { to: 'blue', percent: 100 }, actor: 'alarm', rollback: true })).resolves.toMatchObject({ changed: true });
  });
});

describe('GIVEN failures during the write', () => {
  test('fails WHEN the read-back differs THEN VerifyMismatch is thrown and both written rules are restored', async () => {
    // The backend rule reads back 50/50 whenever 90/10 was written to it.
    let current: Record<'frontend' | 'backend', [number, number]> = { frontend: [100, 0], backend: [100, 0] };
    current = statefulRules(current, (arn) => (arn.endsWith('backend') && current.backend[1] === 10 ? [50, 50] : undefined));
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toBeInstanceOf(VerifyMismatch);
    expect(err).toMatchObject({ failedService: 'backend', expected: { blue: 90, green: 10 }, actual: { blue: 50, green: 50 } });
    expect(err.message).toContain('verify failed for backend: expected blue 90 / green 10, read back blue 50 / green 50');
    expect(err).toMatchObject({ restored: true, restoredServices: ['frontend', 'backend'] });
    expect(err.message).toContain('frontend restored to blue 100 / green 0, backend restored to blue 100 / green 0');
    expect(current).toEqual({ frontend: [100, 0], backend: [100, 0] });
  });

  test('fails WHEN the restore cannot be written either THEN the error says RESTORE FAILED and services are split', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.elbv2
      .on(ModifyRuleCommand, { RuleArn: 'arn:rule/frontend' })
      .resolvesOnce({})
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    m.elbv2.on(ModifyRuleCommand, { RuleArn: 'arn:rule/backend' }).rejects(throttled());
    m.elbv2.on(DescribeRulesCommand).resolvesOnce({ Rules: [rule('frontend', 100, 0), rule('backend', 100, 0)] }).resolves({
      Rules: [rule('frontend', 90, 10), rule('backend', 100, 0)],
    });
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toMatchObject({ failedService: 'backend', restored: false, restoredServices: [] });
    expect(err.message).toContain('RESTORE FAILED (frontend: AccessDenied: denied)');
    expect(err.message).toContain('services are split');
  });

  test('fails WHEN the backend write keeps failing THEN the frontend is restored and ShiftFailed says so', async () => {
    const current = statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.elbv2.on(ModifyRuleCommand, { RuleArn: 'arn:rule/backend' }).rejects(throttled());
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toBeInstanceOf(ShiftFailed);
    expect(err).toMatchObject({ failedService: 'backend', restored: true, restoredServices: ['frontend'] });
    expect(err.message).toBe(
      'shift of dev to blue 90 / green 10 failed on backend: ThrottlingException: Rate exceeded; frontend restored to blue 100 / green 0',
    );
    expect(current).toEqual({ frontend: [100, 0], backend: [100, 0] });
    expect(m.elbv2.commandCalls(ModifyRuleCommand, { RuleArn: 'arn:rule/backend' })).toHaveLength(5);
    expect(ledgerItems().map((i) => i.action)).toEqual(['shift-failed']);
  });

  test('fails WHEN the first service write fails THEN nothing needs restoring and the error says nothing was changed', async () => {
    statefulRules({ frontend: [100, 0], backend: [100, 0] });
    m.elbv2.on(ModifyRuleCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const err = await shift(m.ctx, { target: { to: 'green', percent: 10 }, owner: 'me', actor: 't' }).catch((e) => e);
    expect(err).toMatchObject({ failedService: 'frontend', restored: true, restoredServices: [] });
    expect(err.message).toContain('nothing was changed');
  });
});
