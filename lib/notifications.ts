import { Stack } from 'aws-cdk-lib';
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

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `${props.environment} releases and alarms`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.allowCloudWatchAlarms(props.encryptionKey);
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
