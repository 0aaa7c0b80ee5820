import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface EnvironmentKeyProps {
  readonly description: string;
}

/**
 * A customer managed key with yearly rotation that CloudWatch Logs of this account and region
 * may also use, so log groups can be encrypted with it.
 */
export class EnvironmentKey extends kms.Key {
  constructor(scope: Construct, id: string, props: EnvironmentKeyProps) {
    super(scope, id, { description: props.description, enableKeyRotation: true });
    const { region, account, partition } = Stack.of(this);
    // CloudWatch Logs needs its service principal in the key policy, limited to this account's
    // log groups by encryption context.
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` },
        },
      }),
    );
  }
}
