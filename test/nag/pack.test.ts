import { CfnCustomResource, Validations } from 'aws-cdk-lib';
import { ENVIRONMENTS } from '../../config';
import { buildApp } from '../../lib/app';
import { TEST_CONTEXT } from '../cdk/support';
import { findingsOf, newStack } from './support';

describe('DeployInvariantChecks', () => {
  test('is wired into the app: a finding fails synth, naming the rule and the construct', () => {
    const { app, stages } = buildApp({ environments: [ENVIRONMENTS.dev], context: TEST_CONTEXT });
    new CfnCustomResource(stages.dev.stateless, 'CarelessResource', { serviceToken: 'arn:aws:lambda:us-east-1:111111111111:function:p' });
    expect(() => app.synth()).toThrow(/Dev\/Stateless\/CarelessResource[^\n]*\n[^\n]*DeployInvariants-CustomResourceServiceTimeout/);
  });

  test('an acknowledgment on the construct silences exactly that finding', () => {
    const stack = newStack();
    const acknowledged = new CfnCustomResource(stack, 'Acknowledged', { serviceToken: 'arn' });
    new CfnCustomResource(stack, 'NotAcknowledged', { serviceToken: 'arn' });
    Validations.of(acknowledged).acknowledge({ id: 'DeployInvariants-CustomResourceServiceTimeout', reason: 'test' });
    expect(findingsOf(stack.node.root as any, 'CustomResourceServiceTimeout')).toEqual(['DeployInvariants-CustomResourceServiceTimeout @ Test/NotAcknowledged']);
  });
});
