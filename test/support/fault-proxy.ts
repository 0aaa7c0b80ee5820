/**
 * Fault injection against the emulator, out of process: an HTTP proxy in front of moto that the code under test (an SDK
 * client, or a deployed handler bundle run by test/support/bundle-runner.ts) uses as its AWS endpoint. It names every
 * request's AWS service and operation, records it, and answers chosen requests with a fault instead of (or around) the
 * emulator's answer. The in-process equivalent is test/support/instrument.ts; this one works on code you cannot reach
 * into (a child process running the minified bundle) and on the wire, so the SDK's real error parsing runs.
 *
 *   const proxy = await startFaultProxy(moto.endpoint);          // beforeAll; proxy.endpoint → AWS_ENDPOINT_URL
 *   proxy.addRule({ operation: 'ModifyRule', fault: 'throttle' });            // the next ModifyRule: Throttling
 *   proxy.addRule({ service: 'dynamodb', operation: 'PutItem', times: Infinity, fault: 'deny' });
 *   proxy.addRule({ operation: 'UpdateService', fault: { hang: { forward: true } } }); // lands, never answered
 *   proxy.addRule({ operation: 'UpdateItem', fault: { after: async () => lambda.kill() } }); // crash between calls
 *   proxy.count('DescribeRules'); proxy.requests; proxy.reset();  // beforeEach
 *   await proxy.close();                                          // afterAll
 *
 * Protocols: awsJson1_0/1_1 (X-Amz-Target: DynamoDB, ECS, Step Functions, Application Auto Scaling, CloudWatch, which
 * the pinned client speaks as JSON with awsQueryCompatible), awsQuery (form body Action=: ELBv2, SNS, RDS,
 * CloudFormation) and Smithy RPCv2 CBOR (path /service/<S>/operation/<O>). Errors are written in each protocol's format
 * so the SDK raises the same error class and name as against AWS.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Protocol = 'json' | 'query' | 'cbor' | 'rest';

/** One request as the proxy saw it. `status` is what the client received (absent while pending or when never answered). */
export interface ProxiedRequest {
  /** Position in `proxy.requests` (0-based). */
  readonly seq: number;
  /** SigV4 signing name from the Authorization header: dynamodb, ecs, elasticloadbalancing, states, sns, monitoring, … */
  readonly service: string;
  /** AWS operation (PutItem, ModifyRule, …); for unrecognized (REST) requests `<METHOD> <path>`. */
  readonly operation: string;
  readonly protocol: Protocol;
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Parsed body: the JSON object (json), the form parameters (query), else the raw bytes (cbor, rest). */
  readonly body: any;
  /** The status moto answered with, when the request was forwarded and moto answered. */
  upstreamStatus?: number;
  /** The status the client received; absent for a request never answered (hang) or still pending. */
  status?: number;
  /** The fault applied, e.g. 'throttle', 'deny', 'error:500 InternalFailure', 'hang', 'hang+forward', 'delay:200', 'hooks'. */
  fault?: string;
  /** Date.now() when the request arrived. */
  readonly at: number;
}

/** moto's answer as seen by an `after` hook. */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body parsed as JSON when it is JSON, else undefined. */
  readonly json?: any;
}

export type BeforeHook = (req: ProxiedRequest) => Promise<void> | void;
export type AfterHook = (req: ProxiedRequest, res: UpstreamResponse) => Promise<void> | void;

export type Fault =
  /** 400 with the protocol's throttling error (SDK name ThrottlingException, or Throttling for query/query-compatible). */
  | 'throttle'
  /** 403 with the protocol's access-denied error (AccessDeniedException, or AccessDenied for query/query-compatible). */
  | 'deny'
  /** Never answer and do not forward; the socket stays open until the client gives up or the proxy closes. */
  | 'hang'
  /** Destroy the client's connection without an answer (the SDK sees ECONNRESET / socket hang up); not forwarded. */
  | 'reset'
  | { throttle: { message?: string } }
  | { deny: { principal?: string; resource?: string } }
  /** Any error: status and code in the protocol's format, e.g. { status: 500, code: 'InternalFailure' }. */
  | { error: { status: number; code: string; message?: string } }
  /** forward: true → moto gets the request (the write lands) but the client never gets the answer. */
  | { hang: { forward: boolean } }
  /** Forward to moto, then destroy the client's connection instead of answering (the write landed, caller sees ECONNRESET). */
  | { reset: { forward: true } }
  /** Wait `delay` ms, then forward; with hooks: before → delay → moto → after → answer. */
  | { delay?: number; before?: BeforeHook; after?: AfterHook };

