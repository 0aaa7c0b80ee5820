import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { findingsOf, newStack } from '../support';

describe('DeployInvariants-TaskOutlivesLambda', () => {
  test('passes a Task whose timeout is longer than its function\'s, fails one that is not or has none', () => {
    const stack = newStack();
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({})'),
      timeout: Duration.seconds(90),
    });
    const task = (id: string, timeout?: number) =>
      new tasks.LambdaInvoke(stack, id, {
        lambdaFunction: fn,
        payloadResponseOnly: true,
        ...(timeout !== undefined ? { taskTimeout: sfn.Timeout.duration(Duration.seconds(timeout)) } : {}),
      });
    new sfn.StateMachine(stack, 'GoodMachine', { definitionBody: sfn.DefinitionBody.fromChainable(task('Long', 120)) });
    new sfn.StateMachine(stack, 'ShortMachine', { definitionBody: sfn.DefinitionBody.fromChainable(task('Short', 60)) });
    new sfn.StateMachine(stack, 'UntimedMachine', { definitionBody: sfn.DefinitionBody.fromChainable(task('Untimed')) });
    expect(findingsOf(stack.node.root as any, 'TaskOutlivesLambda')).toEqual([
      'DeployInvariants-TaskOutlivesLambda @ Test/ShortMachine/Resource',
      'DeployInvariants-TaskOutlivesLambda @ Test/UntimedMachine/Resource',
    ]);
  });
});
