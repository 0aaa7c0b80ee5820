import { CfnCustomResource, CfnResource } from 'aws-cdk-lib/core';
import { findingsOf, newStack } from '../support';

describe('DeployInvariants-CustomResourceServiceTimeout', () => {
  test('passes custom resources with a ServiceTimeout, fails those without', () => {
    const stack = newStack();
    new CfnCustomResource(stack, 'WithTimeout', { serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:p', serviceTimeout: 300 });
    new CfnCustomResource(stack, 'WithoutTimeout', { serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:p' });
    new CfnResource(stack, 'TypedWithTimeout', { type: 'Custom::Thing', properties: { ServiceToken: 'arn', ServiceTimeout: 60 } });
    new CfnResource(stack, 'TypedWithoutTimeout', { type: 'Custom::Thing', properties: { ServiceToken: 'arn' } });
    expect(findingsOf(stack.node.root as any, 'CustomResourceServiceTimeout')).toEqual([
      'DeployInvariants-CustomResourceServiceTimeout @ Test/WithoutTimeout',
      'DeployInvariants-CustomResourceServiceTimeout @ Test/TypedWithoutTimeout',
    ]);
  });
});
