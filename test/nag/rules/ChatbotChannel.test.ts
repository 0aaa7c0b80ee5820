import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Stack } from 'aws-cdk-lib';
import { findingsOf, newApp, newStack } from '../support';
import { Notifications } from '../../../lib/notifications';

const SLACK = { slackWorkspaceId: 'T012AB3C4D5', slackChannelId: 'C0123ABCDEF' };

function channel(stack: Stack, props: Partial<chatbot.SlackChannelConfigurationProps> & { topic?: sns.ITopic } = {}): void {
  const { topic, ...rest } = props;
  new chatbot.SlackChannelConfiguration(stack, 'Channel', {
    slackChannelConfigurationName: 'ops',
    ...SLACK,
    notificationTopics: topic ? [topic] : [],
    guardrailPolicies: [new iam.ManagedPolicy(stack, 'Guardrail', { statements: [new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] })] })],
    ...rest,
  });
}

describe('DeployInvariants-ChatbotChannel', () => {
  test('passes the notification topic\'s channel (customer-managed key, minimal guardrail)', () => {
    const stack = newStack(newApp());
    new Notifications(stack, 'Notifications', { environment: 'test', encryptionKey: new kms.Key(stack, 'Key'), slack: { workspaceId: 'T012AB3C4D5', channelId: 'C0123ABCDEF' } });
    expect(findingsOf(stack.node.root as any, 'ChatbotChannel')).toEqual([]);
  });

  test('fails a channel without guardrail policies (CloudFormation applies AdministratorAccess)', () => {
    const stack = newStack(newApp());
    channel(stack, { guardrailPolicies: [] });
    expect(findingsOf(stack.node.root as any, 'ChatbotChannel')).toEqual(['DeployInvariants-ChatbotChannel[guardrails] @ Test/Channel/Resource']);
  });

  test('fails a channel whose guardrail is AdministratorAccess', () => {
    const stack = newStack(newApp());
    channel(stack, { guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess')] });
    expect(findingsOf(stack.node.root as any, 'ChatbotChannel')).toEqual(['DeployInvariants-ChatbotChannel[guardrails] @ Test/Channel/Resource']);
  });

  test('fails a configuration name Chatbot rejects', () => {
    const stack = newStack(newApp());
    channel(stack, { slackChannelConfigurationName: 'releases and alarms' });
    expect(findingsOf(stack.node.root as any, 'ChatbotChannel')).toEqual(['DeployInvariants-ChatbotChannel[name] @ Test/Channel/Resource']);
  });

  test('fails a topic under the AWS managed key, which CloudWatch alarms cannot publish to', () => {
    const stack = newStack(newApp());
    const topic = new sns.Topic(stack, 'Topic', { masterKey: kms.Alias.fromAliasName(stack, 'AwsSns', 'alias/aws/sns') });
    channel(stack, { topic });
    expect(findingsOf(stack.node.root as any, 'ChatbotChannel')).toEqual(['DeployInvariants-ChatbotChannel[topic-key] @ Test/Channel/Resource']);
  });
});
