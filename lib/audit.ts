import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { addServiceStatementToKeyPolicy } from './encryption';

export interface AuditLogsProps {
  /**
   * Key for the trail, its bucket and its log group. Must be a key defined in this app (not
   * imported): CloudTrail's statements are added to its key policy.
   */
  readonly encryptionKey: kms.IKey;
  readonly retention: logs.RetentionDays;
  /** Whether log buckets and groups survive stack deletion. */
  readonly retain: boolean;
}

/**
 * Where the environment's evidence goes: a CloudTrail trail with log file validation (every
 * deployment and traffic change is an API call), S3 server access logs, and the ALB access log bucket.
 */
export class AuditLogs extends Construct {
  /** Receives S3 server access logs of the other buckets. */
  readonly serverAccessLogs: s3.Bucket;
  /** Receives the load balancer's access logs. */
  readonly loadBalancerLogs: s3.Bucket;
  readonly trail: cloudtrail.Trail;
  /** ARN of `trail`, known at synth (the trail has an explicit name). */
  readonly trailArn: string;

  constructor(scope: Construct, id: string, props: AuditLogsProps) {
    super(scope, id);
    const removal = props.retain
      ? { removalPolicy: RemovalPolicy.RETAIN }
      : { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true };
    // The buckets are versioned: expiring an object only adds a delete marker and keeps its versions (billed) forever
    // unless noncurrent versions expire too. A replaced or deleted log stays recoverable for one more retention period.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html
    const days = Duration.days(Math.max(props.retention, 1));
    const expiry = [{ expiration: days, noncurrentVersionExpiration: days }];
    const common = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: expiry,
      ...removal,
    };

    // Server access logs cannot be delivered to a KMS-encrypted bucket, and a log bucket logging
    // to itself loops. https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
    this.serverAccessLogs = new s3.Bucket(this, 'ServerAccessLogs', {
      ...common,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    });
    Validations.of(this.serverAccessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket itself; logging it to itself would loop',
    });
    Validations.of(this.serverAccessLogs).acknowledge({
      id: 'PCI.DSS.321-S3DefaultEncryptionKMS',
      reason: 'S3 server access log delivery supports SSE-S3 only; the bucket is encrypted with SSE-S3',
    });

    // ALB access logs support SSE-S3 only, not SSE-KMS.
    // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
    this.loadBalancerLogs = new s3.Bucket(this, 'LoadBalancerLogs', {
      ...common,
      encryption: s3.BucketEncryption.S3_MANAGED,
      serverAccessLogsBucket: this.serverAccessLogs,
      serverAccessLogsPrefix: 'alb-logs/',
    });
    Validations.of(this.loadBalancerLogs).acknowledge({
      id: 'PCI.DSS.321-S3DefaultEncryptionKMS',
      reason: 'ALB access log delivery supports SSE-S3 only; the bucket is encrypted with SSE-S3',
    });

    // No S3 Bucket Key: with one, S3 asks KMS for a bucket-level data key instead of the per-object
    // key CloudTrail requests under the trail's encryption context, and CloudTrail documents extra
    // kms:Decrypt requirements for such buckets; the key policy below admits CloudTrail only with
    // that context. CloudTrail delivers a few objects an hour, so the Bucket Key's savings are nil.
    // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
    const trailBucket = new s3.Bucket(this, 'TrailBucket', {
      ...common,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: false,
      serverAccessLogsBucket: this.serverAccessLogs,
      serverAccessLogsPrefix: 'trail/',
    });

    // An explicit name, so the key policy can name this trail's ARN without a dependency cycle
    // (the trail needs the key; the key policy would need the trail's generated name).
    const stack = Stack.of(this);
    const trailName = `${stack.stackName}-trail`;
    this.trailArn = stack.formatArn({ service: 'cloudtrail', resource: 'trail', resourceName: trailName });
    this.allowCloudTrail(props.encryptionKey);

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName,
      bucket: trailBucket,
      encryptionKey: props.encryptionKey,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: false,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: new logs.LogGroup(this, 'TrailLogs', {
        encryptionKey: props.encryptionKey,
        retention: props.retention,
        removalPolicy: removal.removalPolicy,
      }),
    });

    // Each environment lives in one region; integrity comes from versioning, TLS-only access and
    // CloudTrail log file validation. Cross-region copies are a disaster-recovery choice left to
    // the account's organization-level trail.
    Validations.of(this).acknowledge({
      id: 'PCI.DSS.321-S3BucketReplicationEnabled',
      reason: 'Single-region environment; log integrity is covered by versioning, TLS-only policies and CloudTrail file validation',
    });
  }

  /**
   * The key-policy statements CloudTrail needs to encrypt this trail's log and digest files:
   * GenerateDataKey* only under the encryption context of this account's trails, and DescribeKey;
   * both only on behalf of this trail (aws:SourceArn, AWS's recommended confused-deputy guard).
   * Without them CreateTrail fails with InsufficientEncryptionPolicyException and the stateful stack
   * rolls back. Reading the logs needs no statement here: the key policy lets this account's IAM
   * policies grant kms:Decrypt.
   * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
   * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/default-kms-key-policy.html
   */
  private allowCloudTrail(key: kms.IKey): void {
    const { partition, account } = Stack.of(this);
    const cloudtrailPrincipal = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    addServiceStatementToKeyPolicy(
      key,
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailToEncryptLogs',
        principals: [cloudtrailPrincipal],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceArn': this.trailArn },
          StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${partition}:cloudtrail:*:${account}:trail/*` },
        },
      }),
    );
    addServiceStatementToKeyPolicy(
      key,
      new iam.PolicyStatement({
        sid: 'AllowCloudTrailToDescribeKey',
        principals: [cloudtrailPrincipal],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceArn': this.trailArn } },
      }),
    );
  }
}
