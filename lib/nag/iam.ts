import { referencedOfType, type AppModel, type ResourceRef, type StackModel } from './model';

/** A policy document and the stack whose template holds it (where its references resolve). */
export interface PolicyDocumentRef {
  readonly document: unknown;
  readonly model: StackModel;
  /** Where it comes from, for the report (the role itself or the policy resource's construct path). */
  readonly source: string;
}

const roleKey = (r: ResourceRef) => `${r.model.stack.node.path}|${r.logicalId}`;

/**
 * Policies attached to each role of the app, by role: the AWS::IAM::Policy resources that name it (they become
 * the role's inline policies) and the AWS::IAM::ManagedPolicy resources of the app attached to it. Computed once
 * per validation run.
 */
function attachedPolicies(app: AppModel): { inline: Map<string, PolicyDocumentRef[]>; managed: Map<string, PolicyDocumentRef[]> } {
  return app.memo('attached-policies', () => {
    const inline = new Map<string, PolicyDocumentRef[]>();
    const managed = new Map<string, PolicyDocumentRef[]>();
    const add = (map: Map<string, PolicyDocumentRef[]>, role: ResourceRef, doc: PolicyDocumentRef) => map.set(roleKey(role), [...(map.get(roleKey(role)) ?? []), doc]);
    for (const model of app.all()) {
      for (const [id, policy] of model.resourcesOfType('AWS::IAM::Policy')) {
        const doc = { document: policy.Properties?.PolicyDocument, model, source: model.pathOf(id) };
        for (const role of referencedOfType(policy.Properties?.Roles, model, 'AWS::IAM::Role')) add(inline, role, doc);
      }
      for (const [id, policy] of model.resourcesOfType('AWS::IAM::ManagedPolicy')) {
        const doc = { document: policy.Properties?.PolicyDocument, model, source: model.pathOf(id) };
        for (const role of referencedOfType(policy.Properties?.Roles, model, 'AWS::IAM::Role')) add(managed, role, doc);
      }
      for (const [id, role] of model.resourcesOfType('AWS::IAM::Role')) {
        for (const ref of referencedOfType(role.Properties?.ManagedPolicyArns, model, 'AWS::IAM::ManagedPolicy')) {
          const policy = ref.model.resource(ref.logicalId)!;
          add(managed, { model, logicalId: id }, { document: policy.Properties?.PolicyDocument, model: ref.model, source: ref.model.pathOf(ref.logicalId) });
        }
      }
    }
    return { inline, managed };
  });
}

/** The role's inline policies: its own `Policies` and the AWS::IAM::Policy resources attached to it. */
export function inlinePoliciesOf(role: ResourceRef): PolicyDocumentRef[] {
  const resource = role.model.resource(role.logicalId);
  const own = ((resource?.Properties?.Policies ?? []) as { PolicyDocument?: unknown; PolicyName?: unknown }[]).map((p) => ({
    document: p.PolicyDocument,
    model: role.model,
    source: role.model.pathOf(role.logicalId),
  }));
  return [...own, ...(attachedPolicies(role.model.app).inline.get(roleKey(role)) ?? [])];
}

/** Every policy document that grants the role permissions: inline and the app's managed policies attached to it. */
export function policiesOf(role: ResourceRef): PolicyDocumentRef[] {
  return [...inlinePoliciesOf(role), ...(attachedPolicies(role.model.app).managed.get(roleKey(role)) ?? [])];
}
