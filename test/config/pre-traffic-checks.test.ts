import { ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { problemsOf } from './support';

const withChecks = (checks: unknown): EnvironmentConfig => {
  const c = structuredClone(ENVIRONMENTS.staging) as any;
  c.services.backend.preTrafficChecks = checks;
  return c;
};

test('fails WHEN a service has no pre-traffic check', () => {
  expect(problemsOf(withChecks([]))).toEqual([expect.objectContaining({ field: 'services.backend.preTrafficChecks', fix: expect.stringContaining("'/health'") })]);
});

test('fails WHEN a check has a relative path, a query or a status that is not HTTP', () => {
  const fields = problemsOf(withChecks([{ path: 'health', expectedStatus: 200 }, { path: '/health?x=1', expectedStatus: 200 }, { path: '/ok', expectedStatus: 42 }])).map((p) => p.field);
  expect(fields).toEqual(['services.backend.preTrafficChecks[0].path', 'services.backend.preTrafficChecks[1].path', 'services.backend.preTrafficChecks[2].expectedStatus']);
});

test('fails WHEN a path is listed twice', () => {
  expect(problemsOf(withChecks([{ path: '/health', expectedStatus: 200 }, { path: '/health', expectedStatus: 503 }])).map((p) => p.why)).toEqual(['lists a path twice']);
});
