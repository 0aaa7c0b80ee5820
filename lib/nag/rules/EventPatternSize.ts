import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { jsonLength } from '../estimate';
import { explain } from '../explain';
import { modelOf } from '../model';

/**
 * EventBridge's default quota on an event pattern: 2,048 characters.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
 */
export const EVENT_PATTERN_LIMIT = 2048;

/** An EventBridge rule's event pattern fits the quota at the longest values its references can resolve to. */
export function EventPatternSize(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::Events::Rule') return NagRuleCompliance.NOT_APPLICABLE;
  const model = modelOf(node);
  const pattern = model.resourceOf(node)?.Properties?.EventPattern;
  if (pattern === undefined) return NagRuleCompliance.COMPLIANT;
  // The template may hold the pattern as a JSON string or as an object; EventBridge counts the JSON.
  const size = typeof pattern === 'string' ? Buffer.byteLength(pattern) : jsonLength(pattern, model);
  if (size <= EVENT_PATTERN_LIMIT) return NagRuleCompliance.COMPLIANT;
  explain(node, 'EventPatternSize', `event pattern up to ${size} characters > ${EVENT_PATTERN_LIMIT}`);
  return NagRuleCompliance.NON_COMPLIANT;
}
