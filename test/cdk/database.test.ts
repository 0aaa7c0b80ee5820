/**
 * What the templates guarantee about database credentials (issue 8, finding 10): rotation never breaks a
 * running task, the application never connects as the master, and the rotation functions reach both
 * Secrets Manager and the database in every environment.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { ENVIRONMENTS } from '../../config';
import { POSTGRES_PORT } from '../../lib/database';
import { APP_USERNAME, DatabaseUsers, MASTER_USERNAME, OWNER_USERNAME } from '../../lib/database-users';
import { resourcesOf, synthEnvironment, TEST_CONTEXT } from './support';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

/** The `{ Ref }` logical IDs inside a `Fn::Join` of subnet IDs (the SAR parameter `vpcSubnetIds`). */
function refsOf(value: unknown): string[] {
  const json = JSON.stringify(value);
  return [...json.matchAll(/"Ref":"([^"]+)"/g)].map((m) => m[1]);
}

function logicalIds(stack: Stack, subnets: readonly ec2.ISubnet[]): string[] {
  return subnets.map((s) => (stack.resolve(s.subnetId) as { Ref: string }).Ref).sort();
}

describe.each(['dev', 'staging', 'production'] as const)('%s environment', (name) => {
  const config = ENVIRONMENTS[name];
  const { stage, stateful, stateless } = synthEnvironment(name);
  const stack = stage.stateful;
  const resources = stateful.toJSON().Resources as Record<string, Resource>;
  const secrets = resourcesOf(stateful, 'AWS::SecretsManager::Secret');
  const attachments = resourcesOf(stateful, 'AWS::SecretsManager::SecretTargetAttachment');
  const schedules = resourcesOf(stateful, 'AWS::SecretsManager::RotationSchedule');
  const [[bootstrapId, bootstrap]] = resourcesOf(stateful, 'Custom::DatabaseUsers');

  /** Logical ID of the attachment of the secret whose generated value names `username`. */
  const attachmentOf = (username: string): string => {
    const [secretId] = secrets.find(([, s]) => JSON.stringify(s.Properties.GenerateSecretString?.SecretStringTemplate ?? '').includes(`\\"username\\":\\"${username}\\"`))!;
    const [id] = attachments.find(([, a]) => a.Properties.SecretId.Ref === secretId)!;
    return id;
  };
  const master = attachmentOf(MASTER_USERNAME);
  const owner = attachmentOf(OWNER_USERNAME);
  const app = attachmentOf(APP_USERNAME);
  const scheduleOf = (attachment: string) => schedules.find(([, s]) => s.Properties.SecretId.Ref === attachment)!;
  /** The SAR application behind a rotation schedule. */
  const rotationAppOf = (attachment: string): Resource => {
    const [, schedule] = scheduleOf(attachment);
    return resources[schedule.Properties.RotationLambdaARN['Fn::GetAtt'][0]];
  };
  const sarName = (r: Resource): string => JSON.stringify(stateful.toJSON().Mappings[r.Properties.Location.ApplicationId['Fn::FindInMap'][0]]);

  test(`THEN the master, schema owner and application credentials each rotate every ${config.database.credentialRotationDays} days`, () => {
    expect(schedules).toHaveLength(3);
    for (const attachment of [master, owner, app]) {
      const [, schedule] = scheduleOf(attachment);
      expect(schedule.Properties.RotationRules).toEqual({ ScheduleExpression: `rate(${config.database.credentialRotationDays} days)` });
    }
  });

  test('THEN the application secret rotates with ALTERNATING users, using the master secret; master and owner with single-user rotation', () => {
    const appRotation = rotationAppOf(app);
    expect(sarName(appRotation)).toContain('SecretsManagerRDSPostgreSQLRotationMultiUser');
    expect(appRotation.Properties.Parameters.masterSecretArn).toEqual({ Ref: master });
    // The multi-user function reads the master secret's ARN from the application secret itself.
    const [, appSecret] = secrets.find(([id]) => id === attachments.find(([aid]) => aid === app)![1].Properties.SecretId.Ref)!;
    expect(JSON.stringify(appSecret.Properties.GenerateSecretString.SecretStringTemplate)).toContain(`"masterarn\\":\\"",{"Ref":"${master}"}`);
    for (const attachment of [master, owner]) expect(sarName(rotationAppOf(attachment))).toContain('SecretsManagerRDSPostgreSQLRotationSingleUser');
  });

  test('THEN only the master rotates as soon as its schedule is created; the users the tasks hold do not get an extra rotation', () => {
    expect(scheduleOf(master)[1].Properties.RotateImmediatelyOnUpdate).toBe(true);
    expect(scheduleOf(owner)[1].Properties.RotateImmediatelyOnUpdate).toBe(false);
    expect(scheduleOf(app)[1].Properties.RotateImmediatelyOnUpdate).toBe(false);
  });

  test('THEN the users bootstrap runs before every rotation schedule (DependsOn), after its function and policy', () => {
    for (const [, schedule] of schedules) expect(schedule.DependsOn).toContain(bootstrapId);
    expect(bootstrap.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^DatabaseUsersBootstrapFunction/), expect.stringMatching(/^DatabaseUsersBootstrapRoleDefaultPolicy/)]));
    expect(bootstrap.Properties).toMatchObject({
      DatabaseName: config.database.databaseName,
      MasterSecretArn: { Ref: master },
      OwnerSecretArn: { Ref: owner },
      AppSecretArn: { Ref: app },
      OwnerUsername: OWNER_USERNAME,
      AppUsername: APP_USERNAME,
    });
  });

  test('THEN the rotation functions and the bootstrap run in the private subnets with egress, which route to a NAT gateway', () => {
    const vpc = stage.stateful.network.vpc;
    const privateIds = logicalIds(stack, vpc.privateSubnets);
    expect(privateIds).toHaveLength(config.availabilityZones.length);
    for (const attachment of [master, owner, app]) {
      expect(refsOf(rotationAppOf(attachment).Properties.Parameters.vpcSubnetIds).sort()).toEqual(privateIds);
    }
    const [, fn] = resourcesOf(stateful, 'AWS::Lambda::Function').find(([id]) => id.startsWith('DatabaseUsersBootstrapFunction'))!;
    expect(refsOf(fn.Properties.VpcConfig.SubnetIds).sort()).toEqual(privateIds);
    // Those subnets reach Secrets Manager through the NAT gateway even without interface endpoints (dev).
    for (const subnet of vpc.privateSubnets) {
      const table = stack.resolve(subnet.routeTable.routeTableId);
      stateful.hasResourceProperties('AWS::EC2::Route', { RouteTableId: table, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: Match.anyValue() });
    }
  });

  test(`THEN the rotation functions may open HTTPS and PostgreSQL (${POSTGRES_PORT}) only, and the database admits them`, () => {
    const groups = new Set([master, owner, app].map((a) => JSON.stringify(rotationAppOf(a).Properties.Parameters.vpcSecurityGroupIds)));
    expect(groups.size).toBe(1);
    const rotationSg = JSON.parse([...groups][0])['Fn::GetAtt'][0] as string;
    const group = resources[rotationSg];
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]);
    const egress = resourcesOf(stateful, 'AWS::EC2::SecurityGroupEgress').filter(([, r]) => r.Properties.GroupId['Fn::GetAtt']?.[0] === rotationSg);
    expect(egress.map(([, r]) => [r.Properties.FromPort, r.Properties.ToPort])).toEqual([[POSTGRES_PORT, POSTGRES_PORT]]);
    stateful.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: POSTGRES_PORT,
      ToPort: POSTGRES_PORT,
      SourceSecurityGroupId: { 'Fn::GetAtt': [rotationSg, 'GroupId'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseSecurityGroup'), 'GroupId'] },
    });
    stateful.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: POSTGRES_PORT,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseUsersBootstrapSecurityGroup'), 'GroupId'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseSecurityGroup'), 'GroupId'] },
    });
  });

  test('THEN every database secret is encrypted with the data key', () => {
    const dbSecrets = secrets.filter(([id]) => !id.startsWith('CacheAuthToken'));
    expect(dbSecrets).toHaveLength(3);
    const dataKey = (stack.resolve(stage.stateful.dataKey.keyArn) as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    for (const [, s] of dbSecrets) expect(s.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [dataKey, 'Arn'] });
  });

  test('THEN the bootstrap may read the three database secrets and verifies the server certificate', () => {
    const [, fn] = resourcesOf(stateful, 'AWS::Lambda::Function').find(([id]) => id.startsWith('DatabaseUsersBootstrapFunction'))!;
    expect(fn.Properties.Environment.Variables.NODE_EXTRA_CA_CERTS).toBe('/var/runtime/ca-cert.pem');
    const [, policy] = resourcesOf(stateful, 'AWS::IAM::Policy').find(([id]) => id.startsWith('DatabaseUsersBootstrapRoleDefaultPolicy'))!;
    const read = policy.Properties.PolicyDocument.Statement.filter((s: { Action: string[] }) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(read.map((s: { Resource: unknown }) => s.Resource).flat()).toEqual(expect.arrayContaining([{ Ref: master }, { Ref: owner }, { Ref: app }]));
  });

  test(`THEN each rotation function logs to a KMS-encrypted group that keeps logs ${config.logRetentionDays} days, created before its schedule`, () => {
    for (const attachment of [master, owner, app]) {
      const functionName = rotationAppOf(attachment).Properties.Parameters.functionName as string;
      const [groupId, group] = resourcesOf(stateful, 'AWS::Logs::LogGroup').find(([, g]) => g.Properties.LogGroupName === `/aws/lambda/${functionName}`)!;
      expect(group.Properties.RetentionInDays).toBe(config.logRetentionDays);
      expect(group.Properties.KmsKeyId).toEqual(stack.resolve(stage.stateful.dataKey.keyArn));
      expect(scheduleOf(attachment)[1].DependsOn).toContain(groupId);
    }
  });

  test(`THEN the log groups RDS exports to keep logs ${config.logRetentionDays} days, for the primary and each replica`, () => {
    const retention = resourcesOf(stateful, 'Custom::LogRetention');
    expect(retention).toHaveLength((1 + config.database.readReplicas) * 2);
    for (const [, r] of retention) {
      expect(r.Properties.RetentionInDays).toBe(config.logRetentionDays);
      expect(JSON.stringify(r.Properties.LogGroupName)).toMatch(/\/aws\/rds\/instance\/.*\/(postgresql|upgrade)"/);
    }
    for (const log of ['postgresql', 'upgrade']) {
      expect(retention.filter(([, r]) => JSON.stringify(r.Properties.LogGroupName).endsWith(`/${log}"]]}`))).toHaveLength(1 + config.database.readReplicas);
    }
  });

  test("THEN the serving backend tasks connect as the application user, only the migration tasks as the schema owner, nothing as the master", () => {
    const backend = resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([id]) => id.startsWith('Backend'));
    const valueFrom = (td: any) => Object.fromEntries(td.Properties.ContainerDefinitions[0].Secrets.map((s: { Name: string; ValueFrom: unknown }) => [s.Name, JSON.stringify(s.ValueFrom)]));
    const serving = backend.filter(([id]) => !id.includes('Migration'));
    const migration = backend.filter(([id]) => id.includes('Migration'));
    expect(serving).toHaveLength(2);
    expect(migration).toHaveLength(config.release.migrationCommand ? 2 : 0);
    for (const [, td] of serving) {
      const v = valueFrom(td);
      expect(v.DATABASE_USERNAME).toMatch(new RegExp(`${app}.*:username::"`));
      expect(v.DATABASE_PASSWORD).toMatch(new RegExp(`${app}.*:password::"`));
      // Review finding: the serving tasks used to hold the DDL-capable owner's credentials too.
      expect(JSON.stringify(td)).not.toContain(owner);
    }
    for (const [, td] of migration) {
      const v = valueFrom(td);
      expect(Object.keys(v).sort()).toEqual(['DATABASE_MIGRATION_PASSWORD', 'DATABASE_MIGRATION_USERNAME', 'DATABASE_PASSWORD', 'DATABASE_USERNAME']);
      for (const name of Object.keys(v)) expect(v[name]).toMatch(new RegExp(`${owner}.*:(username|password)::"`));
    }
    expect(JSON.stringify(stateless.toJSON())).not.toContain(master);
  });
});

