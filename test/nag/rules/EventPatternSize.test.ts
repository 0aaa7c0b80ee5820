import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type { Stack } from 'aws-cdk-lib';
import { findingsOf, newApp, newStack } from '../support';

/** CloudFormation names an alarm `<stackName>-<logicalId>-<13 chars>`: with this stack name, ~190-character ARNs. */
const LONG_STACK_NAME = 'S'.repeat(120);

function alarmArns(stack: Stack, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    new cloudwatch.CfnAlarm(stack, `A${i}`, { comparisonOperator: 'GreaterThanThreshold', evaluationPeriods: 1, metricName: 'm', namespace: 'n', period: 60, statistic: 'Sum', threshold: 1 }).attrArn,
  );
}

describe('DeployInvariants-EventPatternSize', () => {
  test('passes a pattern within 2,048 characters at its longest', () => {
    const stack = newStack(newApp(), LONG_STACK_NAME);
    new events.CfnRule(stack, 'Rule', { eventPattern: { source: ['aws.cloudwatch'], resources: alarmArns(stack, 9) } });
    expect(findingsOf(stack.node.root as any, 'EventPatternSize')).toEqual([]);
  });

  test('fails a pattern that lists alarm ARNs at their generated length (the rollback rule\'s shape)', () => {
    const stack = newStack(newApp(), LONG_STACK_NAME);
    new events.CfnRule(stack, 'Rule', { eventPattern: { source: ['aws.cloudwatch'], resources: alarmArns(stack, 12) } });
    expect(findingsOf(stack.node.root as any, 'EventPatternSize')).toEqual([`DeployInvariants-EventPatternSize @ ${LONG_STACK_NAME}/Rule`]);
  });
});
