/**
 * Issue 10, "Environments": rules key on the tier, not the name; any valid name is an environment; every field with
 * a fixed set of values is checked at synth (a typo cast through `as any` fails with field, value, why and fix).
 */
import { ConfigError, ENVIRONMENTS, type EnvironmentConfig, stageName, validateEnvironments } from '../../config';
import { problemsOf } from './support';

const clone = (c: EnvironmentConfig): any => structuredClone(c);
const fieldsOf = (c: EnvironmentConfig) => problemsOf(c).map((p) => p.field);

describe('tiers', () => {
  test('THEN dev is development, staging pre-production, production production', () => {
    expect(Object.fromEntries(Object.values(ENVIRONMENTS).map((c) => [c.name, c.tier]))).toEqual({
      dev: 'development',
      staging: 'pre-production',
      production: 'production',
    });
  });

  test('THEN each environment is filed under its own name', () => {
    for (const [key, c] of Object.entries(ENVIRONMENTS)) expect(c.name).toBe(key);
  });

  test('fails for a tier that does not exist, listing the tiers', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.tier = 'prod';
    const [p, ...more] = problemsOf(c);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'tier', value: 'prod', fix: 'use one of "development", "pre-production", "production"' });
    expect(p.why).toMatch(/is not a tier/);
  });

  test('WHEN an environment named like production has the development tier THEN it gets the development rules', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.name = 'production';
    expect(problemsOf(c)).toEqual([]);
  });

  test('fails WHEN a differently named environment has the production tier THEN every production rule applies', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.name = 'live';
    c.tier = 'production';
    c.access = { public: true };
    expect(new Set(fieldsOf(c))).toEqual(
      new Set([
        'services.frontend.autoscaling',
        'services.backend.autoscaling',
        'network.natGateways',
        'database.readReplicas',
        'database.multiAz',
        'database.protectData',
        'cache.multiAz',
        'loadBalancer.deletionProtection',
        'release.backupBeforeRelease',
        'monitoring.apm',
      ]),
    );
  });

  test('fails WHEN a differently named environment has the pre-production tier THEN its data must be protected', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.name = 'qa';
    c.database.protectData = false;
    const [p, ...more] = problemsOf(c);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'database.protectData', value: false, fix: 'set true' });
    expect(p.why).toMatch(/pre-production data must survive/);
  });
});

describe('environment names', () => {
  test.each([
    ['dev', 'Dev'],
    ['staging', 'Staging'],
    ['production', 'Production'],
    ['qa', 'Qa'],
    ['perf-eu', 'PerfEu'],
    ['load-test-2', 'LoadTest2'],
  ])('THEN stageName(%p) is %p', (name, stage) => {
    expect(stageName(name)).toBe(stage);
  });

  test.each(['qa', 'perf-eu', 'a1', 'x'.repeat(32)])('accepts the name %p', (name) => {
    const c = clone(ENVIRONMENTS.staging);
    c.name = name;
    expect(problemsOf(c)).toEqual([]);
  });

  test.each(['QA', 'perf_eu', '1qa', '-qa', 'qa-', 'perf--eu', 'qa.eu', '', 'x'.repeat(33)])('fails for the name %p', (name) => {
    const c = clone(ENVIRONMENTS.staging);
    c.name = name;
    const [p, ...more] = problemsOf(c);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'name', value: name });
    expect(p.why).toMatch(/lowercase letters, digits and single hyphens, starting with a letter/);
    expect(p.fix).toMatch(/config\/<name>\.ts/);
  });

  test('fails WHEN two environments have the same name', () => {
    const qa = clone(ENVIRONMENTS.staging);
    qa.account = '444444444444';
    qa.hostedZone = { zoneId: 'Z000000000QAEXAMPLE', zoneName: 'qa.example.com' };
    qa.domainName = 'qa.example.com';
    expect(() => validateEnvironments([ENVIRONMENTS.staging, qa])).toThrow(/config\/staging\.ts has 1 problem:\n {2}- name = "staging": is the name of another environment too/);
  });
});

describe('fields with a fixed set of values', () => {
  test("fails for a release strategy typo ('canery')", () => {
    const c = clone(ENVIRONMENTS.production);
    c.release.strategy = 'canery';
    expect(problemsOf(c)).toEqual([
      { field: 'release.strategy', value: 'canery', why: 'is not a release strategy `npm run release` knows', fix: 'use one of "canary", "blue-green"' },
    ]);
  });

  test('fails for an RDS enhanced monitoring interval RDS does not offer', () => {
    const c = clone(ENVIRONMENTS.production);
    c.database.enhancedMonitoringSeconds = 20;
    expect(problemsOf(c)).toEqual([
      expect.objectContaining({ field: 'database.enhancedMonitoringSeconds', value: 20, fix: 'use one of 0, 1, 5, 10, 15, 30, 60' }),
    ]);
  });

  test.each(['logRetentionDays', 'network.flowLogRetentionDays'])('fails for a %s CloudWatch Logs does not offer', (field) => {
    const c = clone(ENVIRONMENTS.staging);
    if (field === 'logRetentionDays') c.logRetentionDays = 10;
    else c.network.flowLogRetentionDays = 10;
    const [p, ...more] = problemsOf(c);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field, value: 10, why: 'is not a CloudWatch Logs retention value' });
    expect(p.fix).toMatch(/^use one of 1, 3, 5, 7, 14, 30, .*, 3653$/);
  });

  test.each(['us-east', 'US-EAST-1', 'useast1'])('fails for the region %p', (region) => {
    const c = clone(ENVIRONMENTS.dev);
    c.region = region;
    c.availabilityZones = [`${region}a`, `${region}b`];
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'region', value: region, fix: 'use a region such as us-east-1' })]);
  });

  test.each([
    ['waf', (c: any) => (c.waf = 'true')],
    ['loadBalancer.deletionProtection', (c: any) => (c.loadBalancer.deletionProtection = 'false')],
    ['network.interfaceEndpoints', (c: any) => (c.network.interfaceEndpoints = 1)],
    ['database.multiAz', (c: any) => (c.database.multiAz = undefined)],
    ['cache.multiAz', (c: any) => (c.cache.multiAz = 'yes')],
    ['release.approvalAfterFirstStep', (c: any) => (c.release.approvalAfterFirstStep = 'no')],
    ['monitoring.apm', (c: any) => (c.monitoring.apm = 0)],
  ])('fails for %s that is not true or false', (field, breakIt) => {
    const c = clone(ENVIRONMENTS.dev);
    breakIt(c);
    expect(problemsOf(c)).toContainEqual(expect.objectContaining({ field, why: 'must be true or false', fix: 'use true or false (not a string)' }));
  });

  test('fails WHEN two environments each have typos THEN one error lists both', () => {
    const staging = clone(ENVIRONMENTS.staging);
    staging.release.strategy = 'canery';
    const production = clone(ENVIRONMENTS.production);
    production.tier = 'prod';
    production.database.enhancedMonitoringSeconds = 45;
    let err: ConfigError | undefined;
    try {
      validateEnvironments([ENVIRONMENTS.dev, staging, production]);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.map((p) => p.field)).toEqual(['release.strategy', 'tier', 'database.enhancedMonitoringSeconds']);
    expect(err!.message).toMatch(
      /^config\/staging\.ts has 1 problem:\n {2}- release\.strategy = "canery": [^\n]*\nconfig\/production\.ts has 2 problems:\n {2}- tier = "prod": [^\n]*\n {2}- database\.enhancedMonitoringSeconds = 45: /,
    );
  });
});
