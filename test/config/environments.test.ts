/**
 * Validation across environments (finding 6 of the deploy-ready issue: one hosted zone for three accounts), and every
 * environment's problems reported at once.
 */
import { ConfigError, ENVIRONMENTS, type EnvironmentConfig, validateEnvironments } from '../../config';
import { buildApp } from '../../lib/app';

const clone = (c: EnvironmentConfig): any => structuredClone(c);
const errorOf = (configs: EnvironmentConfig[]): ConfigError => {
  try {
    validateEnvironments(configs);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('GIVEN the shipped environments', () => {
  test('THEN each has its own hosted zone for its own domain', () => {
    const zones = Object.values(ENVIRONMENTS).map((c) => c.hostedZone);
    expect(new Set(zones.map((z) => z.zoneId)).size).toBe(zones.length);
    for (const c of Object.values(ENVIRONMENTS)) expect(c.hostedZone.zoneName).toBe(c.services.frontend.host);
    expect(() => validateEnvironments(Object.values(ENVIRONMENTS))).not.toThrow();
  });
});

describe('GIVEN environments in different accounts', () => {
  test('fails WHEN two share a hosted zone THEN the later one is told to create and delegate its own', () => {
    const staging = clone(ENVIRONMENTS.staging);
    staging.hostedZone = { ...ENVIRONMENTS.production.hostedZone };
    const err = errorOf([ENVIRONMENTS.dev, staging, ENVIRONMENTS.production]);
    expect(err.problems).toEqual([
      expect.objectContaining({ field: 'hostedZone.zoneId', value: ENVIRONMENTS.production.hostedZone.zoneId, fix: expect.stringContaining('delegation') }),
    ]);
    expect(err.message).toContain('config/production.ts has 1 problem');
    expect(err.message).toContain("is also staging's zone");
  });

  test('WHEN two environments share an account THEN they may share its zone', () => {
    const staging = clone(ENVIRONMENTS.staging);
    staging.account = ENVIRONMENTS.production.account;
    staging.hostedZone = { ...ENVIRONMENTS.production.hostedZone };
    // One GitHub OIDC provider per account (test/config/cicd.test.ts): production's.
    staging.cicd = { ...staging.cicd!, createOidcProvider: false };
    expect(() => validateEnvironments([staging, ENVIRONMENTS.production])).not.toThrow();
  });

  test('fails WHEN several environments are broken THEN one error lists every problem of each', () => {
    const dev = clone(ENVIRONMENTS.dev);
    dev.account = '1';
    const production = clone(ENVIRONMENTS.production);
    production.region = 'moon-1';
    const err = errorOf([dev, ENVIRONMENTS.staging, production]);
    expect(err.message).toMatch(/config\/dev\.ts has \d+ problems?:[\s\S]*account = "1"[\s\S]*config\/production\.ts has \d+ problems?:[\s\S]*region = "moon-1"/);
    expect(() => buildApp({ environments: [dev, production] })).toThrow(ConfigError);
  });
});
