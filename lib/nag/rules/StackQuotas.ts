import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { explain } from '../explain';
import { modelOf } from '../model';

/**
 * CloudFormation quotas per stack: 500 resources, 200 outputs, a 1 MB template (uploaded through S3, as the CDK
 * does; counted as 1,000,000 bytes, as the CDK's own template-size warning does).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 */
export const STACK_QUOTAS = { Resources: 500, Outputs: 200, TemplateBytes: 1_000_000 } as const;

/**
 * A finding from 90 % of a quota: past it, the next feature (a new service, another alarm per color) fails at
 * deploy time, and splitting a stack that holds stateful resources takes planning, not a hotfix.
 */
export const STACK_QUOTA_MARGIN = 0.9;

/**
 * The stack's resources, outputs and template size stay within 90 % of CloudFormation's quotas. Checked once per
 * stack: reported on the stack's first resource (an acknowledgment on the stack covers it).
 */
export function StackQuotas(node: CfnResource): NagRuleResult {
  const model = modelOf(node);
  const first = model.app.memo(`first-resource:${model.stack.node.path}`, () =>
    model.stack.node.findAll().find((c) => CfnResource.isCfnResource(c) && modelOf(c) === model),
  );
  if (first !== node) return NagRuleCompliance.NOT_APPLICABLE;
  const usage = {
    Resources: Object.keys(model.template.Resources ?? {}).length,
    Outputs: Object.keys(model.template.Outputs ?? {}).length,
    TemplateBytes: model.templateBytes,
  };
  const findings: string[] = [];
  for (const [quota, limit] of Object.entries(STACK_QUOTAS) as [keyof typeof STACK_QUOTAS, number][]) {
    const used = usage[quota];
    if (used <= limit * STACK_QUOTA_MARGIN) continue;
    findings.push(quota);
    const left = limit - used;
    explain(
      node,
      'StackQuotas',
      `${model.stackName}: ${quota} ${used} of ${limit} (${Math.round((used / limit) * 100)} %; ${left >= 0 ? `${left} left, under the 10 % margin` : `${-left} over the quota`})`,
      quota,
    );
  }
  return findings.length ? findings : NagRuleCompliance.COMPLIANT;
}
