import { CfnOutput, Fn } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { findings, findingsOf, newApp, newStack } from '../support';

/** The project's layout: the key and the secret in a stateful stack, the roles in a stateless one. */
function stateful(app = newApp()) {
  const stack = newStack(app, 'Stateful');
  const key = new kms.Key(stack, 'Key');
  const secret = new secretsmanager.Secret(stack, 'Secret', { encryptionKey: key });
  return { app, key, secret };
}

/** As lib/stateless-stack.ts: the key and secret imported, so grants land on the role, not in the key policy. */
function backendTask(app: ReturnType<typeof newApp>, key: kms.IKey, secret: secretsmanager.ISecret) {
  const stack = newStack(app, 'Stateless');
  const imported = secretsmanager.Secret.fromSecretAttributes(stack, 'Secret', {
    secretCompleteArn: secret.secretArn,
    encryptionKey: kms.Key.fromKeyArn(stack, 'Key', key.keyArn),
  });
  const task = new ecs.FargateTaskDefinition(stack, 'Task');
  task.addContainer('App', {
    image: ecs.ContainerImage.fromRegistry('example/backend'),
    secrets: { PASSWORD: ecs.Secret.fromSecretsManager(imported, 'password'), TOKEN: ecs.Secret.fromSecretsManager(imported) },
  });
  return task;
}

describe('DeployInvariants-RoleCanDecrypt', () => {
  test('REGRESSION: fails a task\'s execution role that fetches a secret encrypted with a key of another stack (the backend\'s shape)', () => {
    const { app, key, secret } = stateful();
    backendTask(app, key, secret);
    const found = findings(app).filter((f) => f.id.includes('RoleCanDecrypt'));
    expect(found.map((f) => `${f.id} @ ${f.path}`)).toEqual([
      'DeployInvariants-RoleCanDecrypt[kms:Decrypt:Stateful/Key/Resource] @ Stateless/Task/ExecutionRole/Resource',
    ]);
    expect(found[0].description).toMatch(/needs kms:Decrypt on Stateful\/Key\/Resource for .*Stateful\/Secret\/Resource/);
  });

  test('passes the execution role once it may decrypt with the key', () => {
    const { app, key, secret } = stateful();
    const task = backendTask(app, key, secret);
    task.obtainExecutionRole().addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] }));
    expect(findingsOf(app, 'RoleCanDecrypt')).toEqual([]);
  });

  test('a key policy that does not let IAM policies grant kms:Decrypt fails even a role that has it', () => {
    const app = newApp();
    const stack = newStack(app, 'Stateful');
    const key = new kms.CfnKey(stack, 'Key', { keyPolicy: { Version: '2012-10-17', Statement: [] } });
    const secret = new secretsmanager.CfnSecret(stack, 'Secret', { kmsKeyId: key.attrArn });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.ref] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.attrArn] }));
    expect(findingsOf(app, 'RoleCanDecrypt')).toEqual(['DeployInvariants-RoleCanDecrypt[kms:Decrypt:Stateful/Key] @ Stateful/Role/Resource']);
  });

  test('follows an import (Fn::ImportValue) to the exported secret and its key', () => {
    const { app, secret } = stateful();
    new CfnOutput(secret.stack, 'SecretArn', { value: secret.secretArn, exportName: 'backend-secret-arn' });
    const stack = newStack(app, 'Stateless');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [Fn.importValue('backend-secret-arn')] }));
    expect(findingsOf(app, 'RoleCanDecrypt')).toEqual(['DeployInvariants-RoleCanDecrypt[kms:Decrypt:Stateful/Key/Resource] @ Stateless/Role/Resource']);


    // Fixed: kms:Decrypt on the key, imported the same way (a new app: the first is synthesized already).
    const again = stateful();
    new CfnOutput(again.secret.stack, 'SecretArn', { value: again.secret.secretArn, exportName: 'backend-secret-arn' });
    const role2 = new iam.Role(newStack(again.app, 'Stateless'), 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role2.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [Fn.importValue('backend-secret-arn')] }));
    role2.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [Fn.importValue('backend-key-arn')] }));
    new CfnOutput(again.key.stack, 'KeyArn', { value: again.key.keyArn, exportName: 'backend-key-arn' });
    expect(findingsOf(again.app, 'RoleCanDecrypt')).toEqual([]);
  });

  test('publishing to an encrypted topic needs kms:GenerateDataKey too; CDK\'s grantPublish gives both', () => {
    const app = newApp();
    const stack = newStack(app, 'Stateless');
    const topic = new sns.Topic(stack, 'Topic', { masterKey: new kms.Key(stack, 'Key') });
    const bare = new iam.Role(stack, 'Bare', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    bare.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }));
    topic.grantPublish(new iam.Role(stack, 'Granted', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    expect(findingsOf(app, 'RoleCanDecrypt')).toEqual([
      'DeployInvariants-RoleCanDecrypt[kms:Decrypt:Stateless/Key/Resource] @ Stateless/Bare/Resource',
      'DeployInvariants-RoleCanDecrypt[kms:GenerateDataKey:Stateless/Key/Resource] @ Stateless/Bare/Resource',
    ]);
  });
});
