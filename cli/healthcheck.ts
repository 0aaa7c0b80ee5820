/** Smoke checks of a color's endpoints: GET each health path with a timeout; any non-2xx or error is a failure. */
export const HEALTH_PATHS = ['/health', '/health/db', '/health/redis', '/health/external'] as const;

export interface HealthResult {
  readonly path: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: string;
  readonly ms: number;
}

export type FetchLike = (url: string, init: { signal: AbortSignal }) => Promise<{ status: number; ok: boolean }>;

export async function runHealthchecks(
  baseUrl: string,
  options: { fetch?: FetchLike; timeoutMs?: number } = {},
): Promise<HealthResult[]> {
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 5000;
  return Promise.all(
    HEALTH_PATHS.map(async (path) => {
      const started = Date.now();
      try {
        const res = await doFetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
        return { path, ok: res.ok, status: res.status, ms: Date.now() - started };
      } catch (e) {
        const err = e as Error;
        const error = err.name === 'TimeoutError' || err.name === 'AbortError' ? `timed out after ${timeoutMs} ms` : err.message;
        return { path, ok: false, error, ms: Date.now() - started };
      }
    }),
  );
}

export function formatHealthResults(color: string, baseUrl: string, results: readonly HealthResult[]): string {
  const lines = [`healthcheck ${color} at ${baseUrl}`];
  for (const r of results) {
    lines.push(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.path.padEnd(17)} ${r.status !== undefined ? `HTTP ${r.status}` : r.error}  (${r.ms} ms)`);
  }
  const failed = results.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? 'all checks passed' : `${failed} of ${results.length} checks failed`);
  return lines.join('\n');
}
