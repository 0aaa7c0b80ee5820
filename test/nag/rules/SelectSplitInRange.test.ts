import { Arn, ArnFormat, CfnResource, Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { findings, findingsOf, newStack } from '../support';

function policyOn(stack: Stack, resource: string) {
  new iam.CfnManagedPolicy(stack, 'Policy', {
    policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'states:StopExecution', Resource: resource }] },
  });
}

function stateMachine(stack: Stack): sfn.StateMachine {
  return new sfn.StateMachine(stack, 'Release', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')) });
}

describe('DeployInvariants-SelectSplitInRange', () => {
  test('REGRESSION: fails lib/rollback.ts\'s old execution ARN, Arn.extractResourceName(stateMachineArn, \'stateMachine\')', () => {
    const stack = newStack();
    const machine = stateMachine(stack);
    // The old construct: a state machine ARN is colon-separated, so splitting on ':stateMachine/' yields one part.
    policyOn(stack, stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${Arn.extractResourceName(machine.stateMachineArn, 'stateMachine')}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }));
    const found = findings(stack.node.root as any).filter((f) => f.id.includes('SelectSplitInRange'));
    expect(found.map((f) => `${f.id} @ ${f.path}`)).toEqual(['DeployInvariants-SelectSplitInRange @ Test/Policy']);
    expect(found[0].description).toMatch(/Fn::Select \[1, Fn::Split \[':stateMachine\/', \{"Ref":"Release\w+"\}\]\]: 1 part\(s\) in 'arn:aws-us-gov:states:ap-southeast-2:123456789012:stateMachine:/);
  });

  test('passes the state machine\'s name taken at the colon-separated position', () => {
    const stack = newStack();
    const machine = stateMachine(stack);
    const name = Arn.split(machine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName!;
    policyOn(stack, stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }));
    expect(findingsOf(stack.node.root as any, 'SelectSplitInRange')).toEqual([]);
  });

  test('a listener ARN splits on / into 5 parts: index 4 is in range, 5 is not', () => {
    const ok = newStack();
    const okListener = new elbv2.CfnListener(ok, 'Listener', { loadBalancerArn: 'arn', defaultActions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '404' } }] });
    policyOn(ok, Fn.select(4, Fn.split('/', okListener.ref)));
    expect(findingsOf(ok.node.root as any, 'SelectSplitInRange')).toEqual([]);

    const bad = newStack();
    const badListener = new elbv2.CfnListener(bad, 'Listener', { loadBalancerArn: 'arn', defaultActions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '404' } }] });
    policyOn(bad, Fn.select(5, Fn.split('/', badListener.ref)));
    expect(findingsOf(bad.node.root as any, 'SelectSplitInRange')).toEqual(['DeployInvariants-SelectSplitInRange @ Test/Policy']);
  });

  test('a literal is split for real', () => {
    const stack = newStack();
    new CfnResource(stack, 'InRange', { type: 'AWS::SSM::Parameter', properties: { Type: 'String', Value: { 'Fn::Select': [2, { 'Fn::Split': ['/', 'a/b/c'] }] } } });
    new CfnResource(stack, 'OutOfRange', { type: 'AWS::SSM::Parameter', properties: { Type: 'String', Value: { 'Fn::Select': [3, { 'Fn::Split': ['/', 'a/b/c'] }] } } });
    expect(findingsOf(stack.node.root as any, 'SelectSplitInRange')).toEqual(['DeployInvariants-SelectSplitInRange @ Test/OutOfRange']);
  });

  test('fails a split of a value whose format the table does not know, naming it', () => {
    const stack = newStack();
    const custom = new CfnResource(stack, 'Custom', { type: 'Custom::Thing', properties: { ServiceToken: 'arn', ServiceTimeout: 60 } });
    new CfnResource(stack, 'Uses', { type: 'AWS::SSM::Parameter', properties: { Type: 'String', Value: Fn.select(0, Fn.split('/', custom.getAtt('Id').toString())) } });
    const found = findings(stack.node.root as any).filter((f) => f.id.includes('SelectSplitInRange'));
    expect(found.map((f) => f.path)).toEqual(['Test/Uses']);
    expect(found[0].description).toMatch(/format of Custom::Thing\.Id unknown \(add it to lib\/nag\/formats\.ts\)/);
  });
});
