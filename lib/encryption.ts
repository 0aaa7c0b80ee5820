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
 *
 * Other AWS services that must use the key (CloudTrail for the trail, CloudWatch alarms for an
 * encrypted topic) get their statements from the construct that creates the trail or topic,
 * through `addServiceStatementToKeyPolicy`, so whoever encrypts something with the key also
 * makes the key usable for it.
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

/**
 * Adds a statement for an AWS service principal to a key's policy, and fails synth when the key
 * has no policy here to add to (a key imported with `Key.fromKeyArn`). A service principal cannot
 * be granted through IAM: without the key-policy statement the service's calls to KMS are denied
 * at run time (CloudTrail fails CreateTrail, CloudWatch drops alarm notifications silently).
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-services.html
 */
export function addServiceStatementToKeyPolicy(key: kms.IKey, statement: iam.PolicyStatement): void {
  // allowNoOp=false: an imported key throws instead of silently dropping the statement.
  key.addToResourcePolicy(statement, false);
}
