import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DatabaseConfig } from '../config';

export interface DatabaseProps {
  readonly vpc: ec2.IVpc;
  readonly config: DatabaseConfig;
  /** Key for storage, Performance Insights and the credentials secret. */
  readonly encryptionKey: kms.IKey;
}

/** Not 5432, so scans for the default port miss it; clients read DATABASE_PORT. */
export const POSTGRES_PORT = 5433;

/**
 * RDS PostgreSQL in isolated subnets: KMS-encrypted, SSL enforced, credentials in Secrets Manager
 * with rotation, optional Multi-AZ and read replicas. Reachable only by what `connections` allows.
 */
export class Database extends Construct implements ec2.IConnectable {
  readonly primary: rds.DatabaseInstance;
  readonly replicas: rds.DatabaseInstanceReadReplica[] = [];
  readonly secret: secretsmanager.ISecret;
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
    };

    this.primary = new rds.DatabaseInstance(this, 'Primary', {
      ...common,
      engine,
      databaseName: c.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret('ecommerce_admin', { encryptionKey }),
      storageEncrypted: true,
      storageEncryptionKey: encryptionKey,
      storageType: rds.StorageType.GP3,
      allocatedStorage: c.allocatedStorageGiB,
      maxAllocatedStorage: c.maxAllocatedStorageGiB,
      multiAz: c.multiAz,
      backupRetention: Duration.days(c.backupRetentionDays),
      copyTagsToSnapshot: true,
    });
    this.secret = this.primary.secret!;
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

    // SecretRotation opens the database port to its own Lambda, with the port as a token that
    // cdk-nag's port rules cannot evaluate.
    this.primary.addRotationSingleUser({ automaticallyAfter: Duration.days(30) });
    for (const rule of ['PCI.DSS.321-EC2RestrictedCommonPorts', 'PCI.DSS.321-EC2RestrictedSSH']) {
      Validations.of(securityGroup).acknowledge({
        id: rule,
        reason: `The only ingress is the database port ${POSTGRES_PORT} from the backend tasks and the rotation Lambda; the rotation rule's port is a token the rule cannot read`,
      });
    }

    const azs = vpc.availabilityZones;
    for (let i = 1; i <= c.readReplicas; i++) {
      // A same-region replica inherits the source's encryption and key; CloudFormation rejects
      // StorageEncrypted next to SourceDBInstanceIdentifier, so no key is passed here.
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html#Overview.Encryption.Limitations
      const replica = new rds.DatabaseInstanceReadReplica(this, `Replica${i}`, {
        ...common,
        sourceDatabaseInstance: this.primary,
        availabilityZone: azs[i % azs.length],
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
