/**
 * Pre-traffic checks through the test listener: GET each configured check path of each service (topology
 * `testListener.checks`; a frontend serves only /health, the backend /health/db and more) at `https://<host>:<port><path>`
 * with header `<colorHeader>: <color>`, which reaches that color whatever the weights are. With a base URL override
 * (TEST_LISTENER_BASE_URL, tests) the request goes to the base URL but keeps the service's Host header and the color
 * header, so the listener rules see the same request.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Color, ServiceName, Topology } from '../shared/topology';

export interface CheckResult {
  readonly service: ServiceName;
  readonly path: string;
  readonly url: string;
  /** The status the check requires. */
  readonly expectedStatus: number;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: string;
  readonly ms: number;
}

export interface HttpRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
}

/** Sends one GET and resolves with the status code; rejects on network errors and timeouts. */
export type HttpGet = (req: HttpRequest) => Promise<number>;

export const nodeHttpGet: HttpGet = (req) =>
  new Promise<number>((resolve, reject) => {
    const url = new URL(req.url);
    const lib = url.protocol === 'https:' ? https : http;
    const r = lib.request(
      url,
      { method: 'GET', headers: req.headers, timeout: req.timeoutMs, servername: (req.headers.host ?? url.hostname).replace(/:\d+$/, '') },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timed out after ${req.timeoutMs} ms`)));
    r.on('error', reject);
    r.end();
  });

export interface PreTrafficOptions {
  readonly color: Color;
  readonly baseUrl?: string;
  readonly timeoutMs: number;
  readonly get?: HttpGet;
}

/** Runs every check in parallel; never throws (failures are results). */
export async function runPreTrafficChecks(topology: Topology, options: PreTrafficOptions): Promise<CheckResult[]> {
  const listener = topology.testListener;
  if (!listener) throw new Error('the topology has no testListener: cannot check the new color before it gets traffic');
  const get = options.get ?? nodeHttpGet;
  const checks = Object.keys(listener.checks ?? {}).flatMap((service) => (listener.checks[service] ?? []).map(({ path, expectedStatus }) => ({ service, path, expectedStatus })));
  if (checks.length === 0) throw new Error('the topology lists no pre-traffic checks: cannot check the new color before it gets traffic');
  return Promise.all(
    checks.map(async ({ service, path, expectedStatus }) => {
      const host = listener.hosts[service];
      const base = options.baseUrl ?? `https://${host}:${listener.port}`;
      const url = `${base}${path}`;
      const started = Date.now();
      try {
        const status = await get({
          url,
          // Node sets Host from the URL; with a base URL override it is set to the service's host explicitly.
          headers: { [listener.colorHeader.toLowerCase()]: options.color, ...(options.baseUrl ? { host } : {}) },
          timeoutMs: options.timeoutMs,
        });
        return { service, path, url, expectedStatus, ok: status === expectedStatus, status, ms: Date.now() - started };
      } catch (e) {
        return { service, path, url, expectedStatus, ok: false, error: (e as Error).message, ms: Date.now() - started };
      }
    }),
  );
}
