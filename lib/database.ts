import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DatabaseConfig } from '../config';
import { DatabaseUsers, MASTER_USERNAME } from './database-users';

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  readonly config: DatabaseConfig;
  /** Key for storage, Performance Insights and the credentials secrets. */
  readonly encryptionKey: kms.IKey;
  /** Retention of the log groups RDS exports to (postgresql, upgrade) and of the users bootstrap's logs. */
  readonly logRetention: logs.RetentionDays;
}

/** Construct ID of the stack-wide Lambda behind `Custom::LogRetention` (aws-cdk-lib/aws-logs LogRetention). */
const LOG_RETENTION_FUNCTION_ID = 'LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a';

/** Not 5432, so scans for the default port miss it; clients read DATABASE_PORT. */
export const POSTGRES_PORT = 5433;

/**
 * RDS PostgreSQL in isolated subnets: KMS-encrypted, SSL enforced, optional Multi-AZ and read replicas.
 * Reachable only by what `connections` allows. Three users with rotated credentials (`DatabaseUsers`):
 * the application connects as `appSecret`, migrations as `ownerSecret`, nothing as the master.
 */
export class Database extends Construct implements ec2.IConnectable {
  readonly primary: rds.DatabaseInstance;
  readonly replicas: rds.DatabaseInstanceReadReplica[] = [];
  /** The master user's credentials: for the rotation functions and the users bootstrap only. */
  readonly masterSecret: secretsmanager.ISecret;
  /** The application's credentials (alternating users): what the backend tasks get. */
  readonly appSecret: secretsmanager.ISecret;
  /** The schema owner's credentials: what migrations get. */
  readonly ownerSecret: secretsmanager.ISecret;
  readonly users: DatabaseUsers;
  readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { config: c, vpc, encryptionKey } = props;
    const engine = rds.DatabaseInstanceEngine.postgres({
      version: rds.PostgresEngineVersion.of(c.engineVersion, c.engineVersion.split('.')[0]),
    });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'Enforces TLS for every client connection',
      parameters: { 'rds.force_ssl': '1' },
    });
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'PostgreSQL: ingress only from the backend tasks',
      allowAllOutbound: false,
    });
    const instanceType = new ec2.InstanceType(c.instanceType);
    const monitoringInterval = c.enhancedMonitoringSeconds > 0 ? Duration.seconds(c.enhancedMonitoringSeconds) : undefined;
    const common = {
      instanceType,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      port: POSTGRES_PORT,
      parameterGroup,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: encryptionKey,
      monitoringInterval,
      autoMinorVersionUpgrade: true,
      deletionProtection: c.protectData,
      removalPolicy: c.protectData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      // RDS creates the export log groups without retention (kept forever); CDK sets it through a
      // Custom::LogRetention resource per group. Its one Lambda per stack creates its own log group with a
      // 1-day retention on Create (neither group is KMS-encrypted: RDS and that handler create them).
      // https://github.com/aws/aws-cdk/blob/main/packages/@aws-cdk/custom-resource-handlers/lib/aws-logs/log-retention-handler/index.ts
      cloudwatchLogsRetention: props.logRetention,
    };

    this.primary = new rds.DatabaseInstance(this, 'Primary', {
      ...common,
      engine,
      databaseName: c.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME, { encryptionKey }),
      storageEncrypted: true,
      storageEncryptionKey: encryptionKey,
      storageType: rds.StorageType.GP3,
      allocatedStorage: c.allocatedStorageGiB,
      maxAllocatedStorage: c.maxAllocatedStorageGiB,
      multiAz: c.multiAz,
      backupRetention: Duration.days(c.backupRetentionDays),
      copyTagsToSnapshot: true,
    });
    this.masterSecret = this.primary.secret!;
    // A literal port, so security group rules (and cdk-nag's port rules) see 5433, not a token.
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(POSTGRES_PORT) });
    if (!c.multiAz) {
      Validations.of(this.primary).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason: 'Single-AZ by config in dev and staging to halve cost; config validation requires Multi-AZ in production',
      });
    }
    if (!c.protectData) {
      Validations.of(this.primary).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: 'Dev holds disposable sample data (deployment plan: "PostgreSQL with sample data"); staging and production must protect data',
      });
    }
    if (monitoringInterval) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
        reason: 'The AWS managed policy RDS documents for enhanced monitoring; it only allows writing to the RDSOSMetrics log group',
      });
    }

    // The one Custom::LogRetention Lambda CDK adds per stack (`cloudwatchLogsRetention` above): RDS names
    // the export log groups after the instance, so they exist only once RDS creates them and their
    // retention can only be set afterwards. Its handler also gives its own log group a 1-day retention.
    const logRetention = Stack.of(this).node.tryFindChild(LOG_RETENTION_FUNCTION_ID);
    if (logRetention) {
      Validations.of(logRetention).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "CDK's log retention function, which sets retention on the log groups RDS creates for its exports; AWSLambdaBasicExecutionRole only lets it write its own logs",
      });
      Validations.of(logRetention).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'CDK adds logs:PutRetentionPolicy and logs:DeleteRetentionPolicy on * to this function itself; it only changes retention of log groups',
      });
    }

    this.users = new DatabaseUsers(this, 'Users', {
      instance: this.primary,
      masterSecret: this.masterSecret,
      connections: this.connections,
      databaseName: c.databaseName,
      vpc,
      encryptionKey,
      logRetention: props.logRetention,
      rotationInterval: Duration.days(c.credentialRotationDays),
    });
    this.appSecret = this.users.appSecret;
    this.ownerSecret = this.users.ownerSecret;

    const azs = vpc.availabilityZones;
    for (let i = 1; i <= c.readReplicas; i++) {
      // A same-region replica inherits the source's encryption and key; CloudFormation rejects
      // StorageEncrypted next to SourceDBInstanceIdentifier, so no key is passed here.
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html#Overview.Encryption.Limitations
      const replica = new rds.DatabaseInstanceReadReplica(this, `Replica${i}`, {
        ...common,
        sourceDatabaseInstance: this.primary,
        availabilityZone: azs[i % azs.length],
        // CDK's replica default is gp2 (300 IOPS baseline at 100 GiB) while the primary is gp3 (3,000): a replica that
        // cannot keep up with the primary's writes lags. https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html
        storageType: rds.StorageType.GP3,
      });
      for (const [rule, reason] of [
        ['AwsSolutions-RDS3', 'Read replicas are spread one per AZ; losing one degrades read capacity only and the Multi-AZ primary holds the data'],
        ['AwsSolutions-RDS11', `The replica listens on ${POSTGRES_PORT}; the rule reads the engine, which a replica inherits from its source instead of declaring`],
        ['AwsSolutions-RDS2', 'A same-region replica inherits the encryption and KMS key of its encrypted source; the property is not allowed on replicas'],
        ['PCI.DSS.321-RDSStorageEncrypted', 'A same-region replica inherits the encryption and KMS key of its encrypted source; the property is not allowed on replicas'],
      ]) {
        Validations.of(replica).acknowledge({ id: rule, reason });
      }
      this.replicas.push(replica);
    }
  }

  /** Host names of the read replicas, comma separated; empty without replicas. */
  get readEndpoints(): string {
    return this.replicas.map((r) => r.dbInstanceEndpointAddress).join(',');
  }
}
