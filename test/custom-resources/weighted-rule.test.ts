/** Custom::WeightedListenerRule with a mocked ELBv2 client: weights belong to traffic control, never to the template. */
import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  type Rule,
  SetRulePrioritiesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { handleWeightedRule, liveWeights, parseWeightedRuleProps } from '../../lambda/custom-resources/weighted-rule';
import { logger } from '../../lambda/traffic/logger';
import { createEvent, deleteEvent, ruleProps, updateEvent } from './events';

logger.setLogLevel('SILENT');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const TYPE = 'Custom::WeightedListenerRule';
const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:1:listener/app/dev/lb1/l1';
const LISTENER_2 = 'arn:aws:elasticloadbalancing:us-east-1:1:listener/app/dev/lb1/l2';
const RULE = 'arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/dev/lb1/l1/r1';
const NEW_RULE = 'arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/dev/lb1/l2/r2';
const BLUE = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/fe-blue/b1';
const GREEN = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/fe-green/g1';
const GREEN_2 = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/fe-green-2/g2';

const props = (o: Partial<Parameters<typeof ruleProps>[0]> = {}) => ruleProps({ listenerArn: LISTENER, blueTg: BLUE, greenTg: GREEN, ...o });

function liveRule(blue: number, green: number, tgs = { blue: BLUE, green: GREEN }): Rule {
  return {
    RuleArn: RULE,
    Priority: '10',
    Actions: [
      {
        Type: 'forward',
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: tgs.blue, Weight: blue },
            { TargetGroupArn: tgs.green, Weight: green },
          ],
        },
      },
    ],
  };
}

const forward = (tgs: { blue: string; green: string }, blue: number, green: number) => [
  {
    Type: 'forward',
    ForwardConfig: {
      TargetGroups: [
        { TargetGroupArn: tgs.blue, Weight: blue },
        { TargetGroupArn: tgs.green, Weight: green },
      ],
    },
  },
];

const elbv2Mock = mockClient(ElasticLoadBalancingV2Client);
const elbv2 = new ElasticLoadBalancingV2Client({ region: 'us-east-1' });

beforeEach(() => {
  elbv2Mock.reset();
  elbv2Mock.on(CreateRuleCommand).resolves({ Rules: [{ RuleArn: NEW_RULE }] });
  elbv2Mock.on(ModifyRuleCommand).resolves({});
  elbv2Mock.on(SetRulePrioritiesCommand).resolves({});
  elbv2Mock.on(DeleteRuleCommand).resolves({});
});

afterAll(() => elbv2Mock.restore());

const calls = (command: Parameters<typeof elbv2Mock.commandCalls>[0]) => elbv2Mock.commandCalls(command).map((c) => c.args[0].input);

describe('GIVEN a Create request with string properties as CloudFormation sends them', () => {
  test('WHEN handled THEN CreateRule writes blue 100 / green 0 on the given target groups with the priority parsed from "10"', async () => {
    const result = await handleWeightedRule(createEvent(TYPE, props()), elbv2);

    expect(calls(CreateRuleCommand)).toEqual([
      {
        ListenerArn: LISTENER,
        Priority: 10,
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['shop.example.com'] } }],
        Actions: forward({ blue: BLUE, green: GREEN }, 100, 0),
      },
    ]);
    expect(result).toEqual({ physicalResourceId: NEW_RULE, data: { RuleArn: NEW_RULE } });
    expect(calls(ModifyRuleCommand)).toHaveLength(0);
  });

  test('WHEN CreateRule returns no rule ARN THEN the request fails instead of reporting an empty physical ID', async () => {
    elbv2Mock.on(CreateRuleCommand).resolves({ Rules: [] });

    await expect(handleWeightedRule(createEvent(TYPE, props()), elbv2)).rejects.toThrow('CreateRule returned no rule ARN');
  });
});

