/** The notification topic's Slack channel (lib/notifications.ts, config `monitoring.slack`), on its own. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Notifications } from '../../lib/notifications';
import { TEST_CONTEXT } from '../cdk/support';

function build(slack?: { workspaceId: string; channelId: string }): Template {
  const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Prod-Stateless', { env: { account: '123456789012', region: 'eu-west-1' } });
  new Notifications(stack, 'Notifications', { environment: 'prod', encryptionKey: new kms.Key(stack, 'Key'), slack });
  return Template.fromStack(stack);
}

describe('Notifications with a Slack channel', () => {
  const t = build({ workspaceId: 'T012AB3C4D5', channelId: 'C0123ABCDEF' });
  const policyId = Object.keys(t.findResources('AWS::IAM::ManagedPolicy'))[0];

  test('subscribes the channel to the topic, named after its stack and region', () => {
    t.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      ConfigurationName: 'Prod-Stateless-eu-west-1',
      SlackWorkspaceId: 'T012AB3C4D5',
      SlackChannelId: 'C0123ABCDEF',
      SnsTopicArns: [{ Ref: Match.stringLikeRegexp('NotificationsTopic') }],
    });
  });

  test('bounds the channel by one minimal policy, its role\'s and its guardrail (never AdministratorAccess)', () => {
    t.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData', 'cloudwatch:GetMetricWidgetImage'], Resource: '*' }] },
    });
    t.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', { GuardrailPolicies: [{ Ref: policyId }] });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'chatbot.amazonaws.com' } })] },
      ManagedPolicyArns: [{ Ref: policyId }],
    });
    expect(Object.keys(t.findResources('AWS::IAM::Policy'))).toEqual([]);
  });
});

test('Notifications without a Slack channel create no Chatbot configuration and no role', () => {
  const t = build();
  t.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
  t.resourceCountIs('AWS::IAM::Role', 0);
});