export interface FaultRule {
  /** Signing name (dynamodb, ecs, elasticloadbalancing, states, sns, monitoring, application-autoscaling, …). */
  readonly service?: string;
  /** Operation name, or '*' for every operation. */
  readonly operation: string;
  /** Further condition on the request (its parsed body, headers, …). */
  readonly match?: (req: ProxiedRequest) => boolean;
  /** How many matching requests get the fault. Default 1; Infinity for always. */
  readonly times?: number;
  readonly fault: Fault;
}

/** A rule as added: `applied` counts the requests it faulted, `remaining` what is left of `times`. */
export interface ActiveRule extends FaultRule {
  applied: number;
  remaining: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT: the AWS_ENDPOINT_URL / client `endpoint` of the code under test. */
  readonly endpoint: string;
  readonly target: string;
  /** Every request so far, in arrival order. */
  readonly requests: ProxiedRequest[];
  /** Adds a rule after the existing ones (the first matching rule with times left applies). */
  addRule(rule: FaultRule): ActiveRule;
  /** Requests of `operation` (optionally of one service) so far. */
  count(operation: string, service?: string): number;
  /** Resolves with the first request (already seen or future) matching; rejects after timeoutMs (default 10000). */
  waitFor(predicate: string | ((req: ProxiedRequest) => boolean), options?: { timeoutMs?: number }): Promise<ProxiedRequest>;
  /** Forgets rules and recorded requests (hanging connections stay until the client gives up or close()). */
  reset(): void;
  /** Stops listening and destroys every connection, hanging ones included. Idempotent. */
  close(): Promise<void>;
}

/** Account and principal of the access-denied messages. */
export const DENY_PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/fault-proxy-role/fault-proxy-session';

/** IAM action prefix of a signing name where they differ. */
const IAM_PREFIX: Record<string, string> = { monitoring: 'cloudwatch' };

/** JSON-protocol target prefixes of services that are awsQueryCompatible (they take query-style error codes). */
const QUERY_COMPATIBLE_TARGETS = new Set(['GraniteServiceVersion20100801', 'AmazonSQS']);

export function identify(method: string, path: string, headers: http.IncomingHttpHeaders, raw: Buffer) {
  const auth = String(headers.authorization ?? '');
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  const service = scope?.[2] ?? 'unknown';
  const region = scope?.[1] ?? 'us-east-1';
  const target = headers['x-amz-target'];
  const contentType = String(headers['content-type'] ?? '');
  // Query-compatible services (CloudWatch, SQS) take the query protocol's error codes; their clients say so.
  const queryMode = String(headers['x-amzn-query-mode'] ?? '') === 'true';
  const cbor = /^\/service\/([^/]+)\/operation\/([^/?]+)/.exec(path);
  if (typeof target === 'string' && target.includes('.')) {
    const dot = target.lastIndexOf('.');
    let body: any = undefined;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      body = raw;
    }
    return {
      service,
      region,
      protocol: 'json' as const,
      operation: target.slice(dot + 1),
      queryCompatible: queryMode || QUERY_COMPATIBLE_TARGETS.has(target.slice(0, dot)),
      body,
    };
  }
  if (cbor) return { service, region, protocol: 'cbor' as const, operation: cbor[2], queryCompatible: queryMode, body: raw };
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const body = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    if (body.Action) return { service, region, protocol: 'query' as const, operation: body.Action, queryCompatible: false, body };
  }
  const q = path.indexOf('?');
  if (q >= 0 && method === 'GET') {
    const params = Object.fromEntries(new URLSearchParams(path.slice(q + 1)));
    if (params.Action) return { service, region, protocol: 'query' as const, operation: params.Action, queryCompatible: false, body: params };
  }
  return { service, region, protocol: 'rest' as const, operation: `${method} ${q >= 0 ? path.slice(0, q) : path}`, queryCompatible: false, body: raw };
}

// --- error bodies --------------------------------------------------------------------------------------------------

/** Minimal CBOR (RFC 8949) encoder for a map of text strings: all an RPCv2 CBOR error body needs. */
export function cborTextMap(map: Record<string, string>): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  const text = (s: string) => {
    const bytes = Buffer.from(s, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  };
  const entries = Object.entries(map);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [text(k), text(v)])]);
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * An AWS error in the request's protocol. `jsonCode` is the JSON protocols' name, `queryCode` the query protocol's
 * (also sent as x-amzn-query-error for awsQueryCompatible JSON services such as CloudWatch, where the SDK prefers it).
 */
