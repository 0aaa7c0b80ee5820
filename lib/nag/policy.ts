import { renderIdentity } from './estimate';
import type { StackModel } from './model';

/** One statement of an IAM or key policy, as written in the template (resources left as expressions). */
export interface Statement {
  readonly effect: string;
  readonly actions: readonly string[];
  /** Resource expressions; a statement with NotResource has none (never counted as allowing). */
  readonly resources: readonly unknown[];
  /** Service principals, rendered. */
  readonly services: readonly string[];
  /** AWS principals (expressions), `*` included. */
  readonly awsPrincipals: readonly unknown[];
  /** `Principal: "*"`. */
  readonly anyPrincipal: boolean;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The Allow statements of a policy document. Conditions are not evaluated: a conditional Allow counts as
 * allowing (these rules look for permissions that are MISSING; a condition can only narrow one that is there).
 * Statements with NotAction or NotResource are skipped, so they never satisfy a requirement.
 */
export function allowStatements(document: unknown, model: StackModel): Statement[] {
  const statements = list((document as { Statement?: unknown } | undefined)?.Statement) as Record<string, any>[];
  return statements
    .filter((s) => s && s.Effect === 'Allow' && s.Action !== undefined)
    .map((s) => {
      const principal = s.Principal;
      const anyPrincipal = principal === '*';
      const principals = typeof principal === 'object' && principal !== null ? principal : {};
      return {
        effect: 'Allow',
        actions: list(s.Action).map((a) => renderIdentity(a, model)),
        resources: list(s.Resource),
        services: list(principals.Service).map((p) => renderIdentity(p, model)),
        awsPrincipals: list(principals.AWS),
        anyPrincipal,
      };
    });
}

/** IAM wildcard match (`*`, `?`), case-insensitive as IAM matches actions. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = true): boolean {
  const regex = new RegExp(`^${pattern.split('').map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, caseInsensitive ? 'i' : '');
  return regex.test(value);
}

/** Whether a statement's actions cover `action` (e.g. `kms:GenerateDataKey*` covers `kms:GenerateDataKey`). */
export function allowsAction(statement: Statement, action: string): boolean {
  return statement.actions.some((a) => wildcardMatch(a, action));
}

/**
 * Whether a statement's resources cover a resource whose ARN renders as `arn`: `*`, or a pattern that matches it.
 * Both sides are rendered by the same estimator in `identity` mode, so a reference to the resource (in this stack or
 * through a cross-stack reference) renders to the same string as the ARN itself.
 */
export function allowsResource(statement: Statement, arn: string, model: StackModel): boolean {
  return statement.resources.some((r) => wildcardMatch(renderIdentity(r, model), arn, false));
}
