/**
 * Local rehearsal of the real release state machine: the definition is taken from a synthesized template and run
 * with aws-local-stepfunctions, every Lambda task calling a local handler in-process (the project's release handler,
 * its AWS calls going wherever its clients point, e.g. moto).
 *
 *   const definition = definitionFromTemplate(template);            // or (template, 'ReleaseStateMachineABC123')
 *   const run = await runRehearsal(definition, { strategy: 'canary' }, { handler });
 *
 * Works for any template holding the release state machine, e.g. the app's synthesized `<Stage>-Stateless` stack.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';

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

/** Placeholder for a CloudFormation value inside the definition string: Lambda ARNs stay valid ARNs. */
function placeholder(value: unknown): string {
  const v = value as Record<string, any>;
  if (v && Array.isArray(v['Fn::GetAtt'])) {
    const [id, attr] = v['Fn::GetAtt'];
    return attr === 'Arn' ? `arn:aws:lambda:us-east-1:123456789012:function:${id}` : `${id}.${attr}`;
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

export interface RehearsalOptions {
  /** The Lambda handler every Task invokes (payload in, result out). */
  readonly handler: LocalHandler;
  /** Per state: replaces the call for that Task state (gets the payload and the real handler). */
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
    if (state.Type !== 'Task') continue;
    if (options.taskTimeoutSeconds !== undefined) {
      state.TimeoutSeconds = options.taskTimeoutSeconds;
      delete state.HeartbeatSeconds;
    }
    const resource = String(state.Resource);
    const custom = options.taskOverrides?.[stateName];
    const call = (payload: unknown) => (custom ? custom(payload, options.handler) : options.handler(payload));
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