describe('GIVEN a live rule that traffic control moved to blue 40 / green 60', () => {
  beforeEach(() => {
    elbv2Mock.on(DescribeRulesCommand, { RuleArns: [RULE] }).resolves({ Rules: [liveRule(40, 60)] });
  });

  test('WHEN only the conditions change THEN ModifyRule carries the new conditions and NO Actions, and the priority is left alone', async () => {
    const result = await handleWeightedRule(updateEvent(TYPE, RULE, props({ host: 'www.example.com' }), props()), elbv2);

    expect(calls(ModifyRuleCommand)).toEqual([
      { RuleArn: RULE, Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['www.example.com'] } }] },
    ]);
    expect(calls(ModifyRuleCommand)[0]).not.toHaveProperty('Actions');
    expect(calls(SetRulePrioritiesCommand)).toHaveLength(0);
    expect(calls(CreateRuleCommand)).toHaveLength(0);
    expect(result).toEqual({ physicalResourceId: RULE, data: { RuleArn: RULE } });
  });

  test('WHEN the template\'s InitialWeights change THEN they are ignored on update (no Actions written)', async () => {
    await handleWeightedRule(updateEvent(TYPE, RULE, props({ initialWeights: { blue: '0', green: '100' } }), props()), elbv2);

    expect(calls(ModifyRuleCommand)[0]).not.toHaveProperty('Actions');
    expect(calls(CreateRuleCommand)).toHaveLength(0);
  });

  test('WHEN the green target group is replaced THEN Actions carry the LIVE weights 40/60 on the new group, not the initial 100/0', async () => {
    await handleWeightedRule(updateEvent(TYPE, RULE, props({ greenTg: GREEN_2 }), props()), elbv2);

    expect(calls(DescribeRulesCommand)).toEqual([{ RuleArns: [RULE] }]);
    expect(calls(ModifyRuleCommand)).toEqual([
      {
        RuleArn: RULE,
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['shop.example.com'] } }],
        Actions: forward({ blue: BLUE, green: GREEN_2 }, 40, 60),
      },
    ]);
  });

  test('WHEN the listener changes THEN a new rule is created on it with the live weights and the new rule ARN is the physical ID', async () => {
    const result = await handleWeightedRule(updateEvent(TYPE, RULE, props({ listenerArn: LISTENER_2, priority: '12' }), props()), elbv2);

    expect(calls(CreateRuleCommand)).toEqual([
      {
        ListenerArn: LISTENER_2,
        Priority: 12,
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['shop.example.com'] } }],
        Actions: forward({ blue: BLUE, green: GREEN }, 40, 60),
      },
    ]);
    expect(result).toEqual({ physicalResourceId: NEW_RULE, data: { RuleArn: NEW_RULE } });
    // The old rule is CloudFormation's to delete (a Delete with the old physical ID follows).
    expect(calls(DeleteRuleCommand)).toHaveLength(0);
    expect(calls(ModifyRuleCommand)).toHaveLength(0);
  });

  test('WHEN the listener and a target group change together THEN the new rule gets the live weights on the new group', async () => {
    await handleWeightedRule(updateEvent(TYPE, RULE, props({ listenerArn: LISTENER_2, greenTg: GREEN_2 }), props()), elbv2);

    expect(calls(CreateRuleCommand)[0].Actions).toEqual(forward({ blue: BLUE, green: GREEN_2 }, 40, 60));
  });

  test('WHEN the priority changes from "10" to "15" THEN SetRulePriorities sets 15 and the weights are not written', async () => {
    await handleWeightedRule(updateEvent(TYPE, RULE, props({ priority: '15' }), props()), elbv2);

    expect(calls(SetRulePrioritiesCommand)).toEqual([{ RulePriorities: [{ RuleArn: RULE, Priority: 15 }] }]);
    expect(calls(ModifyRuleCommand)[0]).not.toHaveProperty('Actions');
  });

  test('WHEN the priority is the same number written differently (10 vs "10") THEN no SetRulePriorities call is made', async () => {
    await handleWeightedRule(updateEvent(TYPE, RULE, props({ priority: '10' }), { ...props(), Priority: 10 }), elbv2);

    expect(calls(SetRulePrioritiesCommand)).toHaveLength(0);
  });
});

describe('GIVEN liveWeights', () => {
  test('WHEN the rule forwards to the given groups THEN weights are mapped by color, whatever their order', async () => {
    elbv2Mock.on(DescribeRulesCommand).resolves({
      Rules: [
        {
          RuleArn: RULE,
          Actions: [
            {
              Type: 'forward',
              ForwardConfig: {
                TargetGroups: [
                  { TargetGroupArn: GREEN, Weight: 7 },
                  { TargetGroupArn: BLUE, Weight: 3 },
                ],
              },
            },
          ],
        },
      ],
    });

    await expect(liveWeights(elbv2, RULE, { blue: BLUE, green: GREEN })).resolves.toEqual({ blue: 3, green: 7 });
  });
});

