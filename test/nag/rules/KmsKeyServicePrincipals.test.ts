import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Stack } from 'aws-cdk-lib';
import { findings, findingsOf, newApp, newStack } from '../support';

const allow = (key: kms.Key, service: string, actions: string[]) =>
  key.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal(service)], actions, resources: ['*'] }));

function trail(stack: Stack, key: kms.IKey) {
  new cloudtrail.CfnTrail(stack, 'Trail', { isLogging: true, s3BucketName: 'audit-bucket', kmsKeyId: key.keyArn });
}

function alarmTo(stack: Stack, topic: sns.ITopic) {
  new cloudwatch.CfnAlarm(stack, 'Alarm', {
    comparisonOperator: 'GreaterThanThreshold', evaluationPeriods: 1, metricName: 'm', namespace: 'n', period: 60, statistic: 'Sum', threshold: 1,
    alarmActions: [topic.topicArn],
  });
}

describe('DeployInvariants-KmsKeyServicePrincipals', () => {
  test('fails a trail\'s key whose policy does not allow CloudTrail, passes it once allowed', () => {
    const stack = newStack();
    trail(stack, new kms.Key(stack, 'Key'));
    const found = findings(stack.node.root as any).filter((f) => f.id.includes('KmsKeyServicePrincipals'));
    expect(found.map((f) => `${f.id} @ ${f.path}`)).toEqual([
      'DeployInvariants-KmsKeyServicePrincipals[cloudtrail.amazonaws.com:kms:GenerateDataKey*] @ Test/Key/Resource',
    ]);
    expect(found[0].description).toMatch(/\n  the key policy does not allow cloudtrail\.amazonaws\.com kms:GenerateDataKey\*, used for Test\/Trail/);

    const fixed = newStack();
    const key = new kms.Key(fixed, 'Key');
    allow(key, 'cloudtrail.amazonaws.com', ['kms:GenerateDataKey*']);
    trail(fixed, key);
    expect(findingsOf(fixed.node.root as any, 'KmsKeyServicePrincipals')).toEqual([]);
  });

  test('fails the key of a topic that alarms publish to, across stacks, until CloudWatch may Decrypt and GenerateDataKey', () => {
    const app = newApp();
    const keys = newStack(app, 'Keys');
    const key = new kms.Key(keys, 'Key');
    const topic = new sns.Topic(keys, 'Topic', { masterKey: key });
    alarmTo(newStack(app, 'Alarms'), topic);
    expect(findingsOf(app, 'KmsKeyServicePrincipals')).toEqual([
      'DeployInvariants-KmsKeyServicePrincipals[cloudwatch.amazonaws.com:kms:Decrypt] @ Keys/Key/Resource',
      'DeployInvariants-KmsKeyServicePrincipals[cloudwatch.amazonaws.com:kms:GenerateDataKey*] @ Keys/Key/Resource',
    ]);

    const fixedApp = newApp();
    const fixedKeys = newStack(fixedApp, 'Keys');
    const fixedKey = new kms.Key(fixedKeys, 'Key');
    allow(fixedKey, 'cloudwatch.amazonaws.com', ['kms:Decrypt', 'kms:GenerateDataKey*']);
    alarmTo(newStack(fixedApp, 'Alarms'), new sns.Topic(fixedKeys, 'Topic', { masterKey: fixedKey }));
    expect(findingsOf(fixedApp, 'KmsKeyServicePrincipals')).toEqual([]);
  });

  test('fails the key of a topic an EventBridge rule targets until events.amazonaws.com is allowed', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const topic = new sns.Topic(stack, 'Topic', { masterKey: key });
    new events.CfnRule(stack, 'Rule', { eventPattern: { source: ['aws.ec2'] }, targets: [{ id: 'T', arn: topic.topicArn }] });
    expect(findingsOf(stack.node.root as any, 'KmsKeyServicePrincipals')).toEqual([
      'DeployInvariants-KmsKeyServicePrincipals[events.amazonaws.com:kms:Decrypt] @ Test/Key/Resource',
      'DeployInvariants-KmsKeyServicePrincipals[events.amazonaws.com:kms:GenerateDataKey*] @ Test/Key/Resource',
    ]);
  });

  test('a log group\'s key must allow logs.<region>.amazonaws.com (CDK does not add it)', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    new logs.LogGroup(stack, 'Logs', { encryptionKey: key });
    expect(findingsOf(stack.node.root as any, 'KmsKeyServicePrincipals')).toEqual(
      ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'].map(
        (a) => `DeployInvariants-KmsKeyServicePrincipals[logs.us-east-1.amazonaws.com:${a}] @ Test/Key/Resource`,
      ),
    );

    const fixed = newStack();
    const fixedKey = new kms.Key(fixed, 'Key');
    allow(fixedKey, 'logs.us-east-1.amazonaws.com', ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*']);
    new logs.LogGroup(fixed, 'Logs', { encryptionKey: fixedKey });
    expect(findingsOf(fixed.node.root as any, 'KmsKeyServicePrincipals')).toEqual([]);
  });
});
