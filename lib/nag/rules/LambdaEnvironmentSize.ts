import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { jsonLength } from '../estimate';
import { explain } from '../explain';
import { modelOf } from '../model';

/** Lambda's quota on a function's environment: 4 KB. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const LAMBDA_ENVIRONMENT_LIMIT = 4096;

/**
 * A Lambda function's environment (keys and values, counted as Lambda counts them: the JSON of the Variables map)
 * fits in 4 KB at the LONGEST values its references can resolve to (estimate.ts). Lambda rejects the function at
 * deploy time otherwise; no emulator checks it.
 */
export function LambdaEnvironmentSize(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::Lambda::Function') return NagRuleCompliance.NOT_APPLICABLE;
  const model = modelOf(node);
  const variables = model.resourceOf(node)?.Properties?.Environment?.Variables;
  if (variables === undefined) return NagRuleCompliance.COMPLIANT;
  const size = jsonLength(variables, model);
  if (size <= LAMBDA_ENVIRONMENT_LIMIT) return NagRuleCompliance.COMPLIANT;
  explain(node, 'LambdaEnvironmentSize', `environment up to ${size} bytes > ${LAMBDA_ENVIRONMENT_LIMIT}`);
  return NagRuleCompliance.NON_COMPLIANT;
}
