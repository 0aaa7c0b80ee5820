import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Stack } from 'aws-cdk-lib';
import { findings, findingsOf, newApp, newStack } from '../support';

/** CloudFormation names a topic `<stackName>-<logicalId>-<13 chars>`: with this stack name, ~185-character ARNs. */
const LONG_STACK_NAME = 'S'.repeat(120);

/** One statement per topic: small in the template (a Ref), ~230 characters each at deploy time. */
function publishStatements(stack: Stack, count: number): iam.PolicyStatement[] {
  return Array.from({ length: count }, (_, i) => new iam.PolicyStatement({ sid: `S${i}`, actions: ['sns:Publish'], resources: [new sns.CfnTopic(stack, `T${i}`).ref] }));
}

function role(stack: Stack) {
  return new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
}

describe('DeployInvariants-IamPolicySize', () => {
  test('sums a role\'s own inline policies and the AWS::IAM::Policy resources attached to it', () => {
    const ok = newStack(newApp(), LONG_STACK_NAME);
    const okRole = role(ok);
    new iam.Policy(ok, 'Extra', { roles: [okRole], statements: publishStatements(ok, 20) });
    expect(findingsOf(ok.node.root as any, 'IamPolicySize')).toEqual([]);

    const over = newStack(newApp(), LONG_STACK_NAME);
    const overRole = role(over);
    const statements = publishStatements(over, 25);
    // The same 25 statements in the role's default policy and in another policy attached to it: ~6,000 each.
    for (const s of statements) overRole.addToPrincipalPolicy(s);
    new iam.Policy(over, 'More', { roles: [overRole], statements: statements.map((s) => s.copy({ sid: `${s.sid}More` })) });
    const found = findings(over.node.root as any).filter((f) => f.id.includes('IamPolicySize'));
    expect(found.map((f) => `${f.id} @ ${f.path}`)).toEqual([`DeployInvariants-IamPolicySize[InlinePolicies] @ ${LONG_STACK_NAME}/Role/Resource`]);
    expect(found[0].description).toMatch(/inline policies up to \d{5} characters > 10240 \(2 policies\)/);
  });

  test('a managed policy is held to 6,144 characters', () => {
    const ok = newStack(newApp(), LONG_STACK_NAME);
    new iam.ManagedPolicy(ok, 'Managed', { statements: publishStatements(ok, 20) });
    expect(findingsOf(ok.node.root as any, 'IamPolicySize')).toEqual([]);

    const over = newStack(newApp(), LONG_STACK_NAME);
    new iam.ManagedPolicy(over, 'Managed', { statements: publishStatements(over, 30) });
    expect(findingsOf(over.node.root as any, 'IamPolicySize')).toEqual([`DeployInvariants-IamPolicySize[ManagedPolicy] @ ${LONG_STACK_NAME}/Managed/Resource`]);
  });
});
