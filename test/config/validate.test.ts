import { ConfigError, ENVIRONMENTS, type EnvironmentConfig, validateConfig } from '../../config';
import { problemsOf } from './support';
import { FARGATE_MEMORY_BY_CPU, fargatePairProblem } from '../../config/fargate';

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
const clone = (c: EnvironmentConfig): Mutable<EnvironmentConfig> => structuredClone(c) as Mutable<EnvironmentConfig>;


describe('config validation', () => {
  test.each(Object.keys(ENVIRONMENTS))('GIVEN the shipped %s config THEN it is valid', (name) => {
    expect(problemsOf(ENVIRONMENTS[name as keyof typeof ENVIRONMENTS])).toEqual([]);
  });

  test('fails on a Fargate CPU/memory pair Fargate does not accept, listing the valid memory values', () => {
    const c = clone(ENVIRONMENTS.production);
    c.services.frontend.memoryMiB = 512; // the plan's compose limit with 0.5 vCPU
    const [p] = problemsOf(c);
    expect(p.field).toBe('services.frontend.cpu/memoryMiB');
    expect(p.value).toEqual({ cpu: 512, memoryMiB: 512 });
    expect(p.why).toContain('valid memory for 512 CPU: 1024, 2048, 3072, 4096 MiB');
  });

  test('fails on a CPU size Fargate does not offer', () => {
    expect(fargatePairProblem(300, 1024)).toMatch(/must be one of 256, 512, 1024/);
  });

  test('accepts every documented Fargate pair', () => {
    for (const [cpu, memories] of Object.entries(FARGATE_MEMORY_BY_CPU)) {
      for (const m of memories) expect(fargatePairProblem(Number(cpu), m)).toBeUndefined();
    }
  });

  test('fails for production with fewer than 2 AZs', () => {
    const c = clone(ENVIRONMENTS.production);
    c.availabilityZones = ['us-east-1a'];
    c.network.natGateways = 1;
    const problems = problemsOf(c);
    expect(problems.map((p) => p.field)).toContain('availabilityZones');
    expect(problems.find((p) => p.field === 'availabilityZones')!.why).toMatch(/production needs at least 2 AZs/);
  });

  test('fails for a production read replica count below 1', () => {
    const c = clone(ENVIRONMENTS.production);
    c.database.readReplicas = 0;
    const [p] = problemsOf(c);
    expect(p).toMatchObject({ field: 'database.readReplicas', value: 0 });
    expect(p.fix).toBe('use 2');
  });

  test('fails for a live replica count below 1', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.services.backend.desiredCount = 0;
    expect(problemsOf(c).map((p) => p.field)).toEqual(['services.backend.desiredCount']);
  });

  test('fails for a host outside the hosted zone', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.services.frontend.host = 'shop.other.com';
    expect(problemsOf(c).map((p) => p.field)).toEqual(['services.frontend.host']);
  });

  test('fails for a hosted zone that does not hold the domain', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.hostedZone = { zoneId: 'Z123', zoneName: 'other.org' };
    expect(problemsOf(c).map((p) => p.field)).toEqual(['services.frontend.host', 'services.backend.host']);
  });

  test('fails for a CLI profile name the SDK cannot read from ~/.aws/config, and accepts an SSO-style one', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.cli = { profile: 'staging admin' };
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'cli.profile', value: 'staging admin', why: expect.stringContaining('~/.aws/config') })]);
    c.cli = { profile: '' };
    expect(problemsOf(c).map((p) => p.field)).toEqual(['cli.profile']);
    c.cli = { profile: 'AdministratorAccess-222222222222' };
    expect(problemsOf(c)).toEqual([]);
  });

  test('fails for production with fewer NAT gateways than AZs', () => {
    const c = clone(ENVIRONMENTS.production);
    c.network.natGateways = 1;
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'network.natGateways', fix: 'use 3' })]);
  });

  test('fails for a test listener open to the whole internet', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.testListener.allowedCidr = '0.0.0.0/0';
    expect(problemsOf(c).map((p) => p.field)).toEqual(['testListener.allowedCidr']);
  });

  test('fails for staging without autoscaling', () => {
    const c = clone(ENVIRONMENTS.staging);
    delete c.services.frontend.autoscaling;
    expect(problemsOf(c).map((p) => p.field)).toEqual(['services.frontend.autoscaling']);
  });

  test('fails for canary steps that are not strictly increasing or do not end at 100', () => {
    const c = clone(ENVIRONMENTS.production);
    c.release.canarySteps = [10, 10, 50];
    const fields = problemsOf(c).map((p) => `${p.field}: ${p.why}`);
    expect(fields).toEqual([
      'release.canarySteps: steps must be strictly increasing',
      'release.canarySteps: the last step must be 100, or the release never completes',
    ]);
  });

  test('fails for a canary step outside 1–100 and a bake beyond the Step Functions limit', () => {
    const c = clone(ENVIRONMENTS.production);
    c.release.canarySteps = [0, 100];
    c.release.bakeSeconds = 400 * 24 * 3600;
    expect(problemsOf(c).map((p) => p.field)).toEqual(['release.canarySteps[0]', 'release.bakeSeconds']);
  });

  test('fails for production without ALB deletion protection', () => {
    const c = clone(ENVIRONMENTS.production);
    c.loadBalancer.deletionProtection = false;
    const [p] = problemsOf(c);
    expect(p).toMatchObject({ field: 'loadBalancer.deletionProtection', value: false });
    expect(p.why).toMatch(/customer traffic/);
    expect(p.fix).toMatch(/^set true/);
  });

  test('accepts dev without ALB deletion protection', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.loadBalancer.deletionProtection = false;
    expect(problemsOf(c)).toEqual([]);
  });

  test('fails for production without a backup before release', () => {
    const c = clone(ENVIRONMENTS.production);
    c.release.backupBeforeRelease = false;
    expect(problemsOf(c).map((p) => p.field)).toEqual(['release.backupBeforeRelease']);
  });

  test('fails for a database instance class without a known memory (the connections alarm derives from it)', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.database.instanceType = 'x2g.large';
    const [p, ...more] = problemsOf(c);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'database.instanceType', value: 'x2g.large' });
    expect(p.why).toMatch(/config\/rds\.ts/);
    expect(p.fix).toMatch(/use one of .*t4g\.micro.*r6g\.large/);
  });

  test('fails for an unhealthy-targets trigger outside (0, 100] % or whole minutes', () => {
    const c = clone(ENVIRONMENTS.production);
    c.monitoring.unhealthyTargetsPercent = 0;
    c.monitoring.unhealthyMinutes = 0.5;
    expect(problemsOf(c).map((p) => p.field)).toEqual(['monitoring.unhealthyTargetsPercent', 'monitoring.unhealthyMinutes']);
  });

  test('fails for a canary share of 50 % or more (the stable color would be compared as a canary)', () => {
    const c = clone(ENVIRONMENTS.production);
    c.monitoring.comparison.canaryMaxRequestPercent = 50;
    const [p, ...more] = problemsOf(c);
    expect(more).toEqual([]);
    expect(p).toMatchObject({ field: 'monitoring.comparison.canaryMaxRequestPercent', value: 50, fix: 'use e.g. 40' });
    expect(p.why).toMatch(/fire when the new color is better/);
  });

  test('fails for crash detection thresholds out of range (one crash, a window or poll too short, no poll)', () => {
    const c = clone(ENVIRONMENTS.production);
    c.monitoring.crash = { tasks: 1, windowSeconds: 10, pollSeconds: 2.5, unhealthyPolls: 0 };
    const problems = problemsOf(c);
    expect(problems.map((p) => p.field)).toEqual(['monitoring.crash.tasks', 'monitoring.crash.windowSeconds', 'monitoring.crash.pollSeconds', 'monitoring.crash.unhealthyPolls']);
    expect(problems[0]).toMatchObject({ value: 1, fix: 'use 2' });
    expect(problems[0].why).toMatch(/host event/);
    expect(problems[2]).toMatchObject({ value: 2.5, why: 'must be a whole number from 5 to 60', fix: 'use 10' });
  });

  test('fails for a connections alarm at 100 % of max_connections or more', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.monitoring.databaseConnectionsPercent = 100;
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'monitoring.databaseConnectionsPercent', value: 100 })]);
    c.monitoring.databaseConnectionsPercent = 0;
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'monitoring.databaseConnectionsPercent', why: 'must be a percentage in (0, 100]' })]);
  });

  test('GIVEN several mistakes WHEN validated THEN one error lists every problem with field, value, why and fix', () => {
    const c = clone(ENVIRONMENTS.production);
    c.account = '1234';
    c.services.frontend.host = '';
    c.services.backend.cpu = 1024;
    c.services.backend.memoryMiB = 1024;
    c.database.readReplicas = 0;
    expect(() => validateConfig(c)).toThrow(ConfigError);
    try {
      validateConfig(c);
    } catch (e) {
      const err = e as ConfigError;
      expect(err.problems.length).toBeGreaterThanOrEqual(4);
      expect(err.message).toMatch(/^config\/production\.ts has \d+ problems:/);
      expect(err.message).toContain('- account = "1234": must be a 12-digit AWS account ID. Fix: set the target account ID.');
      expect(err.message).toContain('services.backend.cpu/memoryMiB');
      expect(err.message).toContain('database.readReplicas = 0');
    }
  });

  test.each([0, 1, 91, 30.5])('fails for a credential rotation interval of %p days (whole days, 2 to 90)', (days) => {
    const c = clone(ENVIRONMENTS.staging);
    c.database.credentialRotationDays = days;
    const problems = problemsOf(c);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ field: 'database.credentialRotationDays', value: days, fix: 'use 30' });
    expect(problems[0].why).toMatch(/from 2 to 90: PCI DSS 8\.2\.4 .*1 day would guarantee running tasks nothing/);
  });

  test('accepts the boundary credential rotation intervals 2 and 90 days', () => {
    for (const days of [2, 90]) {
      const c = clone(ENVIRONMENTS.dev);
      c.database.credentialRotationDays = days;
      expect(problemsOf(c)).toEqual([]);
    }
  });
});

