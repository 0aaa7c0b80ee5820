import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface AuditLogsProps {
  /** Key for the trail, its bucket and its log group. */
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

  constructor(scope: Construct, id: string, props: AuditLogsProps) {
    super(scope, id);
    const removal = props.retain
      ? { removalPolicy: RemovalPolicy.RETAIN }
      : { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true };
    const expiry = [{ expiration: Duration.days(Math.max(props.retention, 1)) }];
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

    const trailBucket = new s3.Bucket(this, 'TrailBucket', {
      ...common,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.serverAccessLogs,
      serverAccessLogsPrefix: 'trail/',
    });
    this.trail = new cloudtrail.Trail(this, 'Trail', {
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
}
