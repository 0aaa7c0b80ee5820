/**
 * `healthcheck`: the release's pre-traffic checks (lambda/release/pretraffic.ts, the one implementation) run from the
 * CLI. Every configured check of each service (config `services.<name>.preTrafficChecks`) is requested through the environment's test listener
 * (`https://<host>:<port><path>`, header `X-Release-Color: <color>`), which reaches that color whatever the weights are.
 *
 * The test listener part of the topology is built from the repository's config (port, domain), so no AWS call is
 * needed. With `--base-url` (like the release's TEST_LISTENER_BASE_URL) the requests go to that URL instead, keeping
 * each service's Host header and the color header, so listener rules see the same request.
 */
import { ENVIRONMENTS as CONFIGS, type EnvironmentName } from '../config';
import { CheckResult, HttpGet, runPreTrafficChecks } from '../lambda/release/pretraffic';
import { Color, COLOR_HEADER, Topology } from '../lambda/shared/topology';

/** Per request, as the release's default (`healthcheckTimeoutMs`). */
export const HEALTHCHECK_TIMEOUT_MS = 5000;

export type TestListener = NonNullable<Topology['testListener']>;

/** The environment's test listener as the stateless stack renders it into the Topology: each service's host and checks. */
export function testListenerOf(env: EnvironmentName): TestListener {
  const c = CONFIGS[env];
  return {
    port: c.testListener.port,
    colorHeader: COLOR_HEADER,
    hosts: Object.fromEntries(Object.entries(c.services).map(([s, sc]) => [s, sc.host])),
    checks: Object.fromEntries(Object.entries(c.services).map(([s, sc]) => [s, sc.preTrafficChecks])),
  };
}

export interface HealthcheckOptions {
  readonly baseUrl?: string;
  readonly timeoutMs?: number;
  /** Injectable GET (tests); default the release's node http(s) GET. */
  readonly get?: HttpGet;
}

/** Runs the release's pre-traffic checks of `color` through `listener`; never throws for failing endpoints. */
export function runHealthcheck(listener: TestListener, color: Color, options: HealthcheckOptions = {}): Promise<CheckResult[]> {
  // runPreTrafficChecks reads only `testListener` of the topology; the rest needs AWS and is not used.
  const topology = { testListener: listener } as Topology;
  return runPreTrafficChecks(topology, {
    color,
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs ?? HEALTHCHECK_TIMEOUT_MS,
    get: options.get,
  });
}

export function formatHealthResults(
  env: string,
  color: Color,
  listener: TestListener,
  results: readonly CheckResult[],
  baseUrl?: string,
): string {
  const where = Object.entries(listener.hosts)
    .map(([service, host]) => `${service} ${host}:${listener.port}`)
    .join(', ');
  const lines = [
    `healthcheck ${color} in ${env} through the test listener (${where}; ${listener.colorHeader}: ${color})` +
      (baseUrl ? `\n  requests sent to ${baseUrl} with each service's Host header` : ''),
  ];
  for (const r of results) {
    const outcome = r.status !== undefined ? `HTTP ${r.status}${r.ok ? '' : ` (expected ${r.expectedStatus})`}` : r.error;
    lines.push(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.service.padEnd(9)} ${r.path.padEnd(17)} ${outcome}  (${r.ms} ms)`);
  }
  const failed = results.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`);
  return lines.join('\n');
}
