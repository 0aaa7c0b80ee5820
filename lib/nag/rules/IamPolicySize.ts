import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { renderString } from '../estimate';
import { explain } from '../explain';
import { inlinePoliciesOf } from '../iam';
import { modelOf, type StackModel } from '../model';

/**
 * IAM quotas: a role's inline policies together ≤ 10,240 characters, a managed policy ≤ 6,144 characters;
 * IAM does not count whitespace. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 */
export const ROLE_INLINE_POLICIES_LIMIT = 10240;
export const MANAGED_POLICY_LIMIT = 6144;

/** Size of a policy document as IAM counts it, at the longest values its references can resolve to. */
export function policySize(document: unknown, model: StackModel): number {
  return renderString(document, model).replace(/\s/g, '').length;
}

/**
 * A role's inline policies (its own and every AWS::IAM::Policy attached to it: CDK puts grants there) fit the
 * aggregate quota; a managed policy fits its own. IAM rejects the policy at deploy time otherwise.
 */
export function IamPolicySize(node: CfnResource): NagRuleResult {
  const type = node.cfnResourceType;
  if (type !== 'AWS::IAM::Role' && type !== 'AWS::IAM::ManagedPolicy') return NagRuleCompliance.NOT_APPLICABLE;
  const model = modelOf(node);
  const logicalId = model.logicalIdOf(node);
  if (type === 'AWS::IAM::ManagedPolicy') {
    const size = policySize(model.resource(logicalId)?.Properties?.PolicyDocument ?? {}, model);
    if (size <= MANAGED_POLICY_LIMIT) return NagRuleCompliance.COMPLIANT;
    explain(node, 'IamPolicySize', `managed policy up to ${size} characters > ${MANAGED_POLICY_LIMIT}`, 'ManagedPolicy');
    return ['ManagedPolicy'];
  }
  const policies = inlinePoliciesOf({ model, logicalId });
  const size = policies.reduce((sum, p) => sum + policySize(p.document ?? {}, p.model), 0);
  if (size <= ROLE_INLINE_POLICIES_LIMIT) return NagRuleCompliance.COMPLIANT;
  explain(node, 'IamPolicySize', `inline policies up to ${size} characters > ${ROLE_INLINE_POLICIES_LIMIT} (${policies.length} policies)`, 'InlinePolicies');
  return ['InlinePolicies'];
}
