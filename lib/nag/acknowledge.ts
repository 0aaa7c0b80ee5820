import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
// Not re-exported by cdk-nag's index; the same function names its findings.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';

/**
 * The finding ID cdk-nag's AwsSolutions-IAM5 gives a wildcard resource built with CloudFormation
 * functions, flattened by cdk-nag's own function so the acknowledgment names exactly that resource.
 */
export function iam5ResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(resource))}]`;
}

/**
 * Acknowledges AwsSolutions-IAM5 for the wildcard `resource` on `scope`, naming the finding once the app is prepared:
 * a resource of another stack (a role in the monitoring stack granted on the stateless stack's listener rules) is an
 * `Fn::ImportValue` in the template only after CDK resolves cross-stack references, and cdk-nag names the finding by
 * that form. Node validations run after that step and before the assembly (and cdk-nag) reads the acknowledgments.
 */
export function acknowledgeIam5Resource(scope: IConstruct, resource: string, reason: string): void {
  scope.node.addValidation({
    validate: () => {
      Validations.of(scope).acknowledge({ id: iam5ResourceFinding(scope, resource), reason });
      return [];
    },
  });
}

/** CDK's grants on a KMS-encrypted table or topic use `kms:GenerateDataKey*` and `kms:ReEncrypt*` on that one key. */
export function acknowledgeKmsGrantWildcards(scope: IConstruct, what: string): void {
  for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason: `CDK's grant on ${what} encrypted with this environment's key: the action wildcard covers the GenerateDataKey/ReEncrypt variants on that single key`,
    });
  }
}
