import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ENVIRONMENTS, type EnvironmentName } from '../../config';
import { AuditLogs } from '../../lib/audit';
import { Notifications } from '../../lib/notifications';
import { TaskSecret } from '../../lib/services';
import { resourcesOf, synthEnvironment, TEST_CONTEXT } from './support';

type Json = any;
const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
/** The logical ID an intrinsic points at ({Ref} or {Fn::GetAtt}), or undefined. */
const logicalIdOf = (expr: Json): string | undefined => expr?.Ref ?? expr?.['Fn::GetAtt']?.[0];

/** Statements of every AWS::IAM::Policy attached to the role with this logical ID. */
function statementsOfRole(template: Template, roleId: string): Json[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

/** The key policy statements of the AWS::KMS::Key with this logical ID. */
function keyStatements(template: Template, keyId: string): Json[] {
  const key = template.toJSON().Resources[keyId];
  expect(key?.Type).toBe('AWS::KMS::Key');
  return key.Properties.KeyPolicy.Statement;
}

describe.each(Object.keys(ENVIRONMENTS) as EnvironmentName[])('%s keys, secrets and cross-stack references', (name) => {
  const config = ENVIRONMENTS[name];
  const { stateful, stateless } = synthEnvironment(name);
  const statefulJson = stateful.toJSON();

  /**
   * What a value the stateless stack takes from the stateful one is in the stateful template,
   * through either reference mechanism, so the assertions below hold whichever is in use.
   */
  function fromStateful(expr: Json): Json {
    if (expr?.['Fn::ImportValue'] !== undefined) {
      const exportName = expr['Fn::ImportValue'];
      const output = Object.values<Json>(statefulJson.Outputs ?? {}).find((o) => o.Export?.Name === exportName);
      expect(output).toBeDefined();
      return output.Value;
    }
    if (expr?.['Fn::GetStackOutput'] !== undefined) return statefulJson.Outputs[expr['Fn::GetStackOutput'].OutputName].Value;
    return expr;
  }

  /** The stateful AWS::SecretsManager::Secret an ARN expression of the stateless stack names. */
  function secretOf(arnExpr: Json): [string, Json] {
    let id = logicalIdOf(fromStateful(arnExpr))!;
    let resource = statefulJson.Resources[id];
    // RDS credentials are referenced through their attachment, whose Ref is the secret's ARN.
    if (resource?.Type === 'AWS::SecretsManager::SecretTargetAttachment') {
      id = resource.Properties.SecretId.Ref;
      resource = statefulJson.Resources[id];
    }
    expect(resource?.Type).toBe('AWS::SecretsManager::Secret');
    return [id, resource];
  }

  /** ARN expression of an ECS secret's ValueFrom without its `:field::` suffix. */
  function secretArnOf(valueFrom: Json): Json {
    const join = valueFrom?.['Fn::Join'];
    return join ? join[1][0] : valueFrom;
  }

  // Finding #2: the data key's decrypt grant through Key.fromKeyArn was dropped, so tasks could
  // not read their secrets (ResourceInitializationError), the migration task neither.
  test('GIVEN every task definition with secrets THEN its execution role may read each secret AND decrypt it with the secret\'s own key, through Secrets Manager only', () => {
    const withSecrets = resourcesOf(stateless, 'AWS::ECS::TaskDefinition').filter(([, td]) =>
      td.Properties.ContainerDefinitions.some((c: Json) => c.Secrets?.length),
    );
    // The backend's serving tasks and, where releases migrate, its migration tasks (the schema owner's credentials).
    const migrates = !!config.release.migrationCommand;
    expect(withSecrets.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      (migrates ? ['BackendBlueMigrationTask', 'BackendBlueTask', 'BackendGreenMigrationTask', 'BackendGreenTask'] : ['BackendBlueTask', 'BackendGreenTask']).sort(),
    );

    for (const [, td] of withSecrets) {
      const statements = statementsOfRole(stateless, logicalIdOf(td.Properties.ExecutionRoleArn)!).filter((s) => s.Effect === 'Allow');
      const secrets = td.Properties.ContainerDefinitions.flatMap((c: Json) => c.Secrets ?? []);
      for (const s of secrets) {
        const [secretId, secret] = secretOf(secretArnOf(s.ValueFrom));
        const readable = statements.some(
          (st) => asArray(st.Action).includes('secretsmanager:GetSecretValue') && asArray(st.Resource).some((r) => secretOf(r)[0] === secretId),
        );
        expect({ secret: s.Name, readable }).toEqual({ secret: s.Name, readable: true });

        const keyId = logicalIdOf(secret.Properties.KmsKeyId);
        expect(statefulJson.Resources[keyId!]?.Type).toBe('AWS::KMS::Key');
        const decrypt = statements.find(
          (st) => asArray(st.Action).includes('kms:Decrypt') && asArray(st.Resource).some((r) => logicalIdOf(fromStateful(r)) === keyId),
        );
        expect({ secret: s.Name, decrypt: !!decrypt }).toEqual({ secret: s.Name, decrypt: true });
        expect(decrypt.Condition).toEqual({ StringEquals: { 'kms:ViaService': `secretsmanager.${config.region}.amazonaws.com` } });
      }
    }
  });

  // Finding #3: the trail's key did not admit cloudtrail.amazonaws.com, so CreateTrail failed and
  // took the stateful stack down.
  test('GIVEN the trail encrypted with the data key THEN the key policy lets CloudTrail encrypt for this account\'s trails and describe the key, on behalf of this trail only', () => {
    const [[, trail]] = resourcesOf(stateful, 'AWS::CloudTrail::Trail');
    const keyId = logicalIdOf(trail.Properties.KMSKeyId)!;
    const trailArn = `arn:aws:cloudtrail:${config.region}:${config.account}:trail/${trail.Properties.TrailName}`;
    const statements = keyStatements(stateful, keyId).filter((s) => s.Principal?.Service === 'cloudtrail.amazonaws.com');
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'kms:GenerateDataKey*',
          Resource: '*',
          Condition: {
            StringEquals: { 'aws:SourceArn': trailArn },
            StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${config.account}:trail/*` },
          },
        }),
        expect.objectContaining({ Effect: 'Allow', Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'aws:SourceArn': trailArn } } }),
      ]),
    );
    expect(statements).toHaveLength(2);
  });

  test('GIVEN the trail THEN its bucket is SSE-KMS with the same key and no Bucket Key, and its log group uses a key CloudWatch Logs may use', () => {
    const [[, trail]] = resourcesOf(stateful, 'AWS::CloudTrail::Trail');
    const keyId = logicalIdOf(trail.Properties.KMSKeyId)!;
    const bucket = statefulJson.Resources[trail.Properties.S3BucketName.Ref];
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { BucketKeyEnabled: false, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } } },
    ]);
    const logGroup = statefulJson.Resources[logicalIdOf(trail.Properties.CloudWatchLogsLogGroupArn)!];
    expect(logicalIdOf(logGroup.Properties.KmsKeyId)).toBe(keyId);
    expect(keyStatements(stateful, keyId)).toContainEqual(
      expect.objectContaining({
        Principal: { Service: `logs.${config.region}.amazonaws.com` },
        Action: expect.arrayContaining(['kms:Encrypt*', 'kms:GenerateDataKey*']),
        Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${config.region}:${config.account}:log-group:*` } },
      }),
    );
  });

  // Finding #7: the topic's key did not admit cloudwatch.amazonaws.com, so every alarm action to
  // the topic failed silently.
  test('GIVEN the encrypted notification topic THEN CloudWatch alarms of this account and region may use its key and publish to it', () => {
    const [[topicId, topic]] = resourcesOf(stateless, 'AWS::SNS::Topic');
    const keyId = logicalIdOf(topic.Properties.KmsMasterKeyId)!;
    const conditions = {
      StringEquals: { 'aws:SourceAccount': config.account },
      ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${config.region}:${config.account}:alarm:*` },
    };
    expect(keyStatements(stateless, keyId)).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: conditions,
      }),
    );
    stateless.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: topicId }, Condition: conditions }),
        ]),
      },
    });
    // The alarms this is for.
    const alarmsToTopic = [...resourcesOf(stateless, 'AWS::CloudWatch::Alarm'), ...resourcesOf(stateless, 'AWS::CloudWatch::CompositeAlarm')].filter(([, a]) =>
      (a.Properties.AlarmActions ?? []).some((x: Json) => x.Ref === topicId),
    );
    expect(alarmsToTopic.length).toBeGreaterThan(0);
  });

  test('GIVEN a Lambda whose failed async invocations go to the topic THEN its role may publish to the topic and use the topic\'s key', () => {
    const [[topicId, topic]] = resourcesOf(stateless, 'AWS::SNS::Topic');
    const keyId = logicalIdOf(topic.Properties.KmsMasterKeyId);
    const toTopic = resourcesOf(stateless, 'AWS::Lambda::EventInvokeConfig').filter(
      ([, c]) => c.Properties.DestinationConfig?.OnFailure?.Destination?.Ref === topicId,
    );
    expect(toTopic.length).toBeGreaterThan(0);
    for (const [, config] of toTopic) {
      const fn = stateless.toJSON().Resources[config.Properties.FunctionName.Ref];
      const statements = statementsOfRole(stateless, logicalIdOf(fn.Properties.Role)!);
      expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topicId } }));
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
          Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
        }),
      );
    }
  });

  test('GIVEN the topic\'s key admits no events.amazonaws.com THEN no EventBridge rule targets the topic', () => {
    // A rule that does needs events.amazonaws.com in the key policy, without source conditions
    // (lib/notifications.ts); this fails first, so the statement is added with the rule.
    const [[topicId]] = resourcesOf(stateless, 'AWS::SNS::Topic');
    for (const [id, rule] of resourcesOf(stateless, 'AWS::Events::Rule')) {
      expect({ id, targets: (rule.Properties.Targets ?? []).filter((t: Json) => t.Arn?.Ref === topicId) }).toEqual({ id, targets: [] });
    }
  });

  // Finding #14: weak references (Fn::GetStackOutput) let the stateful stack replace a referenced
  // resource while the stateless stack keeps pointing at the old one.
  test('GIVEN values the stateless stack takes from the stateful stack THEN each is an Fn::ImportValue of a stateful export, never a weak Fn::GetStackOutput', () => {
    const json = JSON.stringify(stateless.toJSON());
    expect(json).not.toContain('Fn::GetStackOutput');
    const imports = [...new Set([...json.matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1]))];
    expect(imports.length).toBeGreaterThan(0);
    const exports = new Map(Object.values<Json>(statefulJson.Outputs ?? {}).filter((o) => o.Export).map((o) => [o.Export.Name, o.Value]));
    for (const name of imports) expect({ name, exported: exports.has(name) }).toEqual({ name, exported: true });
  });

  test('GIVEN the resources the stateless stack depends on THEN the stateful stack exports them: data key, secrets, database, cache, VPC', () => {
    const exportedIds = new Set(
      Object.values<Json>(statefulJson.Outputs ?? {})
        .filter((o) => o.Export)
        .map((o) => logicalIdOf(o.Value)),
    );
    const typesExported = new Set([...exportedIds].map((id) => statefulJson.Resources[id!]?.Type));
    for (const type of ['AWS::KMS::Key', 'AWS::SecretsManager::Secret', 'AWS::RDS::DBInstance', 'AWS::ElastiCache::ReplicationGroup', 'AWS::EC2::VPC', 'AWS::EC2::Subnet']) {
      expect({ type, exported: typesExported.has(type) }).toEqual({ type, exported: true });
    }
  });
});

describe('constructs on their own', () => {
  const env = { account: '111111111111', region: 'eu-west-1' };

  test('TaskSecret grants kms:Decrypt on an imported secret\'s key in the grantee\'s own policy, through Secrets Manager only', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT, builtinCloudFormationValidation: false }), 'Consumer', { env });
    const keyArn = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const secret = secretsmanager.Secret.fromSecretAttributes(stack, 'Secret', {
      secretCompleteArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf',
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', keyArn),
    });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const taskSecret = TaskSecret.fromSecretsManager(secret, 'password');
    expect(taskSecret.arn).toBe('arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf:password::');
    expect(taskSecret.hasField).toBe(true);
    taskSecret.grantRead(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['secretsmanager:GetSecretValue']), Resource: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf' }),
          { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn, Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } } },
        ]),
      },
    });
  });

  test('AuditLogs refuses an imported key, whose policy it could not give CloudTrail', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT, builtinCloudFormationValidation: false }), 'Audit', { env });
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => new AuditLogs(stack, 'Audit', { encryptionKey: key, retention: logs.RetentionDays.ONE_WEEK, retain: false })).toThrow(/resource policy/i);
  });

  test('Notifications refuses an imported key, whose policy it could not give CloudWatch', () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT, builtinCloudFormationValidation: false }), 'Topic', { env });
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => new Notifications(stack, 'Notifications', { environment: 'dev', encryptionKey: key })).toThrow(/resource policy/i);
  });
});
