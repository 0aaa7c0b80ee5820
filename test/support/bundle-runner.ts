/**
 * A deployed handler bundle (lib/bundles.ts: minified ESM exporting `handler`) run as a long-lived "Lambda": one child
 * Node process per execution environment imports the bundle once (module scope runs once, as at a cold start) and then
 * serves invocations over IPC with a Lambda-like context. Timeouts and crashes behave as in Lambda: the environment is
 * thrown away and the next invoke cold-starts. Pair it with test/support/fault-proxy.ts (AWS_ENDPOINT_URL → the proxy).
 *
 *   const bundles = await bundleAll();                                   // beforeAll (one esbuild run per test file)
 *   const lambda = await startBundle('lambda/switch/handler.ts', { TOPOLOGY_TABLE: t }, { bundles, endpoint: proxy.endpoint });
 *   const r = await lambda.invoke({ command: 'status' }, { timeoutMs: 5000 });  // { ok: true, result } | { ok: false, errorType, … }
 *   lambda.logs; emfMetrics(lambda.logs, 'WeightsShifted');              // captured stdout/stderr lines
 *   await lambda.kill();   // the environment dies (a pending invoke: Runtime.ExitError); the next invoke cold-starts
 *   await lambda.stop(); bundles.remove();                               // afterAll
 *
 *   runRehearsal(def, input, { handlers: { [ids.handler]: asLocalHandler(lambda) } })   // a bundle behind a Task state
 */
import { ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { bundleHandlers, bundleName, type HandlerEntry } from '../../lib/bundles';
import { DUMMY_CREDENTIALS, MOTO_REGION } from './moto';

export interface Bundles {
  /** Folder holding `<bundleName>/index.mjs` for every handler. */
  readonly dir: string;
  /** The bundle file of an entry (`<dir>/<bundleName(entry)>/index.mjs`). */
  path(entry: HandlerEntry): string;
  /** Deletes the folder. */
  remove(): void;
}

/** Builds every handler bundle once, exactly as deployed (lib/bundles.ts bundleHandlers). Call in beforeAll. */
export async function bundleAll(dir: string = mkdtempSync(path.join(tmpdir(), 'fault-bundles-'))): Promise<Bundles> {
  bundleHandlers(dir);
  return {
    dir,
    path: (entry) => path.join(dir, bundleName(entry), 'index.mjs'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export type InvokeResult =
  | { readonly ok: true; readonly result: unknown; readonly requestId: string; readonly coldStart: boolean; readonly ms: number }
  | {
      readonly ok: false;
      /** What Lambda reports (and Step Functions sees as the error name): `error.name`, or Sandbox.Timedout, Runtime.ExitError, … */
      readonly errorType: string;
      readonly errorMessage: string;
      readonly stack?: string[];
      readonly requestId: string;
      readonly coldStart: boolean;
      readonly ms: number;
    };

export interface LogLine {
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  /** Date.now() when the parent read it. */
  readonly at: number;
  /** The invocation running when it was read (absent during init or between invocations). */
  readonly requestId?: string;
}

export interface InvokeOptions {
  readonly awsRequestId?: string;
  /** The function's timeout: the handler is killed after this many ms (default: the bundle's timeoutMs, 60000). */
  readonly timeoutMs?: number;
}

export interface BundleLambda {
  readonly functionName: string;
  /** Invocations run one at a time (one execution environment); concurrent calls queue. Never rejects. */
  invoke(event: unknown, options?: InvokeOptions): Promise<InvokeResult>;
  /** The execution environment dies now (SIGKILL): a pending invoke resolves with Runtime.ExitError. Next invoke cold-starts. */
  kill(): Promise<void>;
  /** Kills the process and deletes its temp folder; further invokes fail. Idempotent. */
  stop(): Promise<void>;
  /** Every stdout/stderr line of every process of this function, in order. */
  readonly logs: LogLine[];
  /** Processes started so far (cold starts). */
  readonly starts: number;
  /** The running process's pid, if any. */
  readonly pid: number | undefined;
}

export interface StartBundleOptions {
  /** Built bundles; without it, a HandlerEntry is resolved through a build made on first use for this test file. */
  readonly bundles?: Bundles;
  /** AWS_ENDPOINT_URL (the fault proxy or moto). Required here or as env.AWS_ENDPOINT_URL: never real AWS. */
  readonly endpoint?: string;
  readonly functionName?: string;
  /** Default timeout of every invoke (ms). Default 60000. */
  readonly timeoutMs?: number;
  /** Limit of the module import at a cold start (ms). Default 10000 (Lambda's init limit). */
  readonly initTimeoutMs?: number;
  /** Start the process now (default true); false defers the cold start to the first invoke. */
  readonly eager?: boolean;
}

/** The environment variables Lambda gives a function, with dummy credentials and the given endpoint. */
export function lambdaEnvironment(endpoint: string, functionName: string, home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_REGION: MOTO_REGION,
    AWS_DEFAULT_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'testing',
    AWS_ENDPOINT_URL: endpoint,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NODE_OPTIONS: '',
  };
}

/**
 * The child: imports the bundle, then answers { type: 'invoke' } messages. errorType is computed as the Node.js
 * runtime interface client does (Errors.js toRapidResponse): `error.name` for errors, `typeof` for thrown non-errors.
 */
const RUNNER = String.raw`
import { pathToFileURL } from 'node:url';
const send = (m) => new Promise((r) => process.send(m, () => r()));
// A sentinel line on both streams before each result, so the parent has every log line of the invocation when it answers.
const write = (stream, text) => new Promise((r) => stream.write(text, () => r()));
const mark = (id) => Promise.all([write(process.stdout, '\u0000END ' + id + '\n'), write(process.stderr, '\u0000END ' + id + '\n')]);
const errorInfo = (e) => {
  const isError = e instanceof Error || (e !== null && typeof e === 'object' && typeof e.message === 'string' && typeof e.stack === 'string');
  if (!isError) return { errorType: typeof e, errorMessage: String(e), stack: [] };
  return { errorType: e.name || e.constructor?.name || 'Error', errorMessage: e.message, stack: String(e.stack ?? '').split('\n') };
};
let current;
const fatal = (type) => async (e) => {
  const info = errorInfo(e);
  if (type) info.errorType = type;
  if (current) {
    await mark(current);
    await send({ type: 'result', id: current, ok: false, fatal: true, ...info });
  }
  else await send({ type: 'init-error', ...info });
  process.exit(129);
};
process.on('uncaughtException', fatal());
process.on('unhandledRejection', fatal('Runtime.UnhandledPromiseRejection'));
const t0 = performance.now();
let mod;
try {
  mod = await import(pathToFileURL(process.argv[2]).href);
  if (typeof mod.handler !== 'function') throw Object.assign(new Error('index.handler is undefined or not exported'), { name: 'Runtime.HandlerNotFound' });
} catch (e) {
  await send({ type: 'init-error', ...errorInfo(e) });
  process.exit(1);
}
await send({ type: 'ready', initMs: performance.now() - t0 });
process.on('message', async (m) => {
  if (m.type !== 'invoke') return;
  current = m.id;
  const context = {
    awsRequestId: m.requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: m.functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, m.deadline - Date.now()),
    done() {}, succeed() {}, fail() {},
  };
  try {
    const result = await mod.handler(m.event, context);
    const json = JSON.stringify(result === undefined ? null : result);
    await mark(m.id);
    await send({ type: 'result', id: m.id, ok: true, result: JSON.parse(json) });
  } catch (e) {
    await mark(m.id);
    await send({ type: 'result', id: m.id, ok: false, ...errorInfo(e) });
  } finally {
    current = undefined;
  }
});
`;

const SENTINEL = '\u0000END ';

interface Pending {
  readonly id: string;
  readonly started: number;
  readonly coldStart: boolean;
  /** The process serving it. */
  readonly proc: ChildProcess;
  /** Streams whose end-of-invocation sentinel was read. */
  readonly drained: Set<string>;
  /** The child's answer, held until both streams are drained. */
  answer?: InvokeResult;
  resolve(r: InvokeResult): void;
  timer?: NodeJS.Timeout;
}

const running = new Set<BundleLambda>();

/** Stops every bundle started by this test file (afterAll safety net). */
export async function stopAllBundles(): Promise<void> {
  await Promise.all([...running].map((l) => l.stop()));
}

let lazyBundles: Bundles | undefined;

function resolveBundle(entry: HandlerEntry | string, bundles: Bundles | undefined): string {
  if (entry.endsWith('.mjs') || entry.endsWith('.js')) return entry;
  if (bundles) return bundles.path(entry as HandlerEntry);
  if (!lazyBundles) {
    const dir = mkdtempSync(path.join(tmpdir(), 'fault-bundles-'));
    bundleHandlers(dir);
    lazyBundles = { dir, path: (e) => path.join(dir, bundleName(e), 'index.mjs'), remove: () => rmSync(dir, { recursive: true, force: true }) };
    const built = lazyBundles;
    process.once('exit', () => built.remove());
  }
  return lazyBundles.path(entry as HandlerEntry);
}

/**
 * Starts an execution environment for `entry` (a HandlerEntry, or the path of a bundle .mjs). The child's environment
 * is `lambdaEnvironment(...)` plus `env`: nothing of this process's AWS environment.
 */
export async function startBundle(entry: HandlerEntry | string, env: Record<string, string> = {}, options: StartBundleOptions = {}): Promise<BundleLambda> {
  const file = resolveBundle(entry, options.bundles);
  const functionName = options.functionName ?? (entry.endsWith('.mjs') ? path.basename(path.dirname(entry)) : bundleName(entry as HandlerEntry));
  const endpoint = env.AWS_ENDPOINT_URL ?? options.endpoint;
  if (!endpoint) throw new Error('startBundle: give options.endpoint (the fault proxy or moto) or env.AWS_ENDPOINT_URL');
  const home = mkdtempSync(path.join(tmpdir(), `lambda-${functionName}-`));
  const runner = path.join(home, 'runtime.mjs');
  writeFileSync(runner, RUNNER);
  const childEnv = { ...lambdaEnvironment(endpoint, functionName, home), ...env };
  const functionArn = `arn:aws:lambda:${childEnv.AWS_REGION}:123456789012:function:${functionName}`;
  const defaultTimeout = options.timeoutMs ?? 60000;
  const initTimeout = options.initTimeoutMs ?? 10000;

  const logs: LogLine[] = [];
  let child: ChildProcess | undefined;
  let ready: Promise<{ ok: true } | { ok: false; errorType: string; errorMessage: string; stack?: string[] }> | undefined;
  let pending: Pending | undefined;
  let starts = 0;
  let stopped = false;
  let queue: Promise<unknown> = Promise.resolve();

  const spawnEnvironment = () => {
    starts++;
    const proc = fork(runner, [file], {
      cwd: path.dirname(file),
      env: childEnv,
      execPath: process.execPath,
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    child = proc;
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: proc[stream]! }).on('line', (line) => {
        if (line.startsWith(SENTINEL)) {
          if (pending && pending.proc === proc && line === `${SENTINEL}${pending.id}`) {
            pending.drained.add(stream);
            settle(pending);
          }
          return;
        }
        logs.push({ stream, line, at: Date.now(), ...(pending && pending.proc === proc ? { requestId: pending.id } : {}) });
      });
    }
    ready = new Promise((resolve) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        resolve({ ok: false, errorType: 'Sandbox.Timedout', errorMessage: `INIT_REPORT Init Duration: ${initTimeout} ms Phase: init Status: timeout` });
      }, initTimeout);
      proc.on('message', (m: any) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve({ ok: true });
        } else if (m.type === 'init-error') {
          clearTimeout(timer);
          resolve({ ok: false, errorType: m.errorType, errorMessage: m.errorMessage, stack: m.stack });
        } else if (m.type === 'result' && pending && pending.proc === proc && m.id === pending.id) {
          const p = pending;
          const base = { requestId: p.id, coldStart: p.coldStart, ms: Date.now() - p.started };
          // A fatal error (uncaught exception, unhandled rejection) ends the environment: the next invoke cold-starts.
          if (m.fatal && child === proc) child = undefined;
          p.answer = m.ok ? { ok: true, result: m.result, ...base } : { ok: false, errorType: m.errorType, errorMessage: m.errorMessage, stack: m.stack, ...base };
          settle(p);
          // Should a sentinel line never arrive, answer anyway.
          setTimeout(() => pending === p && finish(p.answer!), 1000).unref();
        }
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (child === proc) child = undefined;
        resolve({ ok: false, errorType: 'Runtime.ExitError', errorMessage: `Runtime exited during init (code ${code}, signal ${signal})` });
        if (pending && pending.proc === proc) {
          const p = pending;
          finish({
            ok: false,
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${p.id} Error: Runtime exited ${signal ? `with error: signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `with error: exit status ${code}`}`,
            requestId: p.id,
            coldStart: p.coldStart,
            ms: Date.now() - p.started,
          });
        }
      });
    });
    // Swallow EPIPE-style errors of a killed child's IPC channel.
    proc.on('error', () => undefined);
  };

  const settle = (p: Pending) => {
    if (pending === p && p.answer && p.drained.size === 2) finish(p.answer);
  };

  const finish = (r: InvokeResult) => {
    const p = pending;
    if (!p) return;
    pending = undefined;
    if (p.timer) clearTimeout(p.timer);
    p.resolve(r);
  };

  const killChild = async () => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };

  const runOne = async (event: unknown, opts: InvokeOptions): Promise<InvokeResult> => {
    const id = opts.awsRequestId ?? randomUUID();
    const started = Date.now();
    if (stopped) return { ok: false, errorType: 'Runtime.Stopped', errorMessage: 'the bundle was stopped', requestId: id, coldStart: false, ms: 0 };
    const coldStart = !child;
    if (!child) spawnEnvironment();
    const init = await ready!;
    if (!init.ok) {
      await killChild();
      return { ...init, requestId: id, coldStart, ms: Date.now() - started };
    }
    const proc = child;
    if (!proc) return { ok: false, errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited before the invocation', requestId: id, coldStart, ms: Date.now() - started };
    const timeoutMs = opts.timeoutMs ?? defaultTimeout;
    return new Promise<InvokeResult>((resolve) => {
      const p: Pending = { id, started: Date.now(), coldStart, proc, drained: new Set(), resolve };
      pending = p;
      p.timer = setTimeout(() => {
        // As Lambda: the environment is shut down; the next invoke is a cold start.
        finish({
          ok: false,
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${id} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          requestId: id,
          coldStart,
          ms: Date.now() - p.started,
        });
        void killChild();
      }, timeoutMs);
      try {
        proc.send({ type: 'invoke', id, requestId: id, event, deadline: p.started + timeoutMs, functionArn });
      } catch {
        // The process died in between: its exit handler reports Runtime.ExitError.
      }
    });
  };

  const lambda: BundleLambda = {
    functionName,
    logs,
    get starts() {
      return starts;
    },
    get pid() {
      return child?.pid;
    },
    invoke(event, opts = {}) {
      const run = queue.then(() => runOne(event, opts));
      queue = run.catch(() => undefined);
      return run;
    },
    kill: killChild,
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(lambda);
      await killChild();
      rmSync(home, { recursive: true, force: true });
    },
  };
  running.add(lambda);
  if (options.eager ?? true) {
    spawnEnvironment();
    const init = await ready!;
    if (!init.ok) await killChild(); // reported again by the first invoke, which retries the init as Lambda does
  }
  return lambda;
}

