import { CustomResource, Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IConstruct } from 'constructs';
import { HandlerFunction } from './handler-function';

/** Used by the rotation functions and the bootstrap only; nothing else connects as it. */
export const MASTER_USERNAME = 'ecommerce_admin';
/** Owns the schema's objects; migrations run as this user. */
export const OWNER_USERNAME = 'ecommerce_owner';
/** The application's user (DML only); rotation alternates it with `ecommerce_app_clone`. */
export const APP_USERNAME = 'ecommerce_app';

/**
 * Bump when the statements of lambda/database/users.ts change, so that the next deployment applies them
 * to existing databases (CloudFormation calls a custom resource again only when a property changes).
 */
export const USERS_REVISION = '1';

/** Characters left out of generated passwords: the same as RDS's generated master password. */
const EXCLUDE_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\";

export interface DatabaseUsersProps {
  readonly instance: rds.DatabaseInstance;
  /** The instance's master secret (attached to it, so it holds host and port). */
  readonly masterSecret: secretsmanager.ISecret;
  /**
   * The database's side of its security group, with the port as a literal: the rotation functions and the
   * bootstrap get ingress through it.
   */
  readonly connections: ec2.Connections;
  readonly databaseName: string;
  readonly vpc: ec2.IVpc;
  /** Encrypts the new secrets, the bootstrap function's environment and the functions' logs. */
  readonly encryptionKey: kms.IKey;
  /** Retention of the rotation functions' and the bootstrap's logs. */
  readonly logRetention: logs.RetentionDays;
  /** Interval of every credential's automatic rotation. */
  readonly rotationInterval: Duration;
  /**
   * Where the rotation functions and the bootstrap run. They call the Secrets Manager API, so the subnets
   * must reach it: through the NAT gateway or through an interface endpoint (dev has no endpoints; the
   * database's isolated subnets have neither there).
   * @default - the VPC's private subnets with egress
   */
  readonly functionSubnets?: ec2.SubnetSelection;
}

/**
 * The database's three users and the rotation of their credentials, so that a rotation never breaks a running task:
 *
 * - master (`ecommerce_admin`): single-user rotation; used only by the rotation functions and the bootstrap.
 * - schema owner (`ecommerce_owner`): single-user rotation; used by migrations, which are short-lived tasks
 *   that read the secret when they start.
 * - application (`ecommerce_app`): ALTERNATING-users rotation with the master secret. Each rotation changes the
 *   password of the user that is NOT current and then makes it current, so the credentials a task received
 *   stay valid until the second rotation after it started: at least the interval less one day (a `rate(N days)`
 *   rotation happens at any time of its UTC day, so two rotations can be N−1 days apart).
 *
 * `Custom::DatabaseUsers` creates the owner and the application user before any rotation schedule exists
 * (CloudFormation DependsOn): AWS's multi-user function logs in as the current user and then runs
 * `GRANT <user> TO <user>_clone`, which needs the user to exist.
 */
export class DatabaseUsers extends Construct {
  /** Schema owner's credentials, for migrations. */
  readonly ownerSecret: secretsmanager.ISecret;
  /** The application's credentials (username alternates between `ecommerce_app` and `ecommerce_app_clone`). */
  readonly appSecret: secretsmanager.ISecret;
  /** The security group of the three rotation functions. */
  readonly rotationSecurityGroup: ec2.SecurityGroup;
  readonly bootstrap: CustomResource;
  readonly bootstrapFunction: HandlerFunction;
  /** The rotation schedules of the master, owner and application secrets, in that order. */
  readonly rotationSchedules: secretsmanager.RotationSchedule[];