function errorAnswer(
  req: { protocol: Protocol; queryCompatible: boolean; headers: http.IncomingHttpHeaders },
  status: number,
  jsonCode: string,
  queryCode: string,
  message: string,
): ErrorAnswer {
  const requestId = randomUUID();
  const fault = status >= 500 ? 'Receiver' : 'Sender';
  switch (req.protocol) {
    case 'json': {
      const code = req.queryCompatible ? queryCode : jsonCode;
      return {
        status,
        headers: {
          'content-type': String(req.headers['content-type'] ?? 'application/x-amz-json-1.0'),
          'x-amzn-requestid': requestId,
          'x-amzn-errortype': code,
          ...(req.queryCompatible ? { 'x-amzn-query-error': `${queryCode};${fault}` } : {}),
        },
        body: Buffer.from(JSON.stringify({ __type: code, message })),
      };
    }
    case 'cbor':
      return {
        status,
        headers: {
          'content-type': 'application/cbor',
          'smithy-protocol': 'rpc-v2-cbor',
          'x-amzn-requestid': requestId,
          ...(req.queryCompatible ? { 'x-amzn-query-error': `${queryCode};${fault}` } : {}),
        },
        body: cborTextMap({ __type: req.queryCompatible ? queryCode : jsonCode, message }),
      };
    case 'query':
    case 'rest':
      return {
        status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: Buffer.from(
          `<ErrorResponse><Error><Type>${fault}</Type><Code>${xmlEscape(queryCode)}</Code><Message>${xmlEscape(message)}</Message></Error>` +
            `<RequestId>${requestId}</RequestId></ErrorResponse>`,
        ),
      };
  }
}

/** The resource an access-denied message names: the first ARN in the request, or a DynamoDB table's ARN, else '*'. */
function deniedResource(service: string, region: string, body: unknown): string {
  if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
    const o = body as Record<string, unknown>;
    for (const v of Object.values(o)) if (typeof v === 'string' && v.startsWith('arn:')) return v;
    if (service === 'dynamodb' && typeof o.TableName === 'string') return `arn:aws:dynamodb:${region}:123456789012:table/${o.TableName}`;
  }
  return '*';
}

function describeFault(f: Fault): string {
  if (typeof f === 'string') return f;
  if ('throttle' in f) return 'throttle';
  if ('deny' in f) return 'deny';
  if ('error' in f) return `error:${f.error.status} ${f.error.code}`;
  if ('hang' in f) return f.hang.forward ? 'hang+forward' : 'hang';
  if ('reset' in f) return 'reset+forward';
  const parts = [
    ...(f.before ? ['before'] : []),
    ...(f.delay !== undefined ? [`delay:${f.delay}`] : []),
    ...(f.after ? ['after'] : []),
  ];
  return parts.join('+') || 'none';
}

// --- the proxy -----------------------------------------------------------------------------------------------------