test('GIVEN no migration command and no database procedures THEN no backend task gets the schema owner\'s credentials', () => {
  const { stateless } = synthEnvironment('dev', (c) => ({ ...c, release: { ...c.release, migrationCommand: undefined }, database: { ...c.database, procedures: undefined } }));
  for (const [, td] of resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([id]) => id.startsWith('Backend'))) {
    expect(td.Properties.ContainerDefinitions[0].Secrets.map((s: { Name: string }) => s.Name).sort()).toEqual(['DATABASE_PASSWORD', 'DATABASE_USERNAME', 'REDIS_AUTH_TOKEN']);
  }
  expect(JSON.stringify(stateless.toJSON())).not.toContain('DatabaseUsersOwnerSecret');
});

test('GIVEN database procedures without a migration command THEN the backend keeps its migration task definitions for npm run db, the release runs none', () => {
  const { stateless } = synthEnvironment('dev', (c) => ({ ...c, release: { ...c.release, migrationCommand: undefined } }));
  const migration = resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([id]) => /^Backend(Blue|Green)MigrationTask/.test(id));
  expect(migration).toHaveLength(2);
  expect(Object.keys(stateless.findOutputs('DatabaseTask'))).toEqual(['DatabaseTask']);
  const [[, sm]] = resourcesOf(stateless, 'AWS::StepFunctions::StateMachine');
  expect(JSON.stringify(sm.Properties.DefinitionString)).not.toContain('StartMigration');
});

