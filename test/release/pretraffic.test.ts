/**
 * Finding 9 of the deploy-ready issue: the frontend was asked for /health/db, /health/redis and /health/external, which
 * it does not serve, so every release failed its pre-traffic checks. Checks are per service, from config.
 */
import { ENVIRONMENTS } from '../../config';
import { type HttpRequest, runPreTrafficChecks } from '../../lambda/release/pretraffic';
import { parseTopology, type Topology } from '../../lambda/shared/topology';
import { testListenerOf } from '../../cli/healthcheck';

const listener = testListenerOf('production');
const topology = { testListener: listener } as Topology;

test("GIVEN production's config WHEN the checks run THEN each service gets exactly its own paths", async () => {
  const seen: HttpRequest[] = [];
  const results = await runPreTrafficChecks(topology, { color: 'green', timeoutMs: 100, get: async (r) => (seen.push(r), 200) });
  expect(seen.map((r) => r.url).sort()).toEqual([
    'https://api.example.com:8443/health',
    'https://api.example.com:8443/health/db',
    'https://api.example.com:8443/health/external',
    'https://api.example.com:8443/health/redis',
    'https://example.com:8443/health',
  ]);
  expect(results.every((r) => r.ok)).toBe(true);
});

test('fails WHEN a check answers another status than configured, even a 2xx', async () => {
  const custom = { testListener: { ...listener, checks: { frontend: [{ path: '/ready', expectedStatus: 204 }], backend: [{ path: '/health', expectedStatus: 200 }] } } } as unknown as Topology;
  const results = await runPreTrafficChecks(custom, { color: 'blue', timeoutMs: 100, get: async (r) => (r.url.endsWith('/ready') ? 204 : 202) });
  expect(results.map((r) => [r.service, r.path, r.ok, r.expectedStatus])).toEqual([
    ['frontend', '/ready', true, 204],
    ['backend', '/health', false, 200],
  ]);
});

test('fails WHEN the topology lists no checks THEN nothing is requested and the step refuses', async () => {
  const none = { testListener: { ...listener, checks: { frontend: [], backend: [] } } } as unknown as Topology;
  await expect(runPreTrafficChecks(none, { color: 'green', timeoutMs: 100, get: async () => 200 })).rejects.toThrow('lists no pre-traffic checks');
});

test('fails WHEN a stored topology has a test listener without checks THEN parsing names the field', () => {
  const { checks: _checks, ...withoutChecks } = listener;
  const colors = { blue: { targetGroupArn: 'tg-b', serviceName: 's-b' }, green: { targetGroupArn: 'tg-g', serviceName: 's-g' } };
  const services = { frontend: { listenerRuleArn: 'r1', colors }, backend: { listenerRuleArn: 'r2', colors } };
  const doc = { environment: 'x', clusterName: 'c', lockTableName: 'l', ledgerTableName: 'g', minHealthyTargetsPerAz: 1, rollbackAlarmNames: { blue: [], green: [] }, services, testListener: withoutChecks };
  expect(() => parseTopology(JSON.stringify(doc))).toThrow('testListener.checks.frontend must be a non-empty array');
  expect(ENVIRONMENTS.dev.services.frontend.preTrafficChecks).toEqual([{ path: '/health', expectedStatus: 200 }]);
});
