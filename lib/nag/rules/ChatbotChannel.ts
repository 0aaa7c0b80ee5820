import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { explain } from '../explain';
import { keysOf } from '../kms';
import { modelOf, referencedOfType } from '../model';

/**
 * A Chatbot configuration's name: 1 to 128 letters, digits, `-` and `_`.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-chatbot-slackchannelconfiguration.html
 */
const CONFIGURATION_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * An Amazon Q Developer in chat applications (AWS Chatbot) channel deploys and delivers:
 * - `guardrails`: it names guardrail policies, none of them AdministratorAccess: without any, CloudFormation applies
 *   AdministratorAccess as the channel's guardrail (the property's documented default);
 * - `name`: its configuration name is 1 to 128 letters, digits, `-`, `_` (a token is checked at deploy only);
 * - `topic-key`: every topic of the app it receives is unencrypted or encrypted with a customer-managed key of the app.
 *   A topic under the AWS managed key `alias/aws/sns` receives nothing from CloudWatch alarms (its key policy cannot
 *   allow cloudwatch.amazonaws.com), so the channel stays silent; a customer-managed key's policy is then checked by
 *   KmsKeyServicePrincipals. https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 */
export function ChatbotChannel(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::Chatbot::SlackChannelConfiguration' && node.cfnResourceType !== 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration') {
    return NagRuleCompliance.NOT_APPLICABLE;
  }
  const model = modelOf(node);
  const p = model.resourceOf(node)?.Properties ?? {};
  const findings: string[] = [];
  const guardrails: unknown[] = Array.isArray(p.GuardrailPolicies) ? p.GuardrailPolicies : [];
  if (guardrails.length === 0 || guardrails.some((g) => /:policy\/AdministratorAccess"/.test(JSON.stringify(g)))) {
    explain(node, 'ChatbotChannel', guardrails.length === 0 ? 'no GuardrailPolicies: AdministratorAccess applies' : 'AdministratorAccess is a guardrail', 'guardrails');
    findings.push('guardrails');
  }
  if (typeof p.ConfigurationName === 'string' && !CONFIGURATION_NAME.test(p.ConfigurationName)) {
    explain(node, 'ChatbotChannel', `configuration name '${p.ConfigurationName}' is not 1-128 letters, digits, '-', '_'`, 'name');
    findings.push('name');
  }
  for (const topic of referencedOfType(p.SnsTopicArns, model, 'AWS::SNS::Topic')) {
    const keyId = topic.model.resource(topic.logicalId)?.Properties?.KmsMasterKeyId;
    if (keyId === undefined || keysOf(keyId, topic.model).length > 0) continue;
    explain(node, 'ChatbotChannel', `topic ${topic.model.pathOf(topic.logicalId)} is encrypted with ${JSON.stringify(keyId)}, not a customer-managed key of the app`, 'topic-key');
    if (!findings.includes('topic-key')) findings.push('topic-key');
  }
  return findings.length === 0 ? NagRuleCompliance.COMPLIANT : findings;
}