describe('DatabaseUsers on its own', () => {
  function build(functionSubnets?: ec2.SubnetSelection): { stack: Stack; template: Template; vpc: ec2.Vpc } {
    const stack = new Stack(new App({ context: TEST_CONTEXT, builtinCloudFormationValidation: false }), 'Test', { env: { account: '111111111111', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    const key = new kms.Key(stack, 'Key');
    const securityGroup = new ec2.SecurityGroup(stack, 'DbSg', { vpc, allowAllOutbound: false });
    const instance = new rds.DatabaseInstance(stack, 'Db', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      port: POSTGRES_PORT,
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME, { encryptionKey: key }),
      storageEncrypted: true,
      storageEncryptionKey: key,
    });
    new DatabaseUsers(stack, 'Users', {
      instance,
      masterSecret: instance.secret!,
      connections: new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(POSTGRES_PORT) }),
      databaseName: 'shop',
      vpc,
      encryptionKey: key,
      logRetention: logs.RetentionDays.ONE_WEEK,
      rotationInterval: Duration.days(7),
      functionSubnets,
    });
    return { stack, template: Template.fromStack(stack), vpc };
  }

  test('GIVEN no functionSubnets THEN the rotation functions run in the private subnets with egress, not in the database subnets', () => {
    const { stack, template, vpc } = build();
    const apps = resourcesOf(template, 'AWS::Serverless::Application');
    expect(apps).toHaveLength(3);
    for (const [, a] of apps) {
      expect(refsOf(a.Properties.Parameters.vpcSubnetIds).sort()).toEqual(logicalIds(stack, vpc.privateSubnets));
      expect(refsOf(a.Properties.Parameters.vpcSubnetIds)).not.toEqual(expect.arrayContaining(logicalIds(stack, vpc.isolatedSubnets)));
    }
    for (const [, s] of resourcesOf(template, 'AWS::SecretsManager::RotationSchedule')) expect(s.Properties.RotationRules.ScheduleExpression).toBe('rate(7 days)');
  });

  test('GIVEN functionSubnets THEN the rotation functions and the bootstrap run there', () => {
    const { stack, template, vpc } = build({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    const isolated = logicalIds(stack, vpc.isolatedSubnets);
    for (const [, a] of resourcesOf(template, 'AWS::Serverless::Application')) expect(refsOf(a.Properties.Parameters.vpcSubnetIds).sort()).toEqual(isolated);
    // The bootstrap is a HandlerFunction: always in the private subnets with egress (it calls Secrets Manager).
    const [, fn] = resourcesOf(template, 'AWS::Lambda::Function').find(([id]) => id.startsWith('UsersBootstrapFunction'))!;
    expect(refsOf(fn.Properties.VpcConfig.SubnetIds).sort()).toEqual(logicalIds(stack, vpc.privateSubnets));
  });

  test('THEN the owner and application secrets name their database and users; the application secret names the master secret', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: JSON.stringify({ username: OWNER_USERNAME, dbname: 'shop' }) }),
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: { 'Fn::Join': ['', [`{"username":"${APP_USERNAME}","dbname":"shop","masterarn":"`, { Ref: Match.stringLikeRegexp('^DbSecretAttachment') }, '"}']] },
      }),
    });
  });
});
