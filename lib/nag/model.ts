import * as fs from 'fs';
import * as path from 'path';
import { CfnResource, Stack, Stage, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { LONGEST_REGION, PLACEHOLDER_ACCOUNT } from './formats';

/** A resource of a synthesized template. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly [key: string]: unknown;
}

/** The parts of a synthesized CloudFormation template the rules read. */
export interface CfnTemplate {
  readonly Resources?: Record<string, TemplateResource>;
  readonly Outputs?: Record<string, { readonly Value: unknown; readonly Export?: { readonly Name: unknown } }>;
  readonly Parameters?: Record<string, { readonly Type?: string; readonly AllowedValues?: unknown[]; readonly MaxLength?: number | string }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

/** A resource named by a reference: the stack that holds it, its logical ID and the attribute read (undefined: Ref). */
export interface ResourceRef {
  readonly model: StackModel;
  readonly logicalId: string;
  readonly attribute?: string;
}

/**
 * One stack's synthesized template, read once per validation run and shared by every rule (the rules run per
 * resource; re-resolving the stack for each would cost a synth per resource).
 */
export class StackModel {
  readonly stackName: string;
  /** The stack's region when pinned, else the longest region name (see formats.ts). */
  readonly region: string;
  readonly account: string;
  readonly template: CfnTemplate;
  /** Size of the template as CloudFormation receives it. */
  readonly templateBytes: number;
  /** Memo of rendered attributes, by `logicalId|attribute` (estimate.ts). */
  readonly rendered = new Map<string, { readonly value: string; readonly unknowns: readonly string[] }>();
  private constructs?: Map<string, CfnResource>;

  constructor(readonly app: AppModel, readonly stack: Stack) {
    this.stackName = stack.stackName;
    this.region = Token.isUnresolved(stack.region) ? LONGEST_REGION : stack.region;
    this.account = Token.isUnresolved(stack.account) ? PLACEHOLDER_ACCOUNT : stack.account;
    // Validation plugins run after the assembly is written: the template file is exactly what gets deployed,
    // with cross-stack references already rendered. Without a synth (a rule called directly), render in memory.
    const stage = Stage.of(stack);
    const file = stage ? path.join(stage.outdir, stack.templateFile) : undefined;
    if (file && fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf-8');
      this.template = JSON.parse(text);
      this.templateBytes = Buffer.byteLength(text);
    } else {
      this.template = stack.resolve((stack as unknown as { _toCloudFormation(): unknown })._toCloudFormation());
      this.templateBytes = Buffer.byteLength(JSON.stringify(this.template, undefined, 1));
    }
  }

  resource(logicalId: string): TemplateResource | undefined {
    return this.template.Resources?.[logicalId];
  }

  logicalIdOf(node: CfnResource): string {
    return this.stack.resolve(node.logicalId);
  }

  /** The template resource of a construct of this stack. */
  resourceOf(node: CfnResource): TemplateResource | undefined {
    return this.resource(this.logicalIdOf(node));
  }

  /** The construct that renders a logical ID of this stack. */
  constructOf(logicalId: string): CfnResource | undefined {
    if (!this.constructs) {
      this.constructs = new Map();
      for (const c of this.stack.node.findAll()) {
        if (CfnResource.isCfnResource(c) && Stack.of(c) === this.stack) this.constructs.set(this.logicalIdOf(c), c);
      }
    }
    return this.constructs.get(logicalId);
  }

  /** Construct path of a logical ID (the logical ID itself when no construct renders it). */
  pathOf(logicalId: string): string {
    return this.constructOf(logicalId)?.node.path ?? `${this.stack.node.path}/${logicalId}`;
  }

  /** [logicalId, resource] of every resource of a type. */
  resourcesOfType(type: string): [string, TemplateResource][] {
    return Object.entries(this.template.Resources ?? {}).filter(([, r]) => r.Type === type);
  }
}

/** Every stack of an app, by construct and by deployed stack name, and the app's exports. */
export class AppModel {
  private readonly models = new Map<Stack, StackModel>();
  private stacks?: Stack[];
  private exportsByName?: Map<string, { model: StackModel; value: unknown }>;
  private readonly memos = new Map<string, unknown>();

  constructor(readonly root: IConstruct) {}

  of(stack: Stack): StackModel {
    let model = this.models.get(stack);
    if (!model) {
      model = new StackModel(this, stack);
      this.models.set(stack, model);
    }
    return model;
  }

  all(): StackModel[] {
    this.stacks ??= this.root.node.findAll().filter((c): c is Stack => Stack.isStack(c));
    return this.stacks.map((s) => this.of(s));
  }

  /** The stack deployed under `stackName` (Fn::GetStackOutput names its producer so). */
  named(stackName: string): StackModel | undefined {
    this.all();
    const stack = this.stacks!.find((s) => s.stackName === stackName);
    return stack ? this.of(stack) : undefined;
  }

  /** The output exported as `name` (Fn::ImportValue) and the stack that exports it. */
  exported(name: string): { model: StackModel; value: unknown } | undefined {
    if (!this.exportsByName) {
      this.exportsByName = new Map();
      for (const model of this.all()) {
        for (const output of Object.values(model.template.Outputs ?? {})) {
          const exportName = output.Export?.Name;
          // Export names are literals in CDK's output; one built with intrinsics is not matched (left unknown).
          if (typeof exportName === 'string') this.exportsByName.set(exportName, { model, value: output.Value });
        }
      }
    }
    return this.exportsByName.get(name);
  }

  /** An app-wide index computed once per validation run (e.g. which resources use a key). */
  memo<T>(key: string, compute: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, compute());
    return this.memos.get(key) as T;
  }
}

const apps = new WeakMap<IConstruct, AppModel>();

/** The app model of a construct's app (one per validation run: see {@link resetModels}). */
export function appModelOf(node: IConstruct): AppModel {
  const root = node.node.root;
  let app = apps.get(root);
  if (!app) {
    app = new AppModel(root);
    apps.set(root, app);
  }
  return app;
}

/** The model of the stack that holds a construct. */
export function modelOf(node: IConstruct): StackModel {
  return appModelOf(node).of(Stack.of(node));
}

/** Forgets an app's models, so the next validation run reads the templates it validates. */
export function resetModels(scope: IConstruct): void {
  apps.delete(scope.node.root);
}

/**
 * The resources an expression refers to, following cross-stack references to the producing stack: Ref,
 * Fn::GetAtt, Fn::Sub variables, Fn::GetStackOutput (CDK's cross-stack references) and Fn::ImportValue (exports).
 */
export function referencedResources(value: unknown, model: StackModel, seen = new Set<unknown>()): ResourceRef[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return [];
  seen.add(value);
  if (Array.isArray(value)) return value.flatMap((v) => referencedResources(v, model, seen));
  const obj = value as Record<string, any>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const arg = obj[keys[0]];
    switch (keys[0]) {
      case 'Ref':
        return typeof arg === 'string' && model.resource(arg) ? [{ model, logicalId: arg }] : [];
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/);
        return model.resource(id) ? [{ model, logicalId: id, attribute }] : [];
      }
      case 'Fn::Sub': {
        const [text, vars] = typeof arg === 'string' ? [arg, {}] : arg;
        const refs = referencedResources(vars, model, seen);
        for (const [, name] of String(text).matchAll(/\$\{([^!}][^}]*)\}/g)) {
          if (vars && name in vars) continue;
          const [id, attribute] = name.split(/\.(.*)/);
          if (model.resource(id)) refs.push({ model, logicalId: id, attribute: attribute || undefined });
        }
        return refs;
      }
      case 'Fn::GetStackOutput': {
        const producer = typeof arg?.StackName === 'string' ? model.app.named(arg.StackName) : undefined;
        const output = producer && typeof arg.OutputName === 'string' ? producer.template.Outputs?.[arg.OutputName] : undefined;
        return output ? referencedResources(output.Value, producer!, seen) : [];
      }
      case 'Fn::ImportValue': {
        const exported = typeof arg === 'string' ? model.app.exported(arg) : undefined;
        return exported ? referencedResources(exported.value, exported.model, seen) : [];
      }
      default:
        break;
    }
  }
  return keys.flatMap((k) => referencedResources(obj[k], model, seen));
}

/** The resources of a type an expression refers to. */
export function referencedOfType(value: unknown, model: StackModel, type: string): ResourceRef[] {
  return referencedResources(value, model).filter((r) => r.model.resource(r.logicalId)?.Type === type);
}

/** Whether two references name the same resource. */
export function sameResource(a: ResourceRef, b: ResourceRef): boolean {
  return a.model === b.model && a.logicalId === b.logicalId;
}