/**
 * A bundle as a local handler for test/release/rehearsal.ts (`handlers`): resolves with the result, or throws an Error
 * whose `name` is the errorType (the Step Functions error name) and `message` the errorMessage.
 */
export function asLocalHandler(lambda: BundleLambda, options: InvokeOptions = {}): (event: unknown) => Promise<unknown> {
  return async (event) => {
    const r = await lambda.invoke(event, options);
    if (r.ok) return r.result;
    throw Object.assign(new Error(r.errorMessage), { name: r.errorType });
  };
}

/** Lines of `logs` that parse as JSON objects. */
export function jsonLogs(logs: readonly LogLine[]): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const l of logs) {
    const t = l.line.trim();
    if (!t.startsWith('{')) continue;
    try {
      out.push(JSON.parse(t));
    } catch {
      // not JSON
    }
  }
  return out;
}

/** EMF lines (`_aws.CloudWatchMetrics`) among `logs`, optionally only those declaring metric `name`. */
export function emfMetrics(logs: readonly LogLine[], name?: string): Record<string, any>[] {
  return jsonLogs(logs).filter((o) => {
    const directives = o._aws?.CloudWatchMetrics;
    if (!Array.isArray(directives)) return false;
    return name === undefined || directives.some((d: any) => (d.Metrics ?? []).some((m: any) => m.Name === name));
  });
}
