/** Validation of `services` as data: each new check has its failing case, naming the field. */
import { ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { MAX_SERVICES } from '../../config/validate';
import { problemsOf } from './support';

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
const dev = (): Mutable<EnvironmentConfig> => structuredClone(ENVIRONMENTS.dev) as Mutable<EnvironmentConfig>;
const fields = (c: EnvironmentConfig) => problemsOf(c).map((p) => p.field);

describe('GIVEN the services of an environment', () => {
  test('THEN the shipped environments pass', () => {
    for (const c of Object.values(ENVIRONMENTS)) expect(problemsOf(c)).toEqual([]);
  });

  test('THEN a copy of a service under a new name and host passes', () => {
    const c = dev();
    c.services.search = { ...c.services.frontend, host: 'search.dev.example.com' };
    expect(problemsOf(c)).toEqual([]);
  });

  test('fails for a service name that is not one', () => {
    const c = dev();
    c.services['Admin Site'] = { ...c.services.frontend, host: 'admin.dev.example.com' };
    expect(fields(c)).toEqual(['services.Admin Site']);
  });

  test('fails for no services', () => {
    const c = dev();
    c.services = {};
    expect(fields(c)).toContain('services');
  });

  test(`fails for more than ${MAX_SERVICES} services (a composite alarm references at most 100 alarms)`, () => {
    const c = dev();
    for (let i = 0; i < MAX_SERVICES; i++) c.services[`svc${i}`] = { ...c.services.frontend, host: `svc${i}.dev.example.com` };
    const [p] = problemsOf(c);
    expect(p).toMatchObject({ field: 'services', value: MAX_SERVICES + 2 });
    expect(p.why).toContain('100 alarms');
  });

  test('fails for two services on one host', () => {
    const c = dev();
    c.services.search = { ...c.services.frontend, host: c.services.frontend.host };
    const [p] = problemsOf(c);
    expect(p.field).toBe('services.search.host');
    expect(p.why).toContain("frontend's host");
  });

  test('fails for a host outside the hosted zone or not a DNS name', () => {
    const c = dev();
    c.services.frontend.host = 'shop.example.org';
    c.services.backend.host = 'API.dev.example.com';
    expect(fields(c)).toEqual(['services.frontend.host', 'services.backend.host']);
  });

  test('fails for a health check path that is not an absolute path', () => {
    const c = dev();
    c.services.frontend.healthCheckPath = 'health';
    expect(fields(c)).toEqual(['services.frontend.healthCheckPath']);
  });

  test('fails for an environment variable the app sets itself, or a name that is not one', () => {
    const c = dev();
    c.services.frontend.environment = { ...c.services.frontend.environment, PORT: '80', 'BAD-NAME': 'x' };
    expect(fields(c).sort()).toEqual(['services.frontend.environment.BAD-NAME', 'services.frontend.environment.PORT']);
  });

  test('fails for a name in both environment and secrets', () => {
    const c = dev();
    c.services.backend.environment = { NODE_ENV: 'production', DATABASE_PASSWORD: 'x' };
    expect(fields(c)).toEqual(['services.backend.secrets.DATABASE_PASSWORD']);
  });

  test('fails for a secret ARN that is partial, of another account, or a malformed key ARN', () => {
    const c = dev();
    c.services.frontend.secrets = {
      PARTIAL: { secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:payments/api' },
      OTHER: { secretArn: 'arn:aws:secretsmanager:us-east-1:222222222222:secret:payments/api-AbCdEf' },
      KEYED: { secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:payments/api-AbCdEf', jsonKey: 'a:b', encryptionKeyArn: 'alias/x' },
    };
    expect(fields(c)).toEqual([
      'services.frontend.secrets.PARTIAL.secretArn',
      'services.frontend.secrets.OTHER.secretArn',
      'services.frontend.secrets.KEYED.jsonKey',
      'services.frontend.secrets.KEYED.encryptionKeyArn',
    ]);
  });

  test('passes for a complete secret ARN of the account with a JSON key and its KMS key', () => {
    const c = dev();
    c.services.frontend.secrets = {
      PAYMENTS_API_KEY: {
        secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:payments/api-AbCdEf',
        jsonKey: 'apiKey',
        encryptionKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
    };
    expect(problemsOf(c)).toEqual([]);
  });

  test('fails for database or cache credentials given to a service that may not reach them', () => {
    const c = dev();
    c.services.frontend.secrets = { DB_USER: { database: 'username' }, CACHE: { cache: 'authToken' } };
    expect(fields(c)).toEqual(['services.frontend.secrets.DB_USER', 'services.frontend.secrets.CACHE']);
  });

  test('fails for a secret source that is none of the three', () => {
    const c = dev();
    c.services.frontend.secrets = { X: { parameter: '/x' } as never };
    expect(fields(c)).toEqual(['services.frontend.secrets.X']);
  });

  test('fails for a data store that does not exist or a flag that is not a boolean', () => {
    const c = dev();
    c.services.frontend.data = { search: true, cache: 'yes' } as never;
    expect(fields(c).sort()).toEqual(['services.frontend.data.cache', 'services.frontend.data.search']);
  });

  test('fails for a log trigger that is not one (a typo never passes synth)', () => {
    const c = dev();
    c.services.backend.logTriggers = ['payments', 'paymnets' as never];
    expect(fields(c)).toEqual(['services.backend.logTriggers[1]']);
  });

  test('fails for a migration command with two services or none to run it', () => {
    const two = dev();
    two.services.search = { ...two.services.backend, host: 'search.dev.example.com' };
    expect(fields(two)).toEqual(['services.*.runsMigration']);
    const none = dev();
    none.services.backend.runsMigration = false;
    expect(fields(none)).toEqual(['services.*.runsMigration']);
  });

  test('fails for a migrating service that may not reach the database', () => {
    const c = dev();
    c.services.backend.data = { cache: true };
    c.services.backend.secrets = { REDIS_AUTH_TOKEN: { cache: 'authToken' } };
    expect(fields(c)).toEqual(['services.backend.runsMigration']);
  });
});
