import { LONGEST_REGION, PARTITION, UNKNOWN_LENGTH, URL_SUFFIX, renderAttribute } from './formats';
import type { StackModel } from './model';

/**
 * The size estimator: renders a template value (with CloudFormation intrinsics) to the LONGEST value it can
 * resolve to at deploy time, so a size computed from the rendering is an upper bound.
 *
 * - Ref / Fn::GetAtt of a resource: formats.ts (generated names at their documented limit, ARNs per their format);
 * - pseudo parameters: the longest region name (a region token can resolve to any region the config is moved to),
 *   the stack's account (12 digits either way), partition `aws-us-gov`;
 * - Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::Base64, Fn::ToJsonString, Fn::Length: evaluated;
 * - Fn::GetStackOutput and Fn::ImportValue: the producing stack's output, rendered in that stack;
 * - Fn::If: the longer branch; Fn::FindInMap: the entry when the keys are literal, else the longest entry;
 * - anything the table does not know (a custom resource's attribute, a parameter without AllowedValues or
 *   MaxLength, an export not in the app): {@link UNKNOWN_LENGTH} characters, and its name is added to `unknowns`.
 */

/** `Ref: AWS::NoValue`: the property is removed. */
const NO_VALUE = Symbol('AWS::NoValue');

/** Names of what was estimated with the conservative default, in the order met. */
export type Unknowns = string[];

/**
 * `estimate` (default): region tokens at the longest region name, for sizes. `identity`: region tokens at the
 * stack's own region, for comparing references (a key policy's `logs.us-east-1.amazonaws.com`, an ARN pattern
 * with the region written out) with what they must match.
 */
export type RenderMode = 'estimate' | 'identity';

interface Ctx {
  readonly unknowns: Unknowns;
  readonly mode: RenderMode;
}

const regionOf = (model: StackModel, ctx: Ctx) => (ctx.mode === 'identity' ? model.region : LONGEST_REGION);

const unknownString = (what: string, ctx: Ctx) => {
  ctx.unknowns.push(what);
  return 'X'.repeat(UNKNOWN_LENGTH);
};

/** The longest value `value` can resolve to, as JSON data (strings, numbers, lists, objects). */
export function render(value: unknown, model: StackModel, unknowns: Unknowns = [], mode: RenderMode = 'estimate'): unknown {
  const rendered = evaluate(value, model, { unknowns, mode }, 0);
  return rendered === NO_VALUE ? undefined : rendered;
}

/** The longest string `value` can resolve to. */
export function renderString(value: unknown, model: StackModel, unknowns: Unknowns = [], mode: RenderMode = 'estimate'): string {
  return asString(evaluate(value, model, { unknowns, mode }, 0));
}

/** Length of the JSON of the longest value: what Lambda (environment) and EventBridge (pattern) count. */
export function jsonLength(value: unknown, model: StackModel, unknowns: Unknowns = []): number {
  return Buffer.byteLength(JSON.stringify(render(value, model, unknowns)) ?? '');
}

function asString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === NO_VALUE || v === undefined) return '';
  return JSON.stringify(v);
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function evaluate(value: unknown, model: StackModel, ctx: Ctx, depth: number): unknown {
  if (depth > 64) return unknownString('expression nested deeper than 64', ctx);
  const ev = (v: unknown, m: StackModel = model) => evaluate(v, m, ctx, depth + 1);
  if (Array.isArray(value)) return value.map((v) => ev(v)).filter((v) => v !== NO_VALUE);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, any>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition')) {
    const arg = obj[keys[0]];
    switch (keys[0]) {
      case 'Ref':
        return ref(String(arg), model, ctx);
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/);
        return attribute_(model, String(id), asString(ev(attribute)), ctx);
      }
      case 'Fn::Join': {
        const [delimiter, list] = arg;
        return asList(ev(list)).map(asString).join(asString(ev(delimiter)));
      }
      case 'Fn::Sub':
        return sub(arg, model, ctx, depth);
      case 'Fn::Select': {
        const [index, list] = arg;
        const items = asList(ev(list));
        const i = Number(ev(index));
        if (!(i >= 0 && i < items.length)) return unknownString(`Fn::Select index ${i} of ${items.length} item(s)`, ctx);
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = arg;
        return asString(ev(source)).split(asString(ev(delimiter)));
      }
      case 'Fn::GetStackOutput': {
        const stackName = asString(ev(arg?.StackName));
        const outputName = asString(ev(arg?.OutputName));
        const producer = model.app.named(stackName);
        const output = producer?.template.Outputs?.[outputName];
        if (!producer || !output) return unknownString(`Fn::GetStackOutput ${stackName}.${outputName}`, ctx);
        return ev(output.Value, producer);
      }
      case 'Fn::ImportValue': {
        const name = asString(ev(arg));
        const exported = model.app.exported(name);
        if (!exported) return unknownString(`Fn::ImportValue ${name}`, ctx);
        return ev(exported.value, exported.model);
      }
      case 'Fn::If': {
        const [, whenTrue, whenFalse] = arg;
        const [a, b] = [ev(whenTrue), ev(whenFalse)];
        const size = (v: unknown) => (v === NO_VALUE ? 0 : (JSON.stringify(v) ?? '').length);
        return size(a) >= size(b) ? a : b;
      }
      case 'Fn::FindInMap':
        return findInMap(arg, model, ctx, depth);
      case 'Fn::Base64':
        return 'X'.repeat(4 * Math.ceil(Buffer.byteLength(asString(ev(arg))) / 3));
      case 'Fn::ToJsonString':
        return JSON.stringify(ev(arg));
      case 'Fn::Length':
        return asList(ev(arg)).length;
      case 'Fn::GetAZs':
        // At most 6 AZs in a region; each name is the region plus a letter.
        return Array.from({ length: 6 }, () => `${regionOf(model, ctx)}a`);
      case 'Fn::Cidr': {
        const count = Number(ev(arg[1]));
        return Array.from({ length: Number.isFinite(count) ? count : 256 }, () => '255.255.255.255/32');
      }
      case 'Fn::Equals':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Fn::Not':
      case 'Fn::Contains':
      case 'Fn::EachMemberEquals':
      case 'Fn::EachMemberIn':
      case 'Condition':
        return true;
      default:
        return unknownString(keys[0], ctx);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = ev(obj[k]);
    if (v !== NO_VALUE) out[k] = v;
  }
  return out;
}

