import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Stack } from 'aws-cdk-lib';
import { findings, newApp, newStack } from '../support';

const LONG_STACK_NAME = 'S'.repeat(120);

function fn(stack: Stack, variables: Record<string, string>) {
  return new lambda.CfnFunction(stack, 'Fn', {
    code: { zipFile: 'exports.handler = async () => {}' },
    role: 'arn:aws:iam::123456789012:role/fn',
    runtime: 'nodejs22.x',
    handler: 'index.handler',
    environment: { variables },
  });
}

/**
 * `count` topic ARNs: a Ref each in the template, ~180 characters each at deploy time (CloudFormation names a
 * topic `<stackName>-<logicalId>-<13 chars>`, and this stack's name is 120 characters).
 */
function topicArns(stack: Stack, count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`TOPIC_${i}`, new sns.CfnTopic(stack, `T${i}`).ref]));
}

describe('DeployInvariants-LambdaEnvironmentSize', () => {
  test('passes an environment that fits 4 KB at its longest', () => {
    const stack = newStack(newApp(), LONG_STACK_NAME);
    fn(stack, { ...topicArns(stack, 15), MODE: 'x' });
    expect(findings(stack.node.root as any).filter((f) => f.id.includes('LambdaEnvironmentSize'))).toEqual([]);
  });

  test('fails an environment whose references can exceed 4 KB, though its template is small', () => {
    const stack = newStack(newApp(), LONG_STACK_NAME);
    fn(stack, topicArns(stack, 25));
    const found = findings(stack.node.root as any).filter((f) => f.id.includes('LambdaEnvironmentSize'));
    expect(found).toEqual([
      expect.objectContaining({ id: 'DeployInvariants-LambdaEnvironmentSize', path: `${LONG_STACK_NAME}/Fn` }),
    ]);
    expect(found[0].description).toMatch(/environment can exceed 4 KB[\s\S]*\n  environment up to \d{4} bytes > 4096/);
  });

  test('counts a literal environment exactly (keys, values and JSON punctuation)', () => {
    const stack = newStack();
    // {"A":"<4088 chars>"} is 4096 bytes: at the quota, allowed; one more character is over.
    fn(stack, { A: 'x'.repeat(4088) });
    expect(findings(stack.node.root as any).filter((f) => f.id.includes('LambdaEnvironmentSize'))).toEqual([]);
    const over = newStack();
    fn(over, { A: 'x'.repeat(4089) });
    expect(findings(over.node.root as any).map((f) => f.id)).toContain('DeployInvariants-LambdaEnvironmentSize');
  });
});