export async function startFaultProxy(targetEndpoint: string): Promise<FaultProxy> {
  const target = new URL(targetEndpoint);
  const agent = new http.Agent({ keepAlive: true });
  const requests: ProxiedRequest[] = [];
  let rules: ActiveRule[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<{ predicate: (r: ProxiedRequest) => boolean; resolve: (r: ProxiedRequest) => void }>();
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  /** Sends the request to moto; resolves with its complete answer. */
  const forward = (req: http.IncomingMessage, raw: Buffer): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host, 'content-length': String(raw.length) };
      delete headers['transfer-encoding'];
      const up = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            let json: any;
            if (/json/.test(String(res.headers['content-type'] ?? ''))) {
              try {
                json = JSON.parse(body.toString('utf8'));
              } catch {
                json = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body, json });
          });
        },
      );
      up.on('error', reject);
      up.end(raw);
    });

  const answer = (res: http.ServerResponse, rec: ProxiedRequest, status: number, headers: http.OutgoingHttpHeaders, body: Buffer) => {
    rec.status = status;
    const h: http.OutgoingHttpHeaders = { ...headers, 'content-length': String(body.length) };
    delete h['transfer-encoding'];
    delete h.connection;
    delete h['keep-alive'];
    res.writeHead(status, h);
    res.end(body);
  };

  const pickRule = (rec: ProxiedRequest): ActiveRule | undefined => {
    for (const r of rules) {
      if (r.remaining <= 0) continue;
      if (r.service !== undefined && r.service !== rec.service) continue;
      if (r.operation !== '*' && r.operation !== rec.operation) continue;
      if (r.match && !r.match(rec)) continue;
      r.remaining--;
      r.applied++;
      return r;
    }
    return undefined;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer, seen: (r: ProxiedRequest) => void) => {
    const id = identify(req.method ?? 'GET', req.url ?? '/', req.headers, raw);
    const rec: ProxiedRequest = {
      seq: requests.length,
      service: id.service,
      operation: id.operation,
      protocol: id.protocol,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: id.body,
      at: Date.now(),
    };
    requests.push(rec);
    seen(rec);
    for (const w of [...waiters]) {
      if (w.predicate(rec)) {
        waiters.delete(w);
        w.resolve(rec);
      }
    }
    const rule = pickRule(rec);
    const fault = rule?.fault;
    if (fault !== undefined) rec.fault = describeFault(fault);
    const errorCtx = { protocol: id.protocol, queryCompatible: id.queryCompatible, headers: req.headers };
    const action = `${IAM_PREFIX[id.service] ?? id.service}:${id.operation}`;

    if (fault === 'throttle' || (typeof fault === 'object' && 'throttle' in fault)) {
      const message = (typeof fault === 'object' && 'throttle' in fault && fault.throttle.message) || 'Rate exceeded';
      const a = errorAnswer(errorCtx, 400, 'ThrottlingException', 'Throttling', message);
      return answer(res, rec, a.status, a.headers, a.body);
    }
    if (fault === 'deny' || (typeof fault === 'object' && 'deny' in fault)) {
      const opts = typeof fault === 'object' && 'deny' in fault ? fault.deny : {};
      const resource = opts.resource ?? deniedResource(id.service, id.region, id.body);
      const message = `User: ${opts.principal ?? DENY_PRINCIPAL} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
      const a = errorAnswer(errorCtx, 403, 'AccessDeniedException', 'AccessDenied', message);
      return answer(res, rec, a.status, a.headers, a.body);
    }
    if (typeof fault === 'object' && 'error' in fault) {
      const { status, code, message } = fault.error;
      const a = errorAnswer(errorCtx, status, code, code, message ?? `${code} (injected by the fault proxy)`);
      return answer(res, rec, a.status, a.headers, a.body);
    }
    if (fault === 'hang') return; // the socket stays open; close() destroys it
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof fault === 'object' && ('hang' in fault || 'reset' in fault)) {
      if ('hang' in fault && !fault.hang.forward) return;
      const up = await forward(req, raw);
      rec.upstreamStatus = up.status;
      if ('reset' in fault) req.socket.destroy();
      return; // hang: the answer is never sent
    }
    const hooks = (typeof fault === 'object' ? fault : {}) as { delay?: number; before?: BeforeHook; after?: AfterHook };
    if (hooks.before) await hooks.before(rec);
    if (hooks.delay) await sleep(hooks.delay);
    if (closed) return;
    const up = await forward(req, raw);
    rec.upstreamStatus = up.status;
    if (hooks.after) await hooks.after(rec, up);
    if (closed || res.destroyed) return;
    answer(res, rec, up.status, up.headers, up.body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    let rec: ProxiedRequest | undefined;
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks), (r) => (rec = r)).catch((e: unknown) => {
        // A hook threw or moto did not answer: a 502 the SDK treats as a transient server error.
        if (!res.headersSent && !res.destroyed) {
          const body = Buffer.from(`fault proxy: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
          res.writeHead(502, { 'content-type': 'text/plain', 'content-length': String(body.length) });
          res.end(body);
          if (rec) rec.status = 502;
        }
      });
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    target: targetEndpoint,
    requests,
    addRule(rule) {
      const active: ActiveRule = { ...rule, applied: 0, remaining: rule.times ?? 1 };
      rules.push(active);
      return active;
    },
    count(operation, service) {
      return requests.filter((r) => r.operation === operation && (service === undefined || r.service === service)).length;
    },
    waitFor(predicate, options = {}) {
      const p = typeof predicate === 'string' ? (r: ProxiedRequest) => r.operation === predicate : predicate;
      const seen = requests.find(p);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          predicate: p,
          resolve: (r: ProxiedRequest) => {
            clearTimeout(t);
            timers.delete(t);
            resolve(r);
          },
        };
        const t = setTimeout(() => {
          waiters.delete(w);
          timers.delete(t);
          reject(new Error(`fault proxy: no request matching ${String(predicate)} within ${options.timeoutMs ?? 10000} ms`));
        }, options.timeoutMs ?? 10000);
        timers.add(t);
        waiters.add(w);
      });
    },
    reset() {
      rules = [];
      requests.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      waiters.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      sockets.clear();
      agent.destroy();
      await done;
    },
  };
}
