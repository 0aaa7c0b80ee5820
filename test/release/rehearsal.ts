/**
 * Local rehearsal of the real release state machine: the definition is taken from a synthesized template and run
 * with aws-local-stepfunctions, every Lambda task calling a local handler in-process (the project's release handlers,
 * their AWS calls going wherever their clients point, e.g. moto). Each Task is bound to the local handler of the
 * function its definition invokes: the function ARN (`Fn::GetAtt [<logicalId>, Arn]`) is resolved to a placeholder
 * naming the logical ID, and `handlers` maps logical IDs (see `releaseFunctionIds`) to local handlers.
 *
 *   const definition = definitionFromTemplate(template);            // or (template, 'ReleaseStateMachineABC123')
 *   const ids = releaseFunctionIds(stage);                          // { handler: 'Release…', backup: 'Release…' }
 *   const run = await runRehearsal(definition, { strategy: 'canary' }, { handlers: { [ids.handler]: h, [ids.backup]: b } });
 *
 * Works for any template holding the release state machine, e.g. the app's synthesized `<Stage>-Stateless` stack.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import type { IConstruct } from 'constructs';
import type { HandlerFunction } from '../../lib/handler-function';
import { ReleaseStateMachine } from '../../lib/release';

// aws-local-stepfunctions 3 calls Promise.withResolvers (Node >= 22); this project runs on Node 20.
const P = Promise as unknown as { withResolvers?: () => unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = () => {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export type Definition = { StartAt: string; States: Record<string, any>; TimeoutSeconds?: number; [k: string]: unknown };

const FUNCTION_ARN_PREFIX = 'arn:aws:lambda:us-east-1:123456789012:function:';

/** Placeholder for a CloudFormation value inside the definition string: Lambda ARNs stay valid ARNs. */
function placeholder(value: unknown): string {
  const v = value as Record<string, any>;
  if (v && Array.isArray(v['Fn::GetAtt'])) {
    const [id, attr] = v['Fn::GetAtt'];
    return attr === 'Arn' ? `${FUNCTION_ARN_PREFIX}${id}` : `${id}.${attr}`;
  }
  if (v && typeof v.Ref === 'string') {
    if (v.Ref === 'AWS::Partition') return 'aws';
    if (v.Ref === 'AWS::Region') return 'us-east-1';
    if (v.Ref === 'AWS::AccountId') return '123456789012';
    return v.Ref;
  }
  return 'PLACEHOLDER';
}

function resolveString(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v && Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'];
    return (parts as unknown[]).map((p) => (typeof p === 'string' ? p : placeholder(p))).join(sep);
  }
  throw new Error(`DefinitionString is neither a string nor an Fn::Join: ${JSON.stringify(value).slice(0, 200)}`);
}

/**
 * The ASL definition of the template's state machine (the only one, or `logicalId`), with CloudFormation references
 * replaced by placeholders (Lambda ARNs become `arn:aws:lambda:us-east-1:123456789012:function:<logicalId>`).
 */
export function definitionFromTemplate(template: Template | Record<string, any>, logicalId?: string): Definition {
  const json = template instanceof Template ? template.toJSON() : template;
  const machines = Object.entries((json.Resources ?? {}) as Record<string, any>).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  const found = logicalId ? machines.filter(([id]) => id === logicalId) : machines;
  if (found.length !== 1) {
    throw new Error(
      logicalId
        ? `no state machine ${logicalId} in the template (found ${machines.map(([id]) => id).join(', ') || 'none'})`
        : `expected one state machine, found ${machines.length} (${machines.map(([id]) => id).join(', ')}); pass its logical ID`,
    );
  }
  const props = found[0][1].Properties;
  const raw = props.DefinitionString ?? props.Definition;
  return (typeof raw === 'object' && !raw['Fn::Join'] ? raw : JSON.parse(resolveString(raw))) as Definition;
}

export type LocalHandler = (event: unknown) => Promise<unknown>;

/** Logical IDs of the release construct's Lambda functions in its stack's template. */
export interface ReleaseFunctionIds {
  /** The release handler (every Task but Backup). */
  readonly handler: string;
  /** The backup handler (Task Backup); absent when the policy takes no backup. */
  readonly backup?: string;
  /** The judge handler (Task Judge). */
  readonly judge: string;
  /** The preflight checks handler (Task PreflightChecks); absent without repositories and certificates. */
  readonly preflightChecks?: string;
}

/** The logical IDs of the functions of the (only) ReleaseStateMachine under `scope`, e.g. a synthesized stage. */
export function releaseFunctionIds(scope: IConstruct): ReleaseFunctionIds {
  const found = scope.node.findAll().filter((c): c is ReleaseStateMachine => c instanceof ReleaseStateMachine);
  if (found.length !== 1) throw new Error(`expected one ReleaseStateMachine under ${scope.node.path || 'the app'}, found ${found.length}`);
  const id = (fn: HandlerFunction) => Stack.of(fn).getLogicalId(fn.function.node.defaultChild as CfnElement);
  const [release] = found;
  return {
    handler: id(release.handler),
    judge: id(release.judgeHandler),
    ...(release.backupHandler ? { backup: id(release.backupHandler) } : {}),
    ...(release.preflightChecksHandler ? { preflightChecks: id(release.preflightChecksHandler) } : {}),
  };
}

/** The logical ID of the Lambda function a Task state invokes (its Resource, or Parameters.FunctionName for lambda:invoke). */
export function taskFunctionId(state: Record<string, any>): string | undefined {
  const resource = String(state.Resource);
  const arn = resource.startsWith('arn:aws:states:::lambda:invoke') ? String(state.Parameters?.FunctionName ?? '') : resource;
  if (!arn.startsWith(FUNCTION_ARN_PREFIX)) return undefined;
  return arn.slice(FUNCTION_ARN_PREFIX.length).split(':')[0];
}