describe('GIVEN a Delete request', () => {
  test('WHEN the physical ID is a rule ARN THEN DeleteRule deletes it', async () => {
    const result = await handleWeightedRule(deleteEvent(TYPE, RULE, props()), elbv2);

    expect(calls(DeleteRuleCommand)).toEqual([{ RuleArn: RULE }]);
    expect(result).toEqual({ physicalResourceId: RULE });
  });

  test('WHEN the rule is already gone (RuleNotFoundException) THEN the delete succeeds', async () => {
    elbv2Mock.on(DeleteRuleCommand).rejects(Object.assign(new Error('One or more rules not found'), { name: 'RuleNotFoundException', $metadata: { httpStatusCode: 400 } }));

    await expect(handleWeightedRule(deleteEvent(TYPE, RULE, props()), elbv2)).resolves.toEqual({ physicalResourceId: RULE });
    expect(calls(DeleteRuleCommand)).toHaveLength(1);
  });

  test('WHEN DeleteRule fails otherwise (AccessDenied) THEN the delete fails', async () => {
    elbv2Mock.on(DeleteRuleCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));

    await expect(handleWeightedRule(deleteEvent(TYPE, RULE, props()), elbv2)).rejects.toThrow('not authorized');
  });

  test('WHEN the physical ID is failed-<RequestId> from a failed create THEN nothing is deleted, even with unparseable properties', async () => {
    const result = await handleWeightedRule(deleteEvent(TYPE, 'failed-req-create-1', { Priority: 'ten' }), elbv2);

    expect(elbv2Mock.calls()).toHaveLength(0);
    expect(result).toEqual({ physicalResourceId: 'failed-req-create-1' });
  });
});

describe('GIVEN invalid properties', () => {
  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['TargetGroups is missing', { TargetGroups: undefined }, /TargetGroups\.blue/],
    ['TargetGroups.green is empty', { TargetGroups: { blue: BLUE, green: '' } }, /TargetGroups\.green/],
    ['Priority is not numeric ("ten")', { Priority: 'ten' }, /Priority must be a whole number, got "ten"/],
    ['Priority is an empty string (Number("") would be 0)', { Priority: '' }, /Priority must be a whole number/],
    ['Priority is fractional ("1.5")', { Priority: '1.5' }, /Priority must be a whole number/],
    ['Priority is 0', { Priority: '0' }, /Priority must be 1–50000/],
    ['Priority is above 50000', { Priority: '50001' }, /Priority must be 1–50000/],
    ['InitialWeights.blue is 1000', { InitialWeights: { blue: '1000', green: '0' } }, /InitialWeights.*blue weight must be an integer 0–999, got 1000/],
    ['InitialWeights are both 0', { InitialWeights: { blue: '0', green: '0' } }, /InitialWeights.*must not all be zero/],
    ['InitialWeights.green is missing', { InitialWeights: { blue: '100' } }, /InitialWeights\.green must be a whole number/],
    ['Conditions is empty', { Conditions: [] }, /Conditions must be a non-empty list/],
    ['ListenerArn is missing', { ListenerArn: undefined }, /ListenerArn must be a non-empty string/],
  ];

  test.each(invalid)('WHEN %s THEN the Create fails naming the property and makes no call', async (_what, override, message) => {
    await expect(handleWeightedRule(createEvent(TYPE, { ...props(), ...override }), elbv2)).rejects.toThrow(message);
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN the new properties of an Update are invalid THEN it fails naming the property before reading or writing the rule', async () => {
    await expect(handleWeightedRule(updateEvent(TYPE, RULE, { ...props(), Priority: 'x' }, props()), elbv2)).rejects.toThrow(/Priority/);
    expect(elbv2Mock.calls()).toHaveLength(0);
  });

  test('WHEN ResourceProperties are absent THEN parsing fails saying so', () => {
    expect(() => parseWeightedRuleProps(undefined)).toThrow('missing ResourceProperties');
  });

  test('WHEN the properties are valid strings THEN they parse to numbers', () => {
    expect(parseWeightedRuleProps(props({ priority: ' 42 ', initialWeights: { blue: '90', green: '10' } }))).toMatchObject({
      priority: 42,
      initialWeights: { blue: 90, green: 10 },
    });
  });
});
