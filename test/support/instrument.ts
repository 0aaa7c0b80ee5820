/**
 * Records (and optionally fails) every SDK call of a set of clients with a middleware on each client's stack, so
 * tests and benches against moto can count calls, check their order and inject AWS errors (e.g. throttling).
 *
 *   const inst = instrumentClients(clients);
 *   inst.failNext('ModifyRule', () => throttlingError());   // the next ModifyRule throws before it is sent
 *   ... inst.calls  → [{ client: 'elbv2', command: 'DescribeRules', input }, …]
 *   inst.detach();
 *
 * Command names have no `Command` suffix; DynamoDB document-client commands appear as the underlying operation
 * (PutItem, UpdateItem, TransactWriteItems, …).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { InitializeHandler, InitializeHandlerArguments, MiddlewareStack } from '@smithy/types';

/**
 * Which handler is running, for attributing recorded calls when several handlers share clients (the release and
 * backup handlers in the rehearsal). Async context, so it follows the handler's awaits and survives concurrency.
 */
const currentHandler = new AsyncLocalStorage<string>();

/** Runs `fn` as handler `handler`: every call recorded while it runs carries `handler` (see RecordedCall.handler). */
export function recordAs<T>(handler: string, fn: () => Promise<T>): Promise<T> {
  return currentHandler.run(handler, fn);
}

export interface RecordedCall {
  readonly client: string;
  readonly command: string;
  readonly input: unknown;
  /** Position in the recording (0-based). */
  readonly seq: number;
  /** The handler the call was made for, when made inside `recordAs`. */
  readonly handler?: string;
  /** The response, once the call succeeded. */
  output?: unknown;
  /** The error, once the call failed (including injected failures). */
  error?: unknown;
  /** performance.now() when the call was sent and when it ended (round-trip analysis: `roundTrips`). */
  readonly startedAt: number;
  endedAt?: number;
}

/**
 * The number of sequential round trips in `calls`: the longest chain of calls each sent after the previous one ended
 * (calls sent together count once). What a reader of the code calls "round trips before X".
 */
export function roundTrips(calls: readonly RecordedCall[]): number {
  const sorted = [...calls].sort((a, b) => a.startedAt - b.startedAt);
  const depth: number[] = [];
  sorted.forEach((c, i) => {
    let before = 0;
    for (let j = 0; j < i; j++) if (sorted[j].endedAt !== undefined && sorted[j].endedAt! <= c.startedAt) before = Math.max(before, depth[j]);
    depth.push(before + 1);
  });
  return depth.length ? Math.max(...depth) : 0;
}

export interface Instrument {
  readonly calls: RecordedCall[];
  /** Forgets the recorded calls and pending failures. */
  reset(): void;
  /** The next `times` calls of `command` (default 1) throw `error()` without being sent. */
  failNext(command: string, error: () => Error, times?: number): void;
  /** Removes the middleware from every client. */
  detach(): void;
}

/** Read-only calls: Describe*, List*, Get*, Query, Scan, BatchGet*. Everything else counts as a write. */
export function isReadCommand(command: string): boolean {
  return /^(Describe|List|Get|Query$|Scan$|BatchGet)/.test(command);
}

/** SNS messages the clients published successfully (recorded inputs of Publish calls that returned a MessageId). */
export function publishedMessages(inst: Instrument): { TopicArn?: string; Subject?: string; Message: string }[] {
  return inst.calls
    .filter((c) => c.command === 'Publish' && (c.output as { MessageId?: string } | undefined)?.MessageId)
    .map((c) => c.input as { TopicArn?: string; Subject?: string; Message: string });
}

/** An AWS throttling error as the SDK raises it (retryable by the core's retry policy). */
export function throttlingError(message = 'Rate exceeded'): Error {
  return Object.assign(new Error(message), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 }, $fault: 'client' });
}

interface HasStack {
  middlewareStack: MiddlewareStack<any, any>;
}

const MIDDLEWARE_NAME = 'testInstrumentRecorder';

export function instrumentClients(clients: object): Instrument {
  const calls: RecordedCall[] = [];
  const failures = new Map<string, { error: () => Error; left: number }[]>();
  const stacks = new Set<MiddlewareStack<any, any>>();
  for (const [name, client] of Object.entries(clients)) {
    const stack = (client as Partial<HasStack> | undefined)?.middlewareStack;
    if (!stack || stacks.has(stack)) continue;
    stacks.add(stack);
    stack.add(
      (next: InitializeHandler<any, any>, context: { commandName?: string }) => async (args: InitializeHandlerArguments<any>) => {
        const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const handler = currentHandler.getStore();
        const call: RecordedCall = {
          client: name,
          command,
          input: args.input,
          seq: calls.length,
          startedAt: performance.now(),
          ...(handler !== undefined ? { handler } : {}),
        };
        calls.push(call);
        const pending = failures.get(command);
        if (pending && pending.length > 0) {
          const f = pending[0];
          if (--f.left <= 0) pending.shift();
          call.error = f.error();
          call.endedAt = performance.now();
          throw call.error;
        }
        try {
          const result = await next(args);
          call.output = result.output;
          call.endedAt = performance.now();
          return result;
        } catch (e) {
          call.error = e;
          call.endedAt = performance.now();
          throw e;
        }
      },
      { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
    );
  }
  return {
    calls,
    reset() {
      calls.length = 0;
      failures.clear();
    },
    failNext(command, error, times = 1) {
      const list = failures.get(command) ?? [];
      list.push({ error, left: times });
      failures.set(command, list);
    },
    detach() {
      for (const s of stacks) s.remove(MIDDLEWARE_NAME);
    },
  };
}
