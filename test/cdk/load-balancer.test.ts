import { ENVIRONMENTS, type EnvironmentName } from '../../config';
import { BODY_SIZE_LABEL } from '../../lib/load-balancer';
import { resourcesOf, synthEnvironment } from './support';

describe.each(Object.keys(ENVIRONMENTS) as EnvironmentName[])('%s load balancer hardening', (name) => {
  const config = ENVIRONMENTS[name];
  const { stateless } = synthEnvironment(name);

  // Finding: production's ALB had no deletion protection.
  test(`THEN ALB deletion protection is ${config.loadBalancer.deletionProtection ? 'on' : 'off'}, as config says`, () => {
    const [[, alb]] = resourcesOf(stateless, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.Properties.LoadBalancerAttributes).toContainEqual({
      Key: 'deletion_protection.enabled',
      Value: String(config.loadBalancer.deletionProtection),
    });
  });

  if (!config.waf) return;

  // Finding: the core rule set's SizeRestrictions_BODY blocked every API request body over 8 KB.
  test('THEN the core rule set only counts bodies over 8 KB, and a later rule blocks them unless they are for the API host', () => {
    const [[, acl]] = resourcesOf(stateless, 'AWS::WAFv2::WebACL');
    const rules: any[] = acl.Properties.Rules;
    const crs = rules.find((r) => r.Statement.ManagedRuleGroupStatement?.Name === 'AWSManagedRulesCommonRuleSet');
    expect(crs.OverrideAction).toEqual({ None: {} });
    expect(crs.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);

    const labelled = rules.filter((r) => JSON.stringify(r.Statement).includes(BODY_SIZE_LABEL));
    expect(labelled).toHaveLength(1);
    const [block] = labelled;
    // Labels are only visible to rules evaluated after the group that adds them.
    expect(block.Priority).toBeGreaterThan(crs.Priority);
    expect(block.Action).toEqual({ Block: {} });
    expect(block.Statement).toEqual({
      AndStatement: {
        Statements: [
          { LabelMatchStatement: { Scope: 'LABEL', Key: BODY_SIZE_LABEL } },
          {
            NotStatement: {
              Statement: {
                ByteMatchStatement: {
                  FieldToMatch: { SingleHeader: { Name: 'host' } },
                  PositionalConstraint: 'EXACTLY',
                  SearchString: config.services.backend.host,
                  TextTransformations: [{ Priority: 0, Type: 'LOWERCASE' }],
                },
              },
            },
          },
        ],
      },
    });
  });

  test('THEN every other managed rule keeps its own actions', () => {
    const [[, acl]] = resourcesOf(stateless, 'AWS::WAFv2::WebACL');
    const others = (acl.Properties.Rules as any[]).filter(
      (r) => r.Statement.ManagedRuleGroupStatement && r.Statement.ManagedRuleGroupStatement.Name !== 'AWSManagedRulesCommonRuleSet',
    );
    expect(others).toHaveLength(3);
    for (const r of others) {
      expect(r.OverrideAction).toEqual({ None: {} });
      expect(r.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toBeUndefined();
    }
  });
});
