import { type CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { renderIdentity } from '../estimate';
import { explain } from '../explain';
import { policiesOf } from '../iam';
import { keyArn, keyPolicyAllowsIamPolicies, keyPolicyAllowsPrincipal, keysOf } from '../kms';
import { modelOf, referencedOfType, type AppModel, type ResourceRef, type StackModel } from '../model';
import { allowStatements, allowsAction, allowsResource } from '../policy';

const DECRYPT = ['kms:Decrypt'];
const DECRYPT_AND_GENERATE = ['kms:Decrypt', 'kms:GenerateDataKey'];

/**
 * What reading or writing an encrypted resource needs on its key, by the actions that do it. The caller's own
 * permissions are used: Secrets Manager https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html,
 * DynamoDB https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html,
 * SNS https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, CloudWatch Logs reads
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
 */
const USES: { readonly type: string; readonly actions: readonly string[]; readonly kms: readonly string[]; readonly keys: (r: ResourceRef) => ResourceRef[] }[] = [
  { type: 'AWS::SecretsManager::Secret', actions: ['secretsmanager:GetSecretValue'], kms: DECRYPT, keys: secretKeys },
  { type: 'AWS::SecretsManager::SecretTargetAttachment', actions: ['secretsmanager:GetSecretValue'], kms: DECRYPT, keys: secretKeys },
  ...['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'].flatMap((type) => [
    { type, actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:ConditionCheckItem'], kms: DECRYPT, keys: tableKeys },
    { type, actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'], kms: DECRYPT_AND_GENERATE, keys: tableKeys },
  ]),
  { type: 'AWS::SNS::Topic', actions: ['sns:Publish'], kms: DECRYPT_AND_GENERATE, keys: (t) => keysOf(props(t).KmsMasterKeyId, t.model) },
  { type: 'AWS::Logs::LogGroup', actions: ['logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:StartQuery'], kms: DECRYPT, keys: (g) => keysOf(props(g).KmsKeyId, g.model) },
];

function props(r: ResourceRef): Record<string, any> {
  return r.model.resource(r.logicalId)?.Properties ?? {};
}

/** A secret's key; a SecretTargetAttachment's Ref is its secret's ARN. */
function secretKeys(r: ResourceRef): ResourceRef[] {
  const type = r.model.resource(r.logicalId)?.Type;
  if (type === 'AWS::SecretsManager::SecretTargetAttachment') {
    return referencedOfType(props(r).SecretId, r.model, 'AWS::SecretsManager::Secret').flatMap(secretKeys);
  }
  return keysOf(props(r).KmsKeyId, r.model);
}

function tableKeys(r: ResourceRef): ResourceRef[] {
  const p = props(r);
  return [p.SSESpecification?.KMSMasterKeyId, ...(p.Replicas ?? []).map((replica: any) => replica?.SSESpecification?.KMSMasterKeyId)].flatMap((k) =>
    keysOf(k, r.model),
  );
}

interface Need {
  readonly key: ResourceRef;
  readonly action: string;
  readonly because: string;
}

/** The secrets of the containers of each task definition, by execution role; computed once per validation run. */
function executionRoleSecrets(app: AppModel): Map<string, { secret: ResourceRef; taskDefinition: string }[]> {
  return app.memo('execution-role-secrets', () => {
    const byRole = new Map<string, { secret: ResourceRef; taskDefinition: string }[]>();
    for (const model of app.all()) {
      for (const [id, task] of model.resourcesOfType('AWS::ECS::TaskDefinition')) {
        const p = task.Properties ?? {};
        const valueFroms = (p.ContainerDefinitions ?? []).flatMap((c: any) => (c?.Secrets ?? []).map((s: any) => s?.ValueFrom));
        const secrets = [
          ...referencedOfType(valueFroms, model, 'AWS::SecretsManager::Secret'),
          ...referencedOfType(valueFroms, model, 'AWS::SecretsManager::SecretTargetAttachment'),
        ];
        for (const role of referencedOfType(p.ExecutionRoleArn, model, 'AWS::IAM::Role')) {
          const key = `${role.model.stack.node.path}|${role.logicalId}`;
          byRole.set(key, [...(byRole.get(key) ?? []), ...secrets.map((secret) => ({ secret, taskDefinition: model.pathOf(id) }))]);
        }
      }
    }
    return byRole;
  });
}

/**
 * A role that reads a secret, reads or writes a table, publishes to a topic or reads a log group encrypted with a
 * customer-managed key (through its policies, or as the execution role that fetches its containers' secrets) may
 * use that key: kms:Decrypt, plus kms:GenerateDataKey for writes to tables and topics. Either the role's policies
 * allow it on the key and the key policy lets IAM policies of the account grant it, or the key policy names the
 * role. Without it the call fails with AccessDenied at run time: the task never starts, the publish is lost.
 * References across stacks (Fn::GetStackOutput, Fn::ImportValue) are followed to the producing stack. A statement
 * on `Resource: "*"` names no resource of the app, so it creates no need (it can still satisfy one). Key policy
 * conditions (kms:ViaService) are not evaluated. Finding: `<action>:<key construct path>`.
 */
export function RoleCanDecrypt(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::IAM::Role') return NagRuleCompliance.NOT_APPLICABLE;
  const model = modelOf(node);
  const role: ResourceRef = { model, logicalId: model.logicalIdOf(node) };
  const documents = policiesOf(role).map((d) => ({ ...d, statements: allowStatements(d.document, d.model) }));
  const needs: Need[] = [];
  for (const { model: docModel, statements } of documents) {
    for (const s of statements) {
      for (const use of USES) {
        const action = use.actions.find((a) => allowsAction(s, a));
        if (!action) continue;
        for (const target of referencedOfType(s.resources, docModel, use.type)) {
          for (const key of use.keys(target)) {
            for (const kms of use.kms) needs.push({ key, action: kms, because: `${action} on ${target.model.pathOf(target.logicalId)}` });
          }
        }
      }
    }
  }
  for (const { secret, taskDefinition } of executionRoleSecrets(model.app).get(`${model.stack.node.path}|${role.logicalId}`) ?? []) {
    for (const key of secretKeys(secret)) {
      needs.push({ key, action: 'kms:Decrypt', because: `the container secret ${secret.model.pathOf(secret.logicalId)} of ${taskDefinition}` });
    }
  }
  if (needs.length === 0) return NagRuleCompliance.NOT_APPLICABLE;

  const roleArn = renderIdentity({ 'Fn::GetAtt': [role.logicalId, 'Arn'] }, model);
  const findings = new Map<string, Need[]>();
  for (const need of needs) {
    const finding = `${need.action}:${need.key.model.pathOf(need.key.logicalId)}`;
    if (findings.has(finding)) findings.get(finding)!.push(need);
    else if (!allowed(need, documents, roleArn)) findings.set(finding, [need]);
  }
  if (findings.size === 0) return NagRuleCompliance.COMPLIANT;
  for (const [finding, [need, ...more]] of findings) {
    const because = [...new Set([need, ...more].map((n) => n.because))].join('; ');
    explain(node, 'RoleCanDecrypt', `needs ${need.action} on ${need.key.model.pathOf(need.key.logicalId)} for ${because}`, finding);
  }
  return [...findings.keys()];
}

function allowed(need: Need, documents: { model: StackModel; statements: ReturnType<typeof allowStatements> }[], roleArn: string): boolean {
  if (keyPolicyAllowsPrincipal(need.key, roleArn, need.action)) return true;
  const arn = keyArn(need.key);
  const byIam = documents.some((d) => d.statements.some((s) => allowsAction(s, need.action) && allowsResource(s, arn, d.model)));
  return byIam && keyPolicyAllowsIamPolicies(need.key, need.action);
}
