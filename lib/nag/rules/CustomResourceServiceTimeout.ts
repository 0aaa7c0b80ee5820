import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { modelOf } from '../model';

/**
 * Every custom resource sets ServiceTimeout. Without it CloudFormation waits up to one hour for a response that a
 * crashed or mis-wired provider never sends, and the stack operation (and its rollback) hangs that long.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html
 */
export function CustomResourceServiceTimeout(node: CfnResource): NagRuleResult {
  const type = node.cfnResourceType;
  if (type !== 'AWS::CloudFormation::CustomResource' && !type.startsWith('Custom::')) return NagRuleCompliance.NOT_APPLICABLE;
  const properties = modelOf(node).resourceOf(node)?.Properties ?? {};
  return properties.ServiceTimeout === undefined ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
}
