import { CfnOutput, CfnResource, Validations, type Stack } from 'aws-cdk-lib';
import { STACK_QUOTAS } from '../../../lib/nag/rules';
import { findings, findingsOf, newStack } from '../support';

const parameters = (stack: Stack, count: number, value = 'v') => {
  for (let i = 0; i < count; i++) new CfnResource(stack, `P${i}`, { type: 'AWS::SSM::Parameter', properties: { Type: 'String', Value: value } });
};

describe('DeployInvariants-StackQuotas', () => {
  test('passes a stack at 90 % of the resource quota, fails one past it, once per stack', () => {
    const atMargin = newStack();
    parameters(atMargin, STACK_QUOTAS.Resources * 0.9);
    expect(findingsOf(atMargin.node.root as any, 'StackQuotas')).toEqual([]);

    const past = newStack();
    parameters(past, STACK_QUOTAS.Resources * 0.9 + 1);
    const found = findings(past.node.root as any).filter((f) => f.id.includes('StackQuotas'));
    expect(found.map((f) => `${f.id} @ ${f.path}`)).toEqual(['DeployInvariants-StackQuotas[Resources] @ Test/P0']);
    expect(found[0].description).toMatch(/Test: Resources 451 of 500 \(90 %; 49 left, under the 10 % margin\)/);
  });

  test('fails a stack with more than 180 outputs', () => {
    const stack = newStack();
    parameters(stack, 1);
    for (let i = 0; i < 181; i++) new CfnOutput(stack, `O${i}`, { value: 'v' });
    expect(findingsOf(stack.node.root as any, 'StackQuotas')).toEqual(['DeployInvariants-StackQuotas[Outputs] @ Test/P0']);
  });

  test('fails a template past 90 % of 1 MB', () => {
    const stack = newStack();
    // The CDK warns from 90 % too; acknowledged here so the test's output shows only this pack's finding.
    Validations.of(stack).acknowledge({ id: 'Annotation::@aws-cdk/core:Stack.templateSize', reason: 'the test builds a large template on purpose' });
    parameters(stack, 1, 'x'.repeat(STACK_QUOTAS.TemplateBytes * 0.9));
    expect(findingsOf(stack.node.root as any, 'StackQuotas')).toEqual(['DeployInvariants-StackQuotas[TemplateBytes] @ Test/P0']);
  });
});
