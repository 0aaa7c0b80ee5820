import { renderIdentity } from './estimate';
import { referencedOfType, type ResourceRef, type StackModel } from './model';
import { allowStatements, allowsAction, type Statement } from './policy';

/**
 * The customer-managed keys an expression names (a key ARN or ID, or an alias of the app resolved to its key);
 * an AWS-managed key (`alias/aws/sns`) names none.
 */
export function keysOf(value: unknown, model: StackModel): ResourceRef[] {
  const keys = referencedOfType(value, model, 'AWS::KMS::Key');
  for (const alias of referencedOfType(value, model, 'AWS::KMS::Alias')) {
    keys.push(...referencedOfType(alias.model.resource(alias.logicalId)?.Properties?.TargetKeyId, alias.model, 'AWS::KMS::Key'));
  }
  return keys;
}

/** The rendered ARN of a key (the same string a reference to it renders to, in any stack). */
export function keyArn(key: ResourceRef): string {
  return renderIdentity({ 'Fn::GetAtt': [key.logicalId, 'Arn'] }, key.model);
}

function keyStatements(key: ResourceRef): Statement[] {
  return key.model.app.memo(`key-statements:${key.model.stack.node.path}|${key.logicalId}`, () =>
    allowStatements(key.model.resource(key.logicalId)?.Properties?.KeyPolicy, key.model),
  );
}

/** Whether the key policy lets a service principal (e.g. `cloudtrail.amazonaws.com`) perform `action`. */
export function keyPolicyAllowsService(key: ResourceRef, service: string, action: string): boolean {
  return keyStatements(key).some(
    (s) => (s.anyPrincipal || s.services.includes(service) || s.awsPrincipals.some((p) => renderIdentity(p, key.model) === '*')) && allowsAction(s, action),
  );
}

/**
 * Whether the key policy lets IAM policies of the key's account grant `action`: a statement for the account
 * (`arn:…:iam::<account>:root` or the account ID). Without it, an IAM policy alone grants nothing on the key.
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
 */
export function keyPolicyAllowsIamPolicies(key: ResourceRef, action: string): boolean {
  const account = key.model.account;
  return keyStatements(key).some(
    (s) =>
      allowsAction(s, action) &&
      s.awsPrincipals.some((p) => {
        const principal = renderIdentity(p, key.model);
        return principal === account || new RegExp(`^arn:[^:]+:iam::${account}:root$`).test(principal);
      }),
  );
}

/** Whether the key policy names the principal (rendered ARN) itself for `action`. */
export function keyPolicyAllowsPrincipal(key: ResourceRef, principalArn: string, action: string): boolean {
  return keyStatements(key).some((s) => allowsAction(s, action) && (s.anyPrincipal || s.awsPrincipals.some((p) => renderIdentity(p, key.model) === principalArn)));
}
