import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Stack } from 'aws-cdk-lib';
import { findingsOf, newApp, newStack } from '../support';

function composite(stack: Stack, children: number): void {
  const alarms = Array.from(
    { length: children },
    (_, i) => new cloudwatch.Alarm(stack, `A${i}`, { metric: new cloudwatch.Metric({ namespace: 'n', metricName: 'm' }), threshold: 1, evaluationPeriods: 1 }),
  );
  new cloudwatch.CompositeAlarm(stack, 'Composite', { alarmRule: cloudwatch.AlarmRule.anyOf(...alarms) });
}

describe('DeployInvariants-CompositeAlarmChildren', () => {
  test('passes a composite of 100 alarms', () => {
    const stack = newStack(newApp());
    composite(stack, 100);
    expect(findingsOf(stack.node.root as any, 'CompositeAlarmChildren')).toEqual([]);
  });

  test('fails a composite of 101 alarms (CloudWatch rejects it at deploy)', () => {
    const stack = newStack(newApp());
    composite(stack, 101);
    expect(findingsOf(stack.node.root as any, 'CompositeAlarmChildren')).toEqual(['DeployInvariants-CompositeAlarmChildren @ Test/Composite/Resource']);
  });
});