export interface RehearsalOptions {
  /**
   * Local handlers by the logical ID of the Lambda function they stand for (payload in, result out). Every Task's
   * function must have one: a Task is never silently sent to another function's handler.
   */
  readonly handlers: Readonly<Record<string, LocalHandler>>;
  /** Per state: replaces the call for that Task state (gets the payload and the state's bound handler). */
  readonly taskOverrides?: Record<string, (payload: any, handler: LocalHandler) => Promise<unknown>>;
  /** Milliseconds every Wait state pauses (default 0). */
  readonly waitMs?: number;
  /** Overrides TimeoutSeconds of every Task (waitForTaskToken tasks included), e.g. 1 for a hang test. */
  readonly taskTimeoutSeconds?: number;
  /** Answers a waitForTaskToken task: resolves with the SendTaskSuccess output, rejects for SendTaskFailure. */
  readonly onTaskToken?: (token: string, payload: any) => Promise<unknown>;
  /** Execution name (the ARN is derived from it). */
  readonly executionName?: string;
}

export interface RehearsalResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';
  readonly output?: any;
  readonly error?: string;
  readonly cause?: string;
  /** Names of the states entered, in order. */
  readonly states: string[];
  readonly executionArn: string;
  readonly ms: number;
}

let executions = 0;

/** Runs the definition to its end. Never throws for a failed execution: the result says how it ended. */
export async function runRehearsal(definition: Definition, input: unknown, options: RehearsalOptions): Promise<RehearsalResult> {
  const def = JSON.parse(JSON.stringify(definition)) as Definition;
  const taskResourceLocalHandlers: Record<string, (input: any) => Promise<any>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  const name = options.executionName ?? `rehearsal-${++executions}-${Date.now()}`;
  const executionArn = `arn:aws:states:us-east-1:123456789012:execution:Release:${name}`;
  const token = `local-task-token-${name}`;
  for (const [stateName, state] of Object.entries(def.States)) {
    if (state.Retry) retryIntervalOverrides[stateName] = 0;
    if (state.Type === 'Wait') waitTimeOverrides[stateName] = options.waitMs ?? 0;
    // A watched bake (lib/release.ts bakeLoop) runs until its time has passed on the clock, which 0 ms waits do not
    // move: its length becomes 0, so it polls once (with the real watch step) and goes on, as a shortened Wait does.
    // aws-local-stepfunctions has no $$.State.EnteredTime (Step Functions' context object does): a fixed start instead.
    if (state.Type === 'Pass' && state.Parameters?.['since.$']) {
      delete state.Parameters['since.$'];
      Object.assign(state.Parameters, { since: new Date(0).toISOString(), seconds: 0 });
    }
    if (state.Type !== 'Task') continue;
    if (options.taskTimeoutSeconds !== undefined) {
      state.TimeoutSeconds = options.taskTimeoutSeconds;
      delete state.HeartbeatSeconds;
    }
    const resource = String(state.Resource);
    const functionId = taskFunctionId(state);
    const handler = functionId !== undefined ? options.handlers[functionId] : undefined;
    if (!handler) {
      throw new Error(
        `Task ${stateName} invokes ${functionId ? `function ${functionId}` : resource}, which has no local handler (bound: ${Object.keys(options.handlers).join(', ') || 'none'})`,
      );
    }
    const custom = options.taskOverrides?.[stateName];
    const call = (payload: unknown) => (custom ? custom(payload, handler) : handler(payload));
    if (resource.endsWith('.waitForTaskToken')) {
      taskResourceLocalHandlers[stateName] = async (i: any) => {
        await call(i.Payload);
        return options.onTaskToken ? options.onTaskToken(i.Payload?.token ?? token, i.Payload) : { approved: true };
      };
    } else if (resource === 'arn:aws:states:::lambda:invoke') {
      taskResourceLocalHandlers[stateName] = async (i: any) => ({ Payload: await call(i.Payload), StatusCode: 200 });
    } else {
      taskResourceLocalHandlers[stateName] = async (i: any) => call(i);
    }
  }
  // HeartbeatSeconds is not interpreted locally; the validator rejects it next to an overridden timeout.
  const machine = new StateMachine(def as any, { validationOptions: { checkArn: false, checkPaths: true } });
  const started = Date.now();
  const exec = machine.run(input as any, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    context: { Execution: { Id: executionArn, Name: name }, Task: { Token: token } },
  });
  const states: string[] = [];
  const collecting = (async () => {
    for await (const ev of exec.eventLogs as AsyncIterable<any>) if (ev.type === 'StateEntered') states.push(ev.state.name);
  })().catch(() => undefined);
  try {
    const output = await exec.result;
    await collecting;
    return { status: 'SUCCEEDED', output, states, executionArn, ms: Date.now() - started };
  } catch (e) {
    await Promise.race([collecting, new Promise((r) => setTimeout(r, 50))]);
    const err = e as Error & { cause?: any };
    if (err.name === 'ExecutionTimeoutError') return { status: 'TIMED_OUT', error: 'States.Timeout', states, executionArn, ms: Date.now() - started };
    const cause = err.cause as { name?: string; message?: string; Error?: string; Cause?: string } | undefined;
    return {
      status: 'FAILED',
      error: cause?.name ?? cause?.Error ?? err.name,
      cause: cause?.message ?? cause?.Cause ?? err.message,
      states,
      executionArn,
      ms: Date.now() - started,
    };
  }
}
