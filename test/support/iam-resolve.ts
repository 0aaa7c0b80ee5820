/**
 * A handler's synthesized role policy, resolved with the emulator's ARNs, for the IAM-against-code check
 * (test/iam/). The policy's Resources and condition values are CloudFormation expressions (Ref, Fn::GetAtt, Fn::Join,
 * Fn::Select/Fn::Split, cross-stack outputs, pseudo parameters); this resolves them with a substitution built by
 * zipping the synthesized topology (`TrafficControl.topology`, resolved by its stack) with the moto fixture's topology
 * — same positions, CloudFormation expression on one side, moto value on the other — plus explicit bindings, and
 * attributes derived by their documented formats (a table's Arn from its name, a service's ARN from its cluster and
 * name, an alarm's Arn from its name, a cluster's Arn from its name).
 *
 * What cannot be resolved becomes a marker `⟨unresolved: …⟩` that matches no ARN, so a statement that names a
 * resource the emulator run does not know cannot allow anything, and the failure message says what was missing.
 */
import type { Statement } from './iam-policy';
import type { ArnScope } from './iam-calls';

type Json = any;

export const UNRESOLVED = '⟨unresolved';
const unresolved = (why: string) => `${UNRESOLVED}: ${why}⟩`;

/** A single-key object whose key is Ref or Fn::… (a CloudFormation intrinsic). */
export function isIntrinsic(v: Json): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
}

const keyOf = (expr: Json) => JSON.stringify(expr);

export interface ResolverOptions {
  /** The synthesized template holding the resources referenced. */
  readonly template: { Resources: Record<string, { Type: string; Properties?: Json }> };
  /** The emulator's partition, region and account (pseudo parameters and derived ARNs). */
  readonly scope: ArnScope;
  /**
   * Literal strings of the synthesized app to replace in every resolved string, e.g. the configured account ID
   * (stacks with a concrete env write it literally into ARNs) → the emulator's account.
   */
  readonly literals?: readonly (readonly [string, string])[];
  /**
   * The exports of `template`'s stack (its Outputs' Export.Name → Value): a policy of another stack (the monitoring
   * stack's crash detection) names them by `Fn::ImportValue`, resolved to the exported expression here.
   */
  readonly exports?: Readonly<Record<string, Json>>;
}

/** The exports of a synthesized template: Export.Name → the output's Value expression. */
export function exportsOf(template: { Outputs?: Record<string, { Value: Json; Export?: { Name: Json } }> }): Record<string, Json> {
  return Object.fromEntries(
    Object.values(template.Outputs ?? {})
      .filter((o) => typeof o.Export?.Name === 'string')
      .map((o) => [o.Export!.Name as string, o.Value]),
  );
}

export class CfnResolver {
  private readonly bound = new Map<string, string>();
  private readonly template: ResolverOptions['template'];
  private readonly scope: ArnScope;
  private readonly literals: readonly (readonly [string, string])[];
  private readonly exports: Readonly<Record<string, Json>>;

  constructor(options: ResolverOptions) {
    this.template = options.template;
    this.exports = options.exports ?? {};
    this.scope = options.scope;
    this.literals = options.literals ?? [];
  }

  /** Binds one CloudFormation expression (as synthesized) to its emulator value. */
  bind(expr: Json, value: string): this {
    if (!isIntrinsic(expr)) throw new Error(`bind needs a CloudFormation intrinsic, got ${keyOf(expr)}`);
    const key = keyOf(expr);
    const had = this.bound.get(key);
    if (had !== undefined && had !== value) throw new Error(`${key} is bound to ${had} and ${value}: the two topologies do not line up`);
    this.bound.set(key, value);
    return this;
  }

  /**
   * Zips a synthesized structure (resolved by its stack: intrinsics at the leaves) with the emulator's structure of the
   * same shape, binding every intrinsic leaf to the emulator's value at the same position. Arrays are zipped up to
   * the shorter one; literals must be equal (they are the same configuration); keys missing on one side are skipped.
   */
  zip(synth: Json, emulator: Json, path = '$'): this {
    if (isIntrinsic(synth)) {
      if (typeof emulator === 'string') this.bind(synth, emulator);
      return this;
    }
    if (Array.isArray(synth) && Array.isArray(emulator)) {
      for (let i = 0; i < Math.min(synth.length, emulator.length); i++) this.zip(synth[i], emulator[i], `${path}[${i}]`);
      return this;
    }
    if (synth && typeof synth === 'object' && emulator && typeof emulator === 'object') {
      for (const k of Object.keys(synth)) if (k in emulator) this.zip(synth[k], emulator[k], `${path}.${k}`);
    }
    return this;
  }

  private resource(id: string) {
    const r = this.template.Resources[id];
    if (!r) throw new Error(`no resource ${id} in the template`);
    return r;
  }

  private arn(service: string, resource: string): string {
    return `arn:${this.scope.partition}:${service}:${this.scope.region}:${this.scope.account}:${resource}`;
  }

