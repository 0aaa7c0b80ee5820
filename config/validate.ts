import { COLORS, SERVICES } from '../lambda/shared/topology';
import { fargatePairProblem } from './fargate';
import { RDS_CLASS_MEMORY_GIB } from './rds';
import type { EnvironmentConfig } from './types';

/** One problem found in a config: which field, its value, why it is wrong and how to fix it. */
export interface ConfigProblem {
  readonly field: string;
  readonly value: unknown;
  readonly why: string;
  readonly fix: string;
}

export class ConfigError extends Error {
  constructor(readonly environment: string, readonly problems: readonly ConfigProblem[]) {
    super(
      `config/${environment}.ts has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems
          .map((p) => `  - ${p.field} = ${JSON.stringify(p.value)}: ${p.why}. Fix: ${p.fix}.`)
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** One error for the problems of several environments: each keeps its own `config/<env>.ts has …` block. */
export function combineConfigErrors(errors: readonly ConfigError[]): ConfigError {
  if (errors.length === 1) return errors[0];
  const combined = new ConfigError(errors.map((e) => e.environment).join(', '), errors.flatMap((e) => e.problems));
  combined.message = errors.map((e) => e.message).join('\n');
  return combined;
}

/**
 * Validates every environment and what they must not share, and throws one error with every problem of every
 * environment, so one synth shows them all.
 */
export function validateEnvironments(configs: readonly EnvironmentConfig[]): void {
  const errors: ConfigError[] = [];
  for (const c of configs) {
    try {
      validateConfig(c);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      errors.push(e);
    }
  }
  // A hosted zone belongs to one account: the certificate validation and alias records of an environment in another
  // account cannot be written to it, so its deploy fails. https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-routing-traffic-for-subdomains.html
  configs.forEach((c, i) => {
    const owner = configs.slice(0, i).find((o) => o.hostedZone?.zoneId === c.hostedZone?.zoneId && o.account !== c.account);
    if (owner) {
      errors.push(
        new ConfigError(c.name, [
          {
            field: 'hostedZone.zoneId',
            value: c.hostedZone.zoneId,
            why: `is also ${owner.name}'s zone, in account ${owner.account}; a hosted zone belongs to one account, and this environment's deploy (account ${c.account}) cannot write its certificate validation and alias records there`,
            fix: `create a public hosted zone for ${c.domainName} in account ${c.account}, add its NS records to ${owner.hostedZone.zoneName} as a delegation, and set its ID here`,
          },
        ]),
      );
    }
  });
  if (errors.length > 0) throw combineConfigErrors(errors);
}

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
/**
 * A profile the SDK can find: it reads a `[profile <name>]` section of ~/.aws/config only when the name is made of these
 * characters (the shared-ini parser's prefixKeyRegex in @smithy/core, config submodule), so any other name never
 * resolves. https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html
 */
const PROFILE = /^[\w\-@+.%:/]+$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const RDS_RETENTION_MAX = 35;
/** PCI DSS 3.2.1 requirement 8.2.4. */
const CREDENTIAL_ROTATION_MAX_DAYS = 90;
const CREDENTIAL_ROTATION_MIN_DAYS = 2;
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function isCidr(v: string): boolean {
  const m = CIDR.exec(v);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

/**
 * Checks an environment's config and throws one `ConfigError` listing every problem,
 * so a user fixes them all in one pass instead of one synth per mistake.
 */
export function validateConfig(c: EnvironmentConfig): EnvironmentConfig {
  const problems: ConfigProblem[] = [];
  const check = (ok: boolean, field: string, value: unknown, why: string, fix: string) => {
    if (!ok) problems.push({ field, value, why, fix });
  };
  const wholeAtLeast = (v: number, min: number, field: string, fix: string) =>
    check(Number.isInteger(v) && v >= min, field, v, `must be a whole number >= ${min}`, fix);

  check(ACCOUNT.test(c.account), 'account', c.account, 'must be a 12-digit AWS account ID', 'set the target account ID');
  check(REGION.test(c.region), 'region', c.region, 'is not an AWS region name', 'use a region such as us-east-1');
  if (c.cli?.profile !== undefined) {
    check(PROFILE.test(c.cli.profile), 'cli.profile', c.cli.profile, 'is not a profile name the AWS SDK can read from ~/.aws/config (letters, digits and _ - @ + . % : / only)', 'use the name as in ~/.aws/config, e.g. production-admin, or remove it');
  }

  check(
    c.availabilityZones.length >= 2,
    'availabilityZones',
    c.availabilityZones,
    c.name === 'production'
      ? 'production needs at least 2 AZs (3 recommended) for Multi-AZ RDS, cache failover and a resilient ALB'
      : 'an Application Load Balancer and an RDS subnet group need subnets in at least 2 AZs',
    `list at least 2 AZs of ${c.region}, e.g. ${c.region}a and ${c.region}b`,
  );
  c.availabilityZones.forEach((az, i) =>
    check(az.startsWith(c.region) && az.length === c.region.length + 1, `availabilityZones[${i}]`, az, `is not an AZ of ${c.region}`, `use ${c.region}a, ${c.region}b, …`),
  );
  check(new Set(c.availabilityZones).size === c.availabilityZones.length, 'availabilityZones', c.availabilityZones, 'lists an AZ twice', 'list each AZ once');

  check(!!c.domainName && DOMAIN.test(c.domainName), 'domainName', c.domainName, 'must be a lower-case DNS name', 'set the environment\'s domain, e.g. staging.example.com');
  check(!!c.hostedZone?.zoneId && /^Z[A-Z0-9]{1,31}$/.test(c.hostedZone.zoneId), 'hostedZone.zoneId', c.hostedZone?.zoneId, 'must be a Route 53 hosted zone ID (Z…)', 'copy the ID of the public hosted zone from Route 53');
  check(
    !!c.hostedZone?.zoneName && !!c.domainName && (c.domainName === c.hostedZone.zoneName || c.domainName.endsWith(`.${c.hostedZone.zoneName}`)),
    'hostedZone.zoneName',
    c.hostedZone?.zoneName,
    `must be ${c.domainName} or a parent of it, so the certificate can be DNS-validated there`,
    'set the name of the hosted zone that holds domainName',
  );

  check(isCidr(c.network.cidr), 'network.cidr', c.network.cidr, 'is not an IPv4 CIDR', 'use a block such as 10.0.0.0/16');
  check(
    Number.isInteger(c.network.natGateways) && c.network.natGateways >= 1 && c.network.natGateways <= c.availabilityZones.length,
    'network.natGateways',
    c.network.natGateways,
    `must be between 1 and the number of AZs (${c.availabilityZones.length}); private subnets need a NAT gateway for egress`,
    c.name === 'production' ? `use ${c.availabilityZones.length} (one per AZ)` : 'use 1',
  );
  if (c.name === 'production') {
    check(c.network.natGateways === c.availabilityZones.length, 'network.natGateways', c.network.natGateways, 'production needs one NAT gateway per AZ so an AZ outage does not cut egress of the others', `use ${c.availabilityZones.length}`);
  }
  check(LOG_RETENTION_DAYS.includes(c.network.flowLogRetentionDays), 'network.flowLogRetentionDays', c.network.flowLogRetentionDays, 'is not a CloudWatch Logs retention value', `use one of ${LOG_RETENTION_DAYS.join(', ')}`);
  check(LOG_RETENTION_DAYS.includes(c.logRetentionDays), 'logRetentionDays', c.logRetentionDays, 'is not a CloudWatch Logs retention value', `use one of ${LOG_RETENTION_DAYS.join(', ')}`);

  for (const name of SERVICES) {
    const s = c.services[name];
    const f = `services.${name}`;
    const pair = fargatePairProblem(s.cpu, s.memoryMiB);
    if (pair) problems.push({ field: `${f}.cpu/memoryMiB`, value: { cpu: s.cpu, memoryMiB: s.memoryMiB }, why: pair, fix: 'pick a listed memory value or another CPU size' });
    wholeAtLeast(s.desiredCount, 1, `${f}.desiredCount`, 'set the replica count of the live color to 1 or more');
    check(Number.isInteger(s.containerPort) && s.containerPort >= 1 && s.containerPort <= 65535, `${f}.containerPort`, s.containerPort, 'must be a TCP port', 'use the port the container listens on');
    check(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(s.repositoryName), `${f}.repositoryName`, s.repositoryName, 'is not an ECR repository name', 'use the repository name, e.g. ecommerce-frontend');
    for (const color of COLORS) {
      const v = s.colors[color]?.version;
      check(!!v && IMAGE_TAG.test(v), `${f}.colors.${color}.version`, v, 'is not a valid image tag', 'use the tag pushed to ECR, e.g. 1.0.0');
    }
    const checks = s.preTrafficChecks ?? [];
    check(checks.length > 0, `${f}.preTrafficChecks`, s.preTrafficChecks, 'a release must check the new color before it gets traffic', "list at least { path: '/health', expectedStatus: 200 }");
    checks.forEach((ch, i) => {
      check(typeof ch.path === 'string' && /^\/[^\s?#]*$/.test(ch.path), `${f}.preTrafficChecks[${i}].path`, ch.path, 'must be an absolute path without spaces, query or fragment', "use e.g. '/health'");
      check(Number.isInteger(ch.expectedStatus) && ch.expectedStatus >= 100 && ch.expectedStatus <= 599, `${f}.preTrafficChecks[${i}].expectedStatus`, ch.expectedStatus, 'must be an HTTP status code', 'use e.g. 200');
    });
    check(new Set(checks.map((ch) => ch.path)).size === checks.length, `${f}.preTrafficChecks`, checks.map((ch) => ch.path), 'lists a path twice', 'list each path once');
    if (s.autoscaling) {
      const a = s.autoscaling;
      wholeAtLeast(a.minCapacity, 1, `${f}.autoscaling.minCapacity`, 'use 1 or more');
      check(Number.isInteger(a.maxCapacity) && a.maxCapacity >= a.minCapacity, `${f}.autoscaling.maxCapacity`, a.maxCapacity, `must be a whole number >= minCapacity (${a.minCapacity})`, 'raise maxCapacity');
      check(s.desiredCount >= a.minCapacity && s.desiredCount <= a.maxCapacity, `${f}.desiredCount`, s.desiredCount, `must lie within autoscaling min ${a.minCapacity} and max ${a.maxCapacity}`, 'adjust desiredCount or the autoscaling bounds');
      check(a.targetCpuPercent > 0 && a.targetCpuPercent <= 100, `${f}.autoscaling.targetCpuPercent`, a.targetCpuPercent, 'must be a percentage in (0, 100]', 'use e.g. 60');
    } else if (c.name !== 'dev') {
      problems.push({ field: `${f}.autoscaling`, value: undefined, why: `${c.name} runs with autoscaling`, fix: 'set minCapacity, maxCapacity and targetCpuPercent' });
    }
  }

  const d = c.database;
  check(/^\d+(\.\d+)?$/.test(d.engineVersion) && Number(d.engineVersion.split('.')[0]) >= 14, 'database.engineVersion', d.engineVersion, 'must be a supported PostgreSQL version (14 or newer)', 'use e.g. 17.9');
  wholeAtLeast(d.readReplicas, 0, 'database.readReplicas', 'use 0 or more');
  if (c.name === 'production') {
    check(d.readReplicas >= 1, 'database.readReplicas', d.readReplicas, 'production serves reads from replicas (the plan: "PostgreSQL RDS with read replicas"); a replica count below 1 leaves none', 'use 2');
    check(d.multiAz, 'database.multiAz', d.multiAz, 'production needs a Multi-AZ primary', 'set true');
    check(d.protectData, 'database.protectData', d.protectData, 'production data must survive a stack deletion', 'set true');
  }
  if (c.name === 'staging') check(d.protectData, 'database.protectData', d.protectData, 'staging data must survive a stack deletion', 'set true');
  check(Number.isInteger(d.backupRetentionDays) && d.backupRetentionDays >= 1 && d.backupRetentionDays <= RDS_RETENTION_MAX, 'database.backupRetentionDays', d.backupRetentionDays, `must be 1–${RDS_RETENTION_MAX} days (0 turns automated backups off)`, 'use e.g. 7');
  wholeAtLeast(d.allocatedStorageGiB, 20, 'database.allocatedStorageGiB', 'use 20 or more');
  check(d.maxAllocatedStorageGiB >= d.allocatedStorageGiB, 'database.maxAllocatedStorageGiB', d.maxAllocatedStorageGiB, 'must be >= allocatedStorageGiB', 'raise it');
  check(/^[a-z0-9]+\.[a-z0-9]+$/.test(d.instanceType), 'database.instanceType', d.instanceType, 'must be an instance class without the db. prefix', 'use e.g. t4g.medium');
  check(
    RDS_CLASS_MEMORY_GIB[d.instanceType] !== undefined,
    'database.instanceType',
    d.instanceType,
    'is not in the table of instance classes (config/rds.ts) whose memory sets the connections alarm (default max_connections derives from it)',
    `use one of ${Object.keys(RDS_CLASS_MEMORY_GIB).join(', ')}, or add the class with its memory in GiB to config/rds.ts`,
  );
  check(/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(d.databaseName), 'database.databaseName', d.databaseName, 'is not a PostgreSQL identifier', 'use letters, digits and _');
  // Upper bound: PCI DSS 3.2.1 requirement 8.2.4, change user passwords at least once every 90 days.
  // Lower bound: with rate(N days) Secrets Manager rotates at any time of the scheduled UTC day, so two
  // rotations can be N−1 days apart, and the application's credentials are guaranteed for N−1 days only.
  // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotationRulesType.html
  check(
    Number.isInteger(d.credentialRotationDays) && d.credentialRotationDays >= CREDENTIAL_ROTATION_MIN_DAYS && d.credentialRotationDays <= CREDENTIAL_ROTATION_MAX_DAYS,
    'database.credentialRotationDays',
    d.credentialRotationDays,
    `must be a whole number of days from ${CREDENTIAL_ROTATION_MIN_DAYS} to ${CREDENTIAL_ROTATION_MAX_DAYS}: PCI DSS 8.2.4 wants passwords changed at least every 90 days, ` +
      'and rotations can fall N−1 days apart, so 1 day would guarantee running tasks nothing',
    'use 30',
  );

  const k = c.cache;
  wholeAtLeast(k.nodes, 1, 'cache.nodes', 'use 1 or more');
  if (k.multiAz) check(k.nodes >= 2, 'cache.nodes', k.nodes, 'Multi-AZ with automatic failover needs a replica', 'use 2 or more');
  if (c.name !== 'dev') check(k.multiAz, 'cache.multiAz', k.multiAz, `${c.name} needs automatic failover`, 'set true and nodes >= 2');
  check(/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(k.nodeType), 'cache.nodeType', k.nodeType, 'is not an ElastiCache node type', 'use e.g. cache.t4g.small');

  if (c.name === 'production') {
    check(c.loadBalancer?.deletionProtection === true, 'loadBalancer.deletionProtection', c.loadBalancer?.deletionProtection, 'production\'s ALB carries customer traffic and the storefront and API DNS names; a stack deletion or a replacement must not delete it', 'set true (turn it off and deploy first when the environment is to be deleted on purpose)');
  }

  const t = c.testListener;
  check(Number.isInteger(t.port) && t.port >= 1 && t.port <= 65535 && t.port !== 80 && t.port !== 443, 'testListener.port', t.port, 'must be a TCP port other than 80 and 443', 'use e.g. 8443');
  check(isCidr(t.allowedCidr) && !t.allowedCidr.endsWith('/0'), 'testListener.allowedCidr', t.allowedCidr, 'must be an IPv4 CIDR narrower than the whole internet: the test listener reaches colors without traffic', 'use your office or VPN CIDR');
  wholeAtLeast(c.traffic.minHealthyTargetsPerAz, 1, 'traffic.minHealthyTargetsPerAz', 'use 1 or more');

  validateRelease(c, check);
  validateMonitoring(c, check);

  if (problems.length > 0) throw new ConfigError(c.name, problems);
  return c;
}

type Check = (ok: boolean, field: string, value: unknown, why: string, fix: string) => void;

/** Step Functions limits: a Wait state and a task heartbeat are capped by the one-year execution limit. https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html */
const SFN_MAX_SECONDS = 365 * 24 * 3600;

function validateRelease(c: EnvironmentConfig, check: Check): void {
  const r = c.release;
  const steps = r.canarySteps;
  check(steps.length >= 1, 'release.canarySteps', steps, 'needs at least one step', 'use e.g. [10, 25, 50, 100]');
  steps.forEach((s, i) =>
    check(Number.isInteger(s) && s >= 1 && s <= 100, `release.canarySteps[${i}]`, s, 'each step must be a whole percent from 1 to 100', 'use e.g. 10'),
  );
  check(steps.every((s, i) => i === 0 || s > steps[i - 1]), 'release.canarySteps', steps, 'steps must be strictly increasing', 'sort the steps and drop repeats');
  check(steps[steps.length - 1] === 100, 'release.canarySteps', steps, 'the last step must be 100, or the release never completes', 'end the list with 100');
  const seconds = (v: number, field: string, min: number, fix: string) =>
    check(Number.isInteger(v) && v >= min && v <= SFN_MAX_SECONDS, field, v, `must be whole seconds from ${min} to ${SFN_MAX_SECONDS} (Step Functions' one-year limit)`, fix);
  seconds(r.bakeSeconds, 'release.bakeSeconds', 0, 'use e.g. 300');
  seconds(r.finalBakeSeconds, 'release.finalBakeSeconds', 0, 'use e.g. 300');
  seconds(r.rollbackWindowSeconds, 'release.rollbackWindowSeconds', 0, 'use 1800 (the plan\'s 30 minutes)');
  seconds(r.approvalTimeoutSeconds, 'release.approvalTimeoutSeconds', 60, 'use e.g. 3600');
  seconds(r.stabilizeTimeoutSeconds, 'release.stabilizeTimeoutSeconds', 60, 'use e.g. 900');
  seconds(r.migrationTimeoutSeconds, 'release.migrationTimeoutSeconds', 60, 'use e.g. 900');
  if (r.migrationCommand) {
    check(r.migrationCommand.length > 0 && r.migrationCommand.every((a) => typeof a === 'string' && a.length > 0), 'release.migrationCommand', r.migrationCommand, 'must be a non-empty list of non-empty arguments', 'use e.g. ["npm", "run", "db:migrate"] or remove it');
  }
  if (c.name !== 'dev') check(r.backupBeforeRelease, 'release.backupBeforeRelease', r.backupBeforeRelease, `${c.name} must confirm backups before a release (the plan's "confirm backups before deployment")`, 'set true');
}

function validateMonitoring(c: EnvironmentConfig, check: Check): void {
  const m = c.monitoring;
  const percent = (v: number, field: string, fix: string) => check(v > 0 && v <= 100, field, v, 'must be a percentage in (0, 100]', fix);
  const minutes = (v: number, field: string) =>
    check(Number.isInteger(v) && v >= 1 && v <= 60, field, v, 'must be whole minutes from 1 to 60 (one datapoint a minute)', 'use e.g. 5');
  percent(m.errorRatePercent, 'monitoring.errorRatePercent', 'use 5 (the plan)');
  minutes(m.errorRateMinutes, 'monitoring.errorRateMinutes');
  percent(m.fastBurnErrorRatePercent, 'monitoring.fastBurnErrorRatePercent', 'use 25');
  check(m.fastBurnErrorRatePercent > m.errorRatePercent, 'monitoring.fastBurnErrorRatePercent', m.fastBurnErrorRatePercent, `must exceed errorRatePercent (${m.errorRatePercent}): it catches what is worse, sooner`, 'use e.g. 25');
  minutes(m.fastBurnMinutes, 'monitoring.fastBurnMinutes');
  percent(m.unhealthyTargetsPercent, 'monitoring.unhealthyTargetsPercent', 'use 50');
  minutes(m.unhealthyMinutes, 'monitoring.unhealthyMinutes');
  check(m.fastBurnMinutes < m.errorRateMinutes, 'monitoring.fastBurnMinutes', m.fastBurnMinutes, `must be shorter than errorRateMinutes (${m.errorRateMinutes})`, 'use 2');
  check(m.latencySeconds > 0, 'monitoring.latencySeconds', m.latencySeconds, 'must be positive', 'use 2 (the plan)');
  minutes(m.latencyMinutes, 'monitoring.latencyMinutes');
  check(Number.isInteger(m.minRequestsPerMinute) && m.minRequestsPerMinute >= 1, 'monitoring.minRequestsPerMinute', m.minRequestsPerMinute, 'must be a whole number >= 1', 'use e.g. 20');
  check(m.databaseErrorsPerMinute >= 0, 'monitoring.databaseErrorsPerMinute', m.databaseErrorsPerMinute, 'must be >= 0', 'use 10 (the plan)');
  percent(m.paymentFailurePercent, 'monitoring.paymentFailurePercent', 'use 5 (the plan)');
  minutes(m.paymentWindowMinutes, 'monitoring.paymentWindowMinutes');
  check(Number.isInteger(m.paymentMinAttempts) && m.paymentMinAttempts >= 1, 'monitoring.paymentMinAttempts', m.paymentMinAttempts, 'must be a whole number >= 1', 'use e.g. 10');
  check(m.comparison.errorRatePoints > 0 && m.comparison.errorRatePoints <= 100, 'monitoring.comparison.errorRatePoints', m.comparison.errorRatePoints, 'must be percentage points in (0, 100]', 'use e.g. 2');
  check(m.comparison.p99LatencyRatio > 1, 'monitoring.comparison.p99LatencyRatio', m.comparison.p99LatencyRatio, 'must be above 1 (new slower than stable)', 'use e.g. 1.5');
  check(Number.isInteger(m.comparison.minRequestsPerMinute) && m.comparison.minRequestsPerMinute >= 1, 'monitoring.comparison.minRequestsPerMinute', m.comparison.minRequestsPerMinute, 'must be a whole number >= 1', 'use e.g. 10');
  minutes(m.comparison.minutes, 'monitoring.comparison.minutes');
  check(
    m.comparison.canaryMaxRequestPercent > 0 && m.comparison.canaryMaxRequestPercent < 50,
    'monitoring.comparison.canaryMaxRequestPercent',
    m.comparison.canaryMaxRequestPercent,
    'must be a percentage in (0, 50): at 50 or more the stable color would count as a canary and fire when the new color is better',
    'use e.g. 40',
  );
  percent(m.databaseConnectionsPercent, 'monitoring.databaseConnectionsPercent', 'use e.g. 80');
  check(m.databaseConnectionsPercent < 100, 'monitoring.databaseConnectionsPercent', m.databaseConnectionsPercent, 'must be below 100: at max_connections new connections are already refused', 'use e.g. 80');
  if (m.alarmEmail !== undefined) check(/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(m.alarmEmail), 'monitoring.alarmEmail', m.alarmEmail, 'is not an email address', 'use the on-call list address or remove it');
  if (c.name === 'production') check(m.apm, 'monitoring.apm', m.apm, 'the plan asks for APM in production', 'set true');
}
