/**
 * A small IAM identity-policy evaluator for tests: does this role's policy allow this action on this resource with
 * these context keys? Used to check every AWS call a handler makes against its synthesized role policy, because moto
 * does not enforce resource-level IAM (../shared/notes/aws-emulator.md).
 *
 * Why not @cloud-copilot/iam-simulate (the maintained simulator): it is AGPL-3.0-or-later, which this UNLICENSED
 * project should not take on without a licensing decision; what the project needs is the small, documented core below.
 *
 * Semantics (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html), identity
 * policies of one account only:
 *   - an explicit Deny wins; else any Allow allows; else the request is implicitly denied;
 *   - Action / NotAction: case-insensitive, `*` and `?` wildcards;
 *   - Resource / NotResource: `*` matches anything; otherwise each of the six colon-separated ARN parts is matched on
 *     its own with `*` / `?` (the resource part keeps its colons), as for ArnLike
 *     (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN);
 *   - Condition: StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals, ArnLike,
 *     ArnNotEquals, ArnNotLike, Bool, each with `IfExists`; the blocks of a statement are ANDed, the keys of a block
 *     ANDed, the values of a key ORed; condition key names are case-insensitive. A key missing from the request makes a
 *     positive operator false, a negated one true, and any `…IfExists` operator true.
 * Anything else (policy variables, unknown operators, ForAnyValue/ForAllValues, Principal) throws: an evaluator that
 * guessed would pass calls it should not.
 */

export type Effect = 'Allow' | 'Deny';

/** One statement of an identity policy, with every value already resolved to a string. */
export interface Statement {
  readonly Sid?: string;
  readonly Effect: Effect;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | boolean | readonly (string | boolean)[]>>>>;
}

export interface AuthorizationRequest {
  /** `service:Action`, e.g. `dynamodb:PutItem`. */
  readonly action: string;
  /** The resource ARN the action is authorized on, or `*` for actions without resource-level permissions. */
  readonly resource: string;
  /** Request context keys, e.g. `{ 'cloudwatch:namespace': 'SafeReleases' }`. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export interface Decision {
  readonly decision: 'allowed' | 'implicitDeny' | 'explicitDeny';
  /** The statements that matched the request (the Deny ones when explicitly denied). */
  readonly matched: readonly Statement[];
}

const list = <T>(v: T | readonly T[] | undefined): readonly T[] => (v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T]);

function globToRegExp(pattern: string, ignoreCase: boolean): RegExp {
  if (pattern.includes('${')) throw new Error(`policy variables are not supported by this evaluator: ${pattern}`);
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
}

/** `*` / `?` wildcard match of a whole string. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  return globToRegExp(pattern, ignoreCase).test(value);
}

/** The six parts of an ARN (`arn:partition:service:region:account:resource`), the resource part keeping its colons. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** ArnLike: `*` alone matches everything; otherwise part by part. */
export function arnMatch(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = arnParts(pattern);
  const a = arnParts(arn);
  if (!p || !a) return pattern === arn;
  return p.every((part, i) => globMatch(part, a[i]));
}

export function actionMatch(pattern: string, action: string): boolean {
  return globMatch(pattern, action, true);
}

type Compare = (policyValue: string, requestValue: string) => boolean;

const OPERATORS: Record<string, { compare: Compare; negated: boolean }> = {
  StringEquals: { compare: (p, r) => p === r, negated: false },
  StringNotEquals: { compare: (p, r) => p === r, negated: true },
  StringEqualsIgnoreCase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  StringLike: { compare: (p, r) => globMatch(p, r), negated: false },
  StringNotLike: { compare: (p, r) => globMatch(p, r), negated: true },
  ArnEquals: { compare: (p, r) => arnMatch(p, r), negated: false },
  ArnLike: { compare: (p, r) => arnMatch(p, r), negated: false },
  ArnNotEquals: { compare: (p, r) => arnMatch(p, r), negated: true },
  ArnNotLike: { compare: (p, r) => arnMatch(p, r), negated: true },
  Bool: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
};

function conditionHolds(operator: string, block: Readonly<Record<string, unknown>>, context: AuthorizationRequest['context']): boolean {
  const ifExists = operator.endsWith('IfExists');
  const name = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const op = OPERATORS[name];
  if (!op) throw new Error(`condition operator ${operator} is not supported by this evaluator`);
  const byLowerKey = new Map(Object.entries(context ?? {}).map(([k, v]) => [k.toLowerCase(), list(v as string | readonly string[])]));
  return Object.entries(block).every(([key, raw]) => {
    const policyValues = list(raw as string | readonly string[]).map(String);
    const requestValues = byLowerKey.get(key.toLowerCase());
    if (requestValues === undefined || requestValues.length === 0) return ifExists || op.negated;
    const anyMatch = requestValues.some((r) => policyValues.some((p) => op.compare(p, r)));
    return op.negated ? !anyMatch : anyMatch;
  });
}

/** Whether the statement applies to the request (its Effect aside). */
export function statementMatches(s: Statement, req: AuthorizationRequest): boolean {
  if ((s.Action === undefined) === (s.NotAction === undefined)) throw new Error(`statement needs exactly one of Action and NotAction: ${JSON.stringify(s)}`);
  if ((s.Resource === undefined) === (s.NotResource === undefined)) throw new Error(`statement needs exactly one of Resource and NotResource: ${JSON.stringify(s)}`);
  if ('Principal' in s || 'NotPrincipal' in s) throw new Error('resource policies (Principal) are not supported by this evaluator');
  const actionHit = s.Action !== undefined ? list(s.Action).some((a) => actionMatch(a, req.action)) : !list(s.NotAction).some((a) => actionMatch(a, req.action));
  if (!actionHit) return false;
  const resourceHit =
    s.Resource !== undefined ? list(s.Resource).some((r) => arnMatch(r, req.resource)) : !list(s.NotResource).some((r) => arnMatch(r, req.resource));
  if (!resourceHit) return false;
  return Object.entries(s.Condition ?? {}).every(([operator, block]) => conditionHolds(operator, block, req.context));
}

/** Evaluates one request against the statements of a principal's identity policies. */
export function evaluate(statements: readonly Statement[], req: AuthorizationRequest): Decision {
  const matched = statements.filter((s) => statementMatches(s, req));
  const denies = matched.filter((s) => s.Effect === 'Deny');
  if (denies.length > 0) return { decision: 'explicitDeny', matched: denies };
  if (matched.some((s) => s.Effect === 'Allow')) return { decision: 'allowed', matched };
  return { decision: 'implicitDeny', matched: [] };
}
