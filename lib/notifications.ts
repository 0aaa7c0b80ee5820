import { Stack, Validations } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { addServiceStatementToKeyPolicy } from './encryption';

export interface NotificationsProps {
  readonly environment: string;
  /**
   * Key of the topic. Must be a key defined in this app (not imported): CloudWatch's statement is
   * added to its key policy.
   */
  readonly encryptionKey: kms.IKey;
  /** Subscribed by email. @default - no subscription */
  readonly email?: string;
  /**
   * A Slack channel of a workspace authorized in this account's Chatbot console, which receives the topic through
   * Amazon Q Developer in chat applications (AWS Chatbot). @default - no Slack channel
   */
  readonly slack?: { readonly workspaceId: string; readonly channelId: string };
}

/**
 * The environment's one notification topic: releases, rollbacks and operations alarms.
 *
 * Publishers and what lets each of them use the encrypted topic:
 * - CloudWatch alarm actions: the statements below, in the key policy and the topic policy.
 * - Lambda functions (release, rollback, including the rollback function's async-invoke
 *   onFailure destination, which publishes with the function's role): `topic.grantPublish`,
 *   which grants sns:Publish and kms:Decrypt plus kms:GenerateDataKey* on the key to the role.
 * - EventBridge: no rule targets this topic. One that does needs `events.amazonaws.com` in the key
 *   policy without aws:SourceArn/SourceAccount conditions, which EventBridge's KMS calls do not carry
 *   (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services);
 *   a test fails when a rule starts targeting the topic.
 */
export class Notifications extends Construct {
  readonly topic: sns.Topic;
  /** The Slack channel's Chatbot configuration, where `slack` is given. */
  readonly slackChannel?: chatbot.SlackChannelConfiguration;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${props.environment} releases and alarms`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.allowCloudWatchAlarms(props.encryptionKey);
    if (props.slack) this.slackChannel = this.addSlackChannel(props.slack);
  }

  /**
   * Amazon Q Developer in chat applications (AWS Chatbot) subscribes to the topic and posts every message to the
   * channel: CloudWatch alarm notifications as it renders them, and the release and rollback notifications, which are
   * published in its custom-notification format (lambda/shared/headline.ts). SNS decrypts each message itself before it
   * delivers it, so the subscriber needs nothing in the key policy; the publishers do (CloudWatch above, the Lambda roles
   * by grantPublish), which the deploy-invariant rule ChatbotChannel checks for the topic's key.
   * https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
   *
   * The channel role and its guardrail are the same minimal policy: reading the alarms and metric images Chatbot shows
   * with an alarm notification. Without `GuardrailPolicies`, AdministratorAccess would bound what the channel may do,
   * and the ReadOnlyAccess of the docs' examples would let anyone in the channel read every resource of the account.
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-chatbot-slackchannelconfiguration.html
   */
  private addSlackChannel(slack: NonNullable<NotificationsProps['slack']>): chatbot.SlackChannelConfiguration {
    const stack = Stack.of(this);
    const readAlarms = new iam.ManagedPolicy(this, 'ChatbotPolicy', {
      description: 'Chatbot channel of the notification topic: read the alarms and metric images of its notifications',
      statements: [
        new iam.PolicyStatement({
          actions: ['cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData', 'cloudwatch:GetMetricWidgetImage'],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(readAlarms).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:GetMetricData and GetMetricWidgetImage support no resource-level permissions; DescribeAlarms is read-only. The policy is also the channel\'s guardrail',
    });
    const role = new iam.Role(this, 'ChatbotRole', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: 'Chatbot channel of the notification topic (notifications only)',
      managedPolicies: [readAlarms],
    });
    return new chatbot.SlackChannelConfiguration(this, 'SlackChannel', {
      // CloudFormation requires the name; Chatbot names are unique per account across regions.
      slackChannelConfigurationName: `${stack.stackName}-${stack.region}`,
      slackWorkspaceId: slack.workspaceId,
      slackChannelId: slack.channelId,
      notificationTopics: [this.topic],
      role,
      guardrailPolicies: [readAlarms],
    });
  }

  /**
   * CloudWatch alarms publish to an encrypted topic only if the key policy lets
   * `cloudwatch.amazonaws.com` use the key (kms:Decrypt, kms:GenerateDataKey*); otherwise every
   * alarm action fails and the only trace is in the alarm's history. The topic policy that
   * `enforceSSL` creates replaces SNS's default access policy, so CloudWatch also needs sns:Publish
   * there. Both are limited to alarms of this account and region.
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
   * https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
   * https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
   */
  private allowCloudWatchAlarms(key: kms.IKey): void {
    const { partition, region, account } = Stack.of(this);
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const conditions = {
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
    };
    addServiceStatementToKeyPolicy(
      key,
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseKey',
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions,
      }),
    );
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions,
      }),
    );
  }
}