describe('database procedures and image scan config', () => {
  test('fails on a rollback procedure without the {to} placeholder', () => {
    const c = clone(ENVIRONMENTS.staging);
    c.database.procedures = { ...c.database.procedures!, rollback: ['npm', 'run', 'db:rollback'] };
    const [p] = problemsOf(c);
    expect(p).toMatchObject({ field: 'database.procedures.rollback', value: ['npm', 'run', 'db:rollback'] });
    expect(p.why).toContain('{to}');
  });

  test.each(['migrate', 'rollback', 'verify'] as const)('fails on an empty %s procedure', (name) => {
    const c = clone(ENVIRONMENTS.dev);
    c.database.procedures = { ...c.database.procedures!, [name]: [] };
    expect(problemsOf(c).map((p) => p.field)).toContain(`database.procedures.${name}`);
  });

  test('fails on a rollback snapshot age of 0 or beyond the backup retention', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.database.procedures = { ...c.database.procedures!, rollbackSnapshotMaxAgeHours: 0 };
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'database.procedures.rollbackSnapshotMaxAgeHours', value: 0 })]);
    c.database.procedures.rollbackSnapshotMaxAgeHours = 24 * c.database.backupRetentionDays + 1;
    const [p] = problemsOf(c);
    expect(p.field).toBe('database.procedures.rollbackSnapshotMaxAgeHours');
    expect(p.why).toMatch(/backup retention/);
  });

  test('fails on a procedure timeout under a minute', () => {
    const c = clone(ENVIRONMENTS.dev);
    c.database.procedures = { ...c.database.procedures!, timeoutSeconds: 30 };
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'database.procedures.timeoutSeconds', value: 30 })]);
  });

  test('fails on procedures without a service that runs the migration', () => {
    const c = clone(ENVIRONMENTS.dev);
    delete (c.release as { migrationCommand?: unknown }).migrationCommand;
    c.services.backend.runsMigration = false;
    const [p] = problemsOf(c);
    expect(p.field).toBe('services.*.runsMigration');
    expect(p.why).toContain('npm run db');
  });

  test('fails on an image scan severity ECR does not report', () => {
    const c = clone(ENVIRONMENTS.production);
    c.release.imageScan = { failOnSeverity: 'SEVERE' as never };
    const [p] = problemsOf(c);
    expect(p).toMatchObject({ field: 'release.imageScan.failOnSeverity', value: 'SEVERE' });
    expect(p.fix).toContain('"HIGH"');
  });

  test('fails on a requireScan that is not a boolean', () => {
    const c = clone(ENVIRONMENTS.production);
    c.release.imageScan = { failOnSeverity: 'HIGH', requireScan: 'yes' as never };
    expect(problemsOf(c)).toEqual([expect.objectContaining({ field: 'release.imageScan.requireScan' })]);
  });
});
