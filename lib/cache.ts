import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { CacheConfig } from '../config';

export interface CacheProps {
  readonly vpc: ec2.IVpc;
  readonly config: CacheConfig;
  /** Key for data at rest and the AUTH token secret. */
  readonly encryptionKey: kms.IKey;
  /** Days of daily snapshots to keep. @default 15 */
  readonly snapshotRetentionDays?: number;
}

/**
 * A Valkey (Redis OSS compatible) replication group in isolated subnets with TLS, encryption at
 * rest and an AUTH token generated in Secrets Manager. Not the default port, so scans for 6379 miss it.
 */
export class Cache extends Construct implements ec2.IConnectable {
  static readonly PORT = 6380;
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  readonly authToken: secretsmanager.ISecret;
  readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    const { config: c, vpc, encryptionKey } = props;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'Cache: ingress only from the backend tasks',
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(Cache.PORT) });

    // ElastiCache AUTH tokens are 16-128 printable characters without @, " or /; letters and
    // digits only keeps the token safe in any client URL.
    // https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html
    this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: 'AUTH token of the cache replication group',
      encryptionKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    // AWS ships no rotation function for ElastiCache AUTH tokens; rotating needs
    // ModifyReplicationGroup with AuthTokenUpdateStrategy ROTATE and a client restart plan.
    // https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html#auth-modifyng-token
    Validations.of(this.authToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'No AWS-provided rotation exists for ElastiCache AUTH tokens; the token is 64 random characters, KMS-encrypted, read only by the backend execution roles',
    });

    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: 'Isolated subnets of the cache',
      subnetIds: vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
    });

    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: 'Sessions and catalogue cache',
      engine: 'valkey',
      engineVersion: c.engineVersion,
      cacheNodeType: c.nodeType,
      numCacheClusters: c.nodes,
      automaticFailoverEnabled: c.multiAz,
      multiAzEnabled: c.multiAz,
      port: Cache.PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      kmsKeyId: encryptionKey.keyId,
      // A dynamic reference: CloudFormation resolves it at deploy time, the template holds no token.
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 15,
      autoMinorVersionUpgrade: true,
    });
    if (!c.multiAz) {
      Validations.of(this.replicationGroup).acknowledge({
        id: 'AwsSolutions-AEC4',
        reason: 'Single node by config in dev; config validation requires Multi-AZ failover in staging and production',
      });
    }
  }

  get endpoint(): string {
    return this.replicationGroup.attrPrimaryEndPointAddress;
  }
}
