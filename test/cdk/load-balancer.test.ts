import { Match, type Template } from 'aws-cdk-lib/assertions';
import { OPERATOR_CIDR } from '../../config/shared';
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

/**
 * The ALB security group's inbound rules on a port, as [source, description] pairs: inline rules, then rules of their
 * own (CDK writes a prefix list rule as an AWS::EC2::SecurityGroupIngress).
 */
const ingressOn = (template: Template, port: number) => {
  const [[id, sg]] = resourcesOf(template, 'AWS::EC2::SecurityGroup').filter(([logicalId]) => logicalId.startsWith('LoadBalancerSecurityGroup'));
  const separate = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')
    .map(([, r]) => r.Properties)
    .filter((r) => r.GroupId?.['Fn::GetAtt']?.[0] === id);
  return [...(sg.Properties.SecurityGroupIngress as any[]), ...separate]
    .filter((r) => r.FromPort === port && r.ToPort === port)
    .map((r) => [r.CidrIp ?? r.SourcePrefixListId, r.Description]);
};
const aclRules = (template: Template): any[] => resourcesOf(template, 'AWS::WAFv2::WebACL')[0]?.[1].Properties.Rules ?? [];

// Issue 10, "Environments": the plan's access model, development "Developers only", staging "QA Team, Stakeholders",
// production "Public access".
describe('access on 80 and 443', () => {
  test('GIVEN the development tier THEN 80 and 443 are open to its CIDR only', () => {
    const { stateless } = synthEnvironment('dev');
    for (const port of [80, 443]) expect(ingressOn(stateless, port).map(([source]) => source)).toEqual([OPERATOR_CIDR]);
    expect(ingressOn(stateless, 443)).toEqual([[OPERATOR_CIDR, 'HTTPS from Developers only']]);
    expect(ingressOn(stateless, 80)).toEqual([[OPERATOR_CIDR, 'HTTP from Developers only, redirected to HTTPS']]);
    stateless.resourcePropertiesCountIs('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0' })]) }, 0);
    // No WAF in dev, so no WAF rule either: the security group alone enforces access.
    stateless.resourceCountIs('AWS::WAFv2::IPSet', 0);
  });

  test('GIVEN the pre-production tier with WAF THEN 80 and 443 are open to its CIDRs, and a first WAF rule blocks every other source', () => {
    const { stateless } = synthEnvironment('staging');
    const cidrs = ['198.51.100.0/24', '192.0.2.0/24'];
    for (const port of [80, 443]) expect(ingressOn(stateless, port).map(([source]) => source)).toEqual(cidrs);
    stateless.resourcePropertiesCountIs('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0' })]) }, 0);

    const [rule] = aclRules(stateless);
    expect(rule).toMatchObject({ Name: 'AccessSourcesOnly', Priority: 0, Action: { Block: {} } });
    const sets = rule.Statement.NotStatement.Statement.OrStatement.Statements.map((s: any) => s.IPSetReferenceStatement.Arn['Fn::GetAtt'][0]);
    const ipSets = Object.fromEntries(resourcesOf(stateless, 'AWS::WAFv2::IPSet'));
    expect(sets).toHaveLength(2);
    expect(ipSets[sets[0]].Properties).toMatchObject({ Scope: 'REGIONAL', IPAddressVersion: 'IPV4', Addresses: cidrs });
    // The web ACL covers the test listener too: its sources (operator CIDR, NAT addresses) pass the rule.
    expect(ipSets[sets[1]].Properties.Addresses).toEqual([OPERATOR_CIDR, { 'Fn::Join': ['', [{ 'Fn::ImportValue': expect.stringMatching(/^Staging-Stateful:.*EIP/) }, '/32']] }]);
    // The managed groups and the body-size rule follow, in their order.
    expect(aclRules(stateless).map((r) => [r.Priority, r.Name])).toEqual([
      [0, 'AccessSourcesOnly'],
      [1, 'AWSManagedRulesCommonRuleSet'],
      [2, 'AWSManagedRulesKnownBadInputsRuleSet'],
      [3, 'AWSManagedRulesAmazonIpReputationList'],
      [4, 'AWSManagedRulesSQLiRuleSet'],
      [5, 'LargeBodyOnlyWhereAllowed'],
    ]);
  });

  test('GIVEN the production tier THEN 80 and 443 are open to anywhere and no WAF rule filters sources', () => {
    const { stateless } = synthEnvironment('production');
    expect(ingressOn(stateless, 443)).toEqual([['0.0.0.0/0', 'HTTPS from the internet']]);
    expect(ingressOn(stateless, 80)).toEqual([['0.0.0.0/0', 'HTTP from the internet, redirected to HTTPS']]);
    expect(aclRules(stateless).map((r) => r.Name)).not.toContain('AccessSourcesOnly');
    stateless.resourceCountIs('AWS::WAFv2::IPSet', 0);
  });

  test('GIVEN a prefix list among the sources THEN the security group references it and no WAF rule blocks its sources', () => {
    const { stateless } = synthEnvironment('staging', (c) => ({
      ...c,
      access: [
        { cidr: '198.51.100.0/24', description: 'QA Team' },
        { prefixListId: 'pl-0123456789abcdef0', maxEntries: 10, description: 'Stakeholders' },
      ],
    }));
    for (const port of [80, 443]) expect(ingressOn(stateless, port).map(([source]) => source)).toEqual(['198.51.100.0/24', 'pl-0123456789abcdef0']);
    expect(aclRules(stateless).map((r) => r.Name)).not.toContain('AccessSourcesOnly');
    stateless.resourceCountIs('AWS::WAFv2::IPSet', 0);
  });

  test.each(['dev', 'staging', 'production'])('GIVEN %s THEN the test listener keeps its operator CIDR and NAT sources', (name) => {
    const { stateless } = synthEnvironment(name);
    const config = ENVIRONMENTS[name];
    expect(ingressOn(stateless, config.testListener.port)).toEqual([
      [config.testListener.allowedCidr, 'Pre-traffic test listener'],
      ...Array.from({ length: config.network.natGateways }, (_, i) => [expect.objectContaining({ 'Fn::Join': expect.anything() }), `Pre-traffic checks from the VPC (NAT ${i + 1})`]),
    ]);
  });
});
