import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { explain } from '../explain';
import { modelOf } from '../model';

/**
 * A composite alarm's rule may reference at most 100 alarms ("children").
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
 */
export const COMPOSITE_ALARM_CHILDREN_LIMIT = 100;

/** The alarm functions of a rule expression: ALARM(…), OK(…), INSUFFICIENT_DATA(…). */
const CHILD = /\b(?:ALARM|OK|INSUFFICIENT_DATA)\(/g;

/** A composite alarm's rule references at most 100 alarms (each rollback composite gains six per service). */
export function CompositeAlarmChildren(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::CloudWatch::CompositeAlarm') return NagRuleCompliance.NOT_APPLICABLE;
  const rule = modelOf(node).resourceOf(node)?.Properties?.AlarmRule;
  if (rule === undefined) return NagRuleCompliance.COMPLIANT;
  // The rule is a string or an Fn::Join of strings and alarm ARNs: its literal parts hold every function name.
  const children = (JSON.stringify(rule).match(CHILD) ?? []).length;
  if (children <= COMPOSITE_ALARM_CHILDREN_LIMIT) return NagRuleCompliance.COMPLIANT;
  explain(node, 'CompositeAlarmChildren', `alarm rule references ${children} alarms > ${COMPOSITE_ALARM_CHILDREN_LIMIT}`);
  return NagRuleCompliance.NON_COMPLIANT;
}