  /** A Ref or GetAtt not bound: derived from other bindings by the resource type's documented ARN format. */
  private derive(expr: Json): string | undefined {
    if (expr.Ref !== undefined) {
      const r = this.resource(expr.Ref);
      if (r.Type === 'AWS::ECS::Service') {
        // Ref of a service is its ARN: arn:…:service/<cluster>/<name> (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html#aws-resource-ecs-service-return-values)
        const name = this.bound.get(keyOf({ 'Fn::GetAtt': [expr.Ref, 'Name'] }));
        const cluster = this.resolveString(r.Properties?.Cluster);
        if (name === undefined || cluster.startsWith(UNRESOLVED)) return undefined;
        return this.arn('ecs', `service/${cluster.startsWith('arn:') ? cluster.split('/').pop() : cluster}/${name}`);
      }
      return undefined;
    }
    const [id, attr] = expr['Fn::GetAtt'] as [string, string];
    const r = this.resource(id);
    const name = this.bound.get(keyOf({ Ref: id }));
    if (name === undefined) return undefined;
    if (attr === 'Arn' && (r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table')) return this.arn('dynamodb', `table/${name}`);
    if (attr === 'Arn' && r.Type === 'AWS::ECS::Cluster') return this.arn('ecs', `cluster/${name}`);
    // Metric and composite alarms share the alarm ARN format: arn:…:cloudwatch:<region>:<account>:alarm:<name>.
    if (attr === 'Arn' && (r.Type === 'AWS::CloudWatch::Alarm' || r.Type === 'AWS::CloudWatch::CompositeAlarm')) return this.arn('cloudwatch', `alarm:${name}`);
    return undefined;
  }

  /** Resolves an expression to a string or a list of strings (Fn::Split), unresolvable parts marked. */
  resolve(expr: Json): string | string[] {
    if (typeof expr === 'string') return this.literal(expr);
    if (typeof expr === 'number' || typeof expr === 'boolean') return String(expr);
    if (Array.isArray(expr)) return expr.map((e) => this.resolveString(e));
    if (!isIntrinsic(expr)) return unresolved(`not an expression: ${keyOf(expr)}`);
    const hit = this.bound.get(keyOf(expr));
    if (hit !== undefined) return hit;
    const [fn, arg] = Object.entries(expr)[0] as [string, Json];
    switch (fn) {
      case 'Ref':
        if (arg === 'AWS::Partition') return this.scope.partition;
        if (arg === 'AWS::Region') return this.scope.region;
        if (arg === 'AWS::AccountId') return this.scope.account;
        if (arg === 'AWS::URLSuffix') return 'amazonaws.com';
        return this.derive(expr) ?? unresolved(`Ref ${arg} (${this.resource(arg).Type})`);
      case 'Fn::GetAtt':
        return this.derive(expr) ?? unresolved(`Fn::GetAtt ${arg.join('.')} (${this.resource(arg[0]).Type})`);
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, Json[]];
        return parts.map((p) => this.resolveString(p)).join(sep);
      }
      case 'Fn::Split': {
        const [sep, source] = arg as [string, Json];
        const s = this.resolveString(source);
        return s.startsWith(UNRESOLVED) ? [s] : s.split(sep);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number | string, Json];
        const items = this.resolve(list);
        const values = Array.isArray(items) ? items : [items];
        const i = Number(index);
        // CloudFormation rejects the template when the index is out of range, so the deploy would fail.
        if (i < 0 || i >= values.length) return unresolved(`Fn::Select index ${i} of ${values.length} item(s) ${JSON.stringify(values)}: CloudFormation fails the deploy`);
        return values[i];
      }
      case 'Fn::ImportValue':
        return typeof arg === 'string' && arg in this.exports ? this.resolve(this.exports[arg]) : unresolved(`Fn::ImportValue ${keyOf(arg)} (not an export of this template)`);
      default:
        return unresolved(`${fn} ${keyOf(arg)}`);
    }
  }

  resolveString(expr: Json): string {
    const v = this.resolve(expr);
    return Array.isArray(v) ? unresolved(`a list where a string was expected: ${JSON.stringify(v)}`) : v;
  }

  private literal(s: string): string {
    return this.literals.reduce((acc, [from, to]) => acc.split(from).join(to), s);
  }

  /** A resolved copy of a policy statement (Action, Resource, Condition values). */
  statement(s: Json): Statement {
    const strings = (v: Json) => (v === undefined ? undefined : Array.isArray(v) ? v.map((x) => this.resolveString(x)) : this.resolveString(v));
    const out: Record<string, unknown> = { Effect: s.Effect };
    if (s.Sid !== undefined) out.Sid = s.Sid;
    for (const k of ['Action', 'NotAction', 'Resource', 'NotResource']) if (s[k] !== undefined) out[k] = strings(s[k]);
    if (s.Condition) {
      out.Condition = Object.fromEntries(
        Object.entries(s.Condition as Record<string, Record<string, Json>>).map(([op, block]) => [op, Object.fromEntries(Object.entries(block).map(([k, v]) => [k, strings(v)]))]),
      );
    }
    for (const k of Object.keys(s)) if (!['Effect', 'Sid', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'].includes(k)) throw new Error(`statement field ${k} is not supported`);
    return out as unknown as Statement;
  }
}

/**
 * Every statement of a role's identity policies in the template: the AWS::IAM::Policy resources attached to it and
 * its inline Policies, as synthesized (unresolved). A managed policy attached to the role cannot be checked here and
 * throws.
 */
export function roleStatements(template: ResolverOptions['template'], roleLogicalId: string): Json[] {
  const role = template.Resources[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not an AWS::IAM::Role in the template`);
  if (role.Properties?.ManagedPolicyArns?.length) {
    throw new Error(`role ${roleLogicalId} has managed policies ${JSON.stringify(role.Properties.ManagedPolicyArns)}: not evaluable here`);
  }
  const inline = ((role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Json[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties?.Roles ?? []).some((ref: Json) => ref?.Ref === roleLogicalId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Json[]);
  return [...inline, ...attached];
}