function ref(name: string, model: StackModel, ctx: Ctx): unknown {
  switch (name) {
    case 'AWS::Region':
      return regionOf(model, ctx);
    case 'AWS::AccountId':
      return model.account;
    case 'AWS::Partition':
      return PARTITION;
    case 'AWS::URLSuffix':
      return URL_SUFFIX;
    case 'AWS::StackName':
      return model.stackName;
    case 'AWS::StackId':
      return `arn:${PARTITION}:cloudformation:${regionOf(model, ctx)}:${model.account}:stack/${model.stackName}/${'0'.repeat(36)}`;
    case 'AWS::NotificationARNs':
      return [];
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      break;
  }
  const parameter = model.template.Parameters?.[name];
  if (parameter) {
    if (parameter.AllowedValues?.length) return parameter.AllowedValues.map(String).reduce((a, b) => (b.length > a.length ? b : a));
    if (parameter.MaxLength !== undefined) return 'X'.repeat(Number(parameter.MaxLength));
    return unknownString(`Parameter ${name}`, ctx);
  }
  return attribute_(model, name, undefined, ctx);
}

/** Ref (attribute undefined) or Fn::GetAtt of a resource, memoized per stack. */
function attribute_(model: StackModel, logicalId: string, attribute: string | undefined, ctx: Ctx): string {
  const key = `${ctx.mode}|${logicalId}|${attribute ?? ''}`;
  let hit = model.rendered.get(key);
  if (!hit) {
    const resource = model.resource(logicalId);
    const found: Ctx = { unknowns: [], mode: ctx.mode };
    let value: string | undefined;
    if (resource) {
      const properties = resource.Properties ?? {};
      value = renderAttribute(resource.Type, attribute, {
        stackName: model.stackName,
        region: regionOf(model, ctx),
        account: model.account,
        logicalId,
        prop: (p) => (properties[p] === undefined ? undefined : asString(evaluate(properties[p], model, found, 0))),
      });
    }
    if (value === undefined) {
      const what = resource ? `${resource.Type}.${attribute ?? 'Ref'}` : `${logicalId} (not in ${model.stackName})`;
      value = unknownString(what, found);
    }
    hit = { value, unknowns: found.unknowns };
    model.rendered.set(key, hit);
  }
  ctx.unknowns.push(...hit.unknowns);
  return hit.value;
}

function sub(arg: unknown, model: StackModel, ctx: Ctx, depth: number): string {
  const [text, vars] = typeof arg === 'string' ? [arg, {} as Record<string, unknown>] : (arg as [string, Record<string, unknown>]);
  return String(text).replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    if (vars && name in vars) return asString(evaluate(vars[name], model, ctx, depth + 1));
    const [id, attribute] = name.split(/\.(.*)/);
    if (attribute) return attribute_(model, id, attribute, ctx);
    return asString(ref(id, model, ctx));
  });
}

function findInMap(arg: unknown[], model: StackModel, ctx: Ctx, depth: number): unknown {
  const [mapName, topKey, secondKey] = arg.slice(0, 3).map((v) => evaluate(v, model, ctx, depth + 1));
  const mapping = model.template.Mappings?.[asString(mapName)];
  if (!mapping) return unknownString(`Fn::FindInMap ${asString(mapName)}`, ctx);
  const top = mapping[asString(topKey)];
  if (top && asString(secondKey) in top) return top[asString(secondKey)];
  // A key the mapping does not hold literally (e.g. the region of an environment-agnostic stack): the longest entry.
  const values = Object.values(mapping).flatMap((m) => Object.values(m));
  return values.reduce<unknown>((a, b) => ((JSON.stringify(b) ?? '').length > (JSON.stringify(a) ?? '').length ? b : a), '');
}

/** A value rendered for comparison (region tokens at the stack's own region): see {@link RenderMode}. */
export function renderIdentity(value: unknown, model: StackModel): string {
  return renderString(value, model, [], 'identity');
}