  constructor(scope: Construct, id: string, props: DatabaseUsersProps) {
    super(scope, id);
    const { instance, masterSecret, vpc, encryptionKey } = props;
    const subnets = props.functionSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    const secret = (sid: string, username: string, master?: secretsmanager.ISecret) =>
      new rds.DatabaseSecret(this, sid, {
        username,
        dbname: props.databaseName,
        masterSecret: master,
        encryptionKey,
        excludeCharacters: EXCLUDE_CHARACTERS,
      }).attach(instance);
    // attach() adds host, port and engine, which the rotation functions and the bootstrap read.
    this.ownerSecret = secret('OwnerSecret', OWNER_USERNAME);
    this.appSecret = secret('AppSecret', APP_USERNAME, masterSecret);

    // One group for the three rotation functions: HTTPS to Secrets Manager (endpoint or NAT) and the
    // database port, nothing else. SecretRotation opens the database side through `target.connections`.
    this.rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc,
      description: 'Secrets Manager rotation functions of the database credentials',
      allowAllOutbound: false,
    });
    this.rotationSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Secrets Manager');
    const target = { connections: props.connections, asSecretAttachmentTarget: () => instance.asSecretAttachmentTarget() };
    const rotation = (rid: string, application: secretsmanager.SecretRotationApplication, rotated: secretsmanager.ISecret, master?: secretsmanager.ISecret, rotateImmediately = true) => {
      const r = new secretsmanager.SecretRotation(this, rid, {
        application,
        secret: rotated,
        masterSecret: master,
        target,
        vpc,
        vpcSubnets: subnets,
        securityGroup: this.rotationSecurityGroup,
        automaticallyAfter: props.rotationInterval,
        excludeCharacters: EXCLUDE_CHARACTERS,
        rotateImmediatelyOnUpdate: rotateImmediately,
      });
      const schedule = (rotated as unknown as IConstruct).node.findChild('RotationSchedule') as secretsmanager.RotationSchedule;
      // The hosted (SAR) rotation function gets no log group of its own, so Lambda would create one that keeps
      // logs forever. SecretRotation names the function after its construct path (the last 64 characters of
      // its unique ID); the group is created under that name before the first rotation can run.
      const uniqueId = Names.uniqueId(r);
      const logGroup = new logs.LogGroup(this, `${rid}Logs`, {
        logGroupName: `/aws/lambda/${uniqueId.substring(Math.max(uniqueId.length - 64, 0))}`,
        retention: props.logRetention,
        encryptionKey,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      schedule.node.addDependency(logGroup);
      return schedule;
    };
    this.rotationSchedules = [
      rotation('MasterRotation', secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER, masterSecret),
      // Not rotated at once when the schedule is created or changed: the bootstrap has just set these
      // passwords, and an extra rotation of the application secret would shorten the validity of the
      // credentials running tasks hold (they stay valid until the SECOND rotation after task start).
      rotation('OwnerRotation', secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER, this.ownerSecret, undefined, false),
      rotation('AppRotation', secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_MULTI_USER, this.appSecret, masterSecret, false),
    ];

    this.bootstrapFunction = new HandlerFunction(this, 'Bootstrap', {
      entry: 'lambda/database/handler.ts',
      description: 'Creates the schema owner and the application database users before their first rotation',
      vpc,
      encryptionKey,
      logRetention: props.logRetention,
      timeout: Duration.minutes(2),
      environment: {
        // The runtime's Amazon CA bundle holds the RDS CAs; Node.js 20+ runtimes load it only when asked,
        // and the connection verifies the server certificate.
        // https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-certificate-loading
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      },
    });
    for (const s of [masterSecret, this.ownerSecret, this.appSecret]) s.grantRead(this.bootstrapFunction);
    props.connections.allowDefaultPortFrom(this.bootstrapFunction.function, 'Database users bootstrap');

    this.bootstrap = new CustomResource(this, 'Users', {
      serviceToken: this.bootstrapFunction.functionArn,
      resourceType: 'Custom::DatabaseUsers',
      // The handler answers FAILED itself 10 s before its 2-minute timeout; a crashed attempt is retried by Lambda
      // twice (up to 3 × 2 min + 3 min of retry waits = 9 min). Beyond that the deploy fails instead of waiting an hour.
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-customresource.html
      serviceTimeout: Duration.minutes(10),
      properties: {
        DatabaseName: props.databaseName,
        // The attachments' ARNs: the bootstrap runs once the secrets hold the instance's host and port.
        MasterSecretArn: masterSecret.secretArn,
        OwnerSecretArn: this.ownerSecret.secretArn,
        AppSecretArn: this.appSecret.secretArn,
        OwnerUsername: OWNER_USERNAME,
        AppUsername: APP_USERNAME,
        Revision: USERS_REVISION,
      },
    });
    // The function's policy must exist before it runs.
    this.bootstrap.node.addDependency(this.bootstrapFunction);
    // No rotation before the users exist; the master's first rotation (immediate) must not race the bootstrap's login.
    for (const schedule of this.rotationSchedules) schedule.node.addDependency(this.bootstrap);
  }
}
