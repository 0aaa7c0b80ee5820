import { COLORS, SERVICE_NAME_PATTERN } from '../lambda/shared/topology';
import { MAX_WATCH_POLL_SECONDS } from '../lambda/release/policy';
import { fargatePairProblem } from './fargate';
import { RDS_CLASS_MEMORY_GIB } from './rds';
import { oidcProviderProblems, validateCicd } from './validate-cicd';
import {
  type AccessSource,
  ENHANCED_MONITORING_SECONDS,
  type EnvironmentConfig,
  LOG_RETENTION_DAYS,
  type PrefixListAccessSource,
  RELEASE_STRATEGIES,
  SCAN_SEVERITIES,
  LOG_TRIGGERS,
  type SecretSource,
  type ServiceConfig,
  TIERS,
} from './types';

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
  // The name is the stage's ID and the key of ENVIRONMENTS: a second environment of the same name would replace or
  // collide with the first.
  configs.forEach((c, i) => {
    if (configs.slice(0, i).some((o) => o.name === c.name)) {
      errors.push(new ConfigError(c.name, [{ field: 'name', value: c.name, why: 'is the name of another environment too; the name is its CDK stage and stack name prefix', fix: 'give each environment its own name' }]));
    }
  });
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
            fix: `create a public hosted zone for ${c.hostedZone.zoneName} in account ${c.account}, add its NS records to ${owner.hostedZone.zoneName} as a delegation, and set its ID here`,
          },
        ]),
      );
    }
  });
  // One GitHub OIDC provider per account (config/validate-cicd.ts).
  for (const { environment, ...p } of oidcProviderProblems(configs)) errors.push(new ConfigError(environment, [p]));
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
const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Why `version` is not an image version, or undefined: a tag (ECR's rule: up to 128 letters, digits, `_ . -`, not
 * starting with `.` or `-`) or a digest `sha256:<64 lowercase hex>`, which the task definition references as
 * `<repository>@sha256:…` (ecr.Repository.repositoryUriForTagOrDigest). Shared by validation and the release CLI.
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html
 */
export function imageVersionProblem(version: unknown): { why: string; fix: string } | undefined {
  if (typeof version !== 'string' || version === '') return { why: 'is not an image tag or digest', fix: 'use the tag pushed to ECR (e.g. 1.0.0) or its digest (sha256:<64 hex>)' };
  if (/[@/]/.test(version) || (version.includes(':') && !version.startsWith('sha256:'))) return { why: 'is an image reference, not a tag or digest', fix: 'give only the tag (e.g. 1.0.0) or the digest (sha256:<64 hex>); the repository is repositoryName' };
  if (version.startsWith('sha256:')) return IMAGE_DIGEST.test(version) ? undefined : { why: 'is not a valid image digest', fix: 'a digest is sha256: followed by 64 lowercase hex digits, as `docker inspect` or ECR show it' };
  return IMAGE_TAG.test(version) ? undefined : { why: 'is not a valid image tag', fix: 'use the tag pushed to ECR, e.g. 1.0.0 (letters, digits, _ . -, at most 128), or its digest sha256:<64 hex>' };
}
const RDS_RETENTION_MAX = 35;
/** PCI DSS 3.2.1 requirement 8.2.4. */
const CREDENTIAL_ROTATION_MAX_DAYS = 90;
const CREDENTIAL_ROTATION_MIN_DAYS = 2;
/**
 * Lowercase letters, digits and single hyphens, starting with a letter: `stageName` makes of it a CDK stage name
 * (letters, digits, `-_.`, starting with a letter) and a CloudFormation stack name prefix (letters, digits, hyphens).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-using-console-create-stack-parameters.html
 */
const ENVIRONMENT_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** Keeps `<Stage>-Stateless` and the names CloudFormation derives from it short and readable (a stack name may have 128). */
const ENVIRONMENT_NAME_MAX = 32;
const PREFIX_LIST_ID = /^pl-[0-9a-f]{8,17}$/;
/**
 * What EC2 accepts in a security group rule description (at most 255 characters); 200 leaves room for the
 * words lib/load-balancer.ts puts around it (`HTTP from <description>, redirected to HTTPS`).
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html
 */
const RULE_DESCRIPTION = /^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]{1,200}$/;
/**
 * Inbound rules per security group, the default quota (enforced separately for IPv4 and IPv6); a rule that references
 * a prefix list counts as the list's maximum entries. https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
 */
export const SECURITY_GROUP_INBOUND_RULES = 60;

function isCidr(v: string): boolean {
  const m = typeof v === 'string' ? CIDR.exec(v) : null;
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

/** The CIDR with its host bits cleared (`198.51.100.7/24` -> `198.51.100.0/24`); `v` must be a CIDR. */
function canonicalCidr(v: string): string {
  const [address, bits] = v.split('/');
  const n = address.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  const network = Math.floor(n / size) * size;
  return `${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join('.')}/${bits}`;
}

const isPrefixList = (s: AccessSource): s is PrefixListAccessSource => typeof s === 'object' && s !== null && 'prefixListId' in s;

/**
 * Inbound rules the ALB's security group holds for a config, as the quota counts them: per access source one rule on
 * 80 and one on 443 (a prefix list counts as its max entries), the test listener's operator CIDR and one per NAT
 * gateway (lib/load-balancer.ts).
 */
export function albInboundRules(c: EnvironmentConfig): number {
  const access = Array.isArray(c.access) ? c.access : [];
  const perPort = access.reduce((n, s) => n + (isPrefixList(s) ? s.maxEntries : 1), 0);
  return (Array.isArray(c.access) ? 2 * perPort : 2) + 1 + c.network.natGateways;
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

  /** A field with a fixed set of values: a value outside it (a typo cast through `as any`) fails here, not at deploy. */
  const oneOf = <T>(v: unknown, allowed: readonly T[], field: string, why: string) =>
    check(allowed.includes(v as T), field, v, why, `use one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  const boolean = (v: unknown, field: string) => check(typeof v === 'boolean', field, v, 'must be true or false', 'use true or false (not a string)');

  check(
    typeof c.name === 'string' && ENVIRONMENT_NAME.test(c.name) && c.name.length <= ENVIRONMENT_NAME_MAX,
    'name',
    c.name,
    `must be 1–${ENVIRONMENT_NAME_MAX} lowercase letters, digits and single hyphens, starting with a letter: it becomes the CDK stage and the stack name prefix`,
    "use e.g. 'qa' or 'perf-eu', and name the file config/<name>.ts",
  );
  oneOf(c.tier, TIERS, 'tier', 'is not a tier; the tier decides which rules the environment must meet');
  check(ACCOUNT.test(c.account), 'account', c.account, 'must be a 12-digit AWS account ID', 'set the target account ID');
  check(REGION.test(c.region), 'region', c.region, 'is not an AWS region name', 'use a region such as us-east-1');
  if (c.cli?.profile !== undefined) {
    check(PROFILE.test(c.cli.profile), 'cli.profile', c.cli.profile, 'is not a profile name the AWS SDK can read from ~/.aws/config (letters, digits and _ - @ + . % : / only)', 'use the name as in ~/.aws/config, e.g. production-admin, or remove it');
  }

  check(
    c.availabilityZones.length >= 2,
    'availabilityZones',
    c.availabilityZones,
    c.tier === 'production'
      ? 'production needs at least 2 AZs (3 recommended) for Multi-AZ RDS, cache failover and a resilient ALB'
      : 'an Application Load Balancer and an RDS subnet group need subnets in at least 2 AZs',
    `list at least 2 AZs of ${c.region}, e.g. ${c.region}a and ${c.region}b`,
  );
  c.availabilityZones.forEach((az, i) =>
    check(az.startsWith(c.region) && az.length === c.region.length + 1, `availabilityZones[${i}]`, az, `is not an AZ of ${c.region}`, `use ${c.region}a, ${c.region}b, …`),
  );
  check(new Set(c.availabilityZones).size === c.availabilityZones.length, 'availabilityZones', c.availabilityZones, 'lists an AZ twice', 'list each AZ once');

  check(!!c.hostedZone?.zoneId && /^Z[A-Z0-9]{1,31}$/.test(c.hostedZone.zoneId), 'hostedZone.zoneId', c.hostedZone?.zoneId, 'must be a Route 53 hosted zone ID (Z…)', 'copy the ID of the public hosted zone from Route 53');
  check(!!c.hostedZone?.zoneName && DOMAIN.test(c.hostedZone.zoneName), 'hostedZone.zoneName', c.hostedZone?.zoneName, 'must be a lower-case DNS name', 'set the name of the public hosted zone, e.g. staging.example.com');

  check(isCidr(c.network.cidr), 'network.cidr', c.network.cidr, 'is not an IPv4 CIDR', 'use a block such as 10.0.0.0/16');
  check(
    Number.isInteger(c.network.natGateways) && c.network.natGateways >= 1 && c.network.natGateways <= c.availabilityZones.length,
    'network.natGateways',
    c.network.natGateways,
    `must be between 1 and the number of AZs (${c.availabilityZones.length}); private subnets need a NAT gateway for egress`,
    c.tier === 'production' ? `use ${c.availabilityZones.length} (one per AZ)` : 'use 1',
  );
  if (c.tier === 'production') {
    check(c.network.natGateways === c.availabilityZones.length, 'network.natGateways', c.network.natGateways, 'production needs one NAT gateway per AZ so an AZ outage does not cut egress of the others', `use ${c.availabilityZones.length}`);
  }
  boolean(c.network.interfaceEndpoints, 'network.interfaceEndpoints');
  oneOf(c.network.flowLogRetentionDays, LOG_RETENTION_DAYS, 'network.flowLogRetentionDays', 'is not a CloudWatch Logs retention value');
  oneOf(c.logRetentionDays, LOG_RETENTION_DAYS, 'logRetentionDays', 'is not a CloudWatch Logs retention value');

  validateServices(c, check);
  for (const name of Object.keys(c.services ?? {})) {
    const s = c.services[name];
    const f = `services.${name}`;
    const pair = fargatePairProblem(s.cpu, s.memoryMiB);
    if (pair) problems.push({ field: `${f}.cpu/memoryMiB`, value: { cpu: s.cpu, memoryMiB: s.memoryMiB }, why: pair, fix: 'pick a listed memory value or another CPU size' });
    wholeAtLeast(s.desiredCount, 1, `${f}.desiredCount`, 'set the replica count of the live color to 1 or more');
    check(Number.isInteger(s.containerPort) && s.containerPort >= 1 && s.containerPort <= 65535, `${f}.containerPort`, s.containerPort, 'must be a TCP port', 'use the port the container listens on');
    check(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(s.repositoryName), `${f}.repositoryName`, s.repositoryName, 'is not an ECR repository name', 'use the repository name, e.g. ecommerce-frontend');
    for (const color of COLORS) {
      const v = s.colors[color]?.version;
      const bad = imageVersionProblem(v);
      if (bad) problems.push({ field: `${f}.colors.${color}.version`, value: v, ...bad });
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
    } else if (c.tier !== 'development') {
      problems.push({ field: `${f}.autoscaling`, value: undefined, why: `the ${c.tier} tier runs with autoscaling`, fix: 'set minCapacity, maxCapacity and targetCpuPercent' });
    }
  }

  const d = c.database;
  check(/^\d+(\.\d+)?$/.test(d.engineVersion) && Number(d.engineVersion.split('.')[0]) >= 14, 'database.engineVersion', d.engineVersion, 'must be a supported PostgreSQL version (14 or newer)', 'use e.g. 17.9');
  wholeAtLeast(d.readReplicas, 0, 'database.readReplicas', 'use 0 or more');
  boolean(d.multiAz, 'database.multiAz');
  boolean(d.protectData, 'database.protectData');
  // Intervals outside this list are rejected by RDS at deploy time, after the stateful stack has started updating.
  oneOf(d.enhancedMonitoringSeconds, ENHANCED_MONITORING_SECONDS, 'database.enhancedMonitoringSeconds', 'is not an RDS enhanced monitoring interval (0 = off)');
  if (c.tier === 'production') {
    check(d.readReplicas >= 1, 'database.readReplicas', d.readReplicas, 'production serves reads from replicas (the plan: "PostgreSQL RDS with read replicas"); a replica count below 1 leaves none', 'use 2');
    check(d.multiAz, 'database.multiAz', d.multiAz, 'production needs a Multi-AZ primary', 'set true');
    check(d.protectData, 'database.protectData', d.protectData, 'production data must survive a stack deletion', 'set true');
  }
  if (c.tier === 'pre-production') check(d.protectData, 'database.protectData', d.protectData, 'pre-production data must survive a stack deletion', 'set true');
  check(Number.isInteger(d.backupRetentionDays) && d.backupRetentionDays >= 1 && d.backupRetentionDays <= RDS_RETENTION_MAX, 'database.backupRetentionDays', d.backupRetentionDays, `must be 1–${RDS_RETENTION_MAX} days (0 turns automated backups off)`, 'use e.g. 7');
  if (d.procedures !== undefined) validateProcedures(c, check);
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
  boolean(k.multiAz, 'cache.multiAz');
  if (k.multiAz) check(k.nodes >= 2, 'cache.nodes', k.nodes, 'Multi-AZ with automatic failover needs a replica', 'use 2 or more');
  if (c.tier !== 'development') check(k.multiAz, 'cache.multiAz', k.multiAz, `the ${c.tier} tier needs automatic failover`, 'set true and nodes >= 2');
  check(/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(k.nodeType), 'cache.nodeType', k.nodeType, 'is not an ElastiCache node type', 'use e.g. cache.t4g.small');

  boolean(c.waf, 'waf');
  boolean(c.loadBalancer?.deletionProtection, 'loadBalancer.deletionProtection');
  if (c.tier === 'production') {
    check(c.loadBalancer?.deletionProtection === true, 'loadBalancer.deletionProtection', c.loadBalancer?.deletionProtection, 'production\'s ALB carries customer traffic and the storefront and API DNS names; a stack deletion or a replacement must not delete it', 'set true (turn it off and deploy first when the environment is to be deleted on purpose)');
  }

  const t = c.testListener;
  check(Number.isInteger(t.port) && t.port >= 1 && t.port <= 65535 && t.port !== 80 && t.port !== 443, 'testListener.port', t.port, 'must be a TCP port other than 80 and 443', 'use e.g. 8443');
  check(isCidr(t.allowedCidr) && !t.allowedCidr.endsWith('/0'), 'testListener.allowedCidr', t.allowedCidr, 'must be an IPv4 CIDR narrower than the whole internet: the test listener reaches colors without traffic', 'use your office or VPN CIDR');
  wholeAtLeast(c.traffic.minHealthyTargetsPerAz, 1, 'traffic.minHealthyTargetsPerAz', 'use 1 or more');

  validateAccess(c, check);
  validateRelease(c, check);
  validateMonitoring(c, check);
  validateCicd(c, check);

  if (problems.length > 0) throw new ConfigError(c.name, problems);
  return c;
}

type Check = (ok: boolean, field: string, value: unknown, why: string, fix: string) => void;

/**
 * At most this many services. Each adds six rollback triggers per color (error rate, fast burn, latency, unhealthy
 * targets and two comparisons), and a color's composite alarm, which starts the rollback, may reference at most 100
 * alarms: 16 services and both log triggers make 98. (The load balancer's 100 rules and 100 target groups, three rules
 * and two groups per service, allow 33.)
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
 */
export const MAX_SERVICES = 16;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables the app sets itself on every service's containers (lib/services.ts, lib/stateless-stack.ts). */
export const RESERVED_VARIABLES = [
  'APP_COLOR', 'APP_VERSION', 'PORT',
  'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_NAME', 'DATABASE_SSL', 'DATABASE_READ_HOSTS',
  'DATABASE_MIGRATION_USERNAME', 'DATABASE_MIGRATION_PASSWORD',
  'REDIS_HOST', 'REDIS_PORT', 'REDIS_TLS',
  'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES',
];
const SECRET_ARN = (c: EnvironmentConfig) => new RegExp(`^arn:aws[a-z-]*:secretsmanager:${c.region}:${c.account}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`);
const KMS_KEY_ARN = (c: EnvironmentConfig) => new RegExp(`^arn:aws[a-z-]*:kms:${c.region}:${c.account}:key/[0-9a-f-]{36}$`);

/** What `services` must be beyond each entry's sizes: names, hosts, data, secrets, variables, migration, triggers. */
function validateServices(c: EnvironmentConfig, check: Check): void {
  const services = c.services ?? {};
  const names = Object.keys(services);
  check(names.length >= 1, 'services', names, 'an environment needs at least one service', 'add an entry, e.g. copy frontend from config/dev.ts');
  check(names.length <= MAX_SERVICES, 'services', names.length, 'each service adds 6 rollback triggers per color, and a composite alarm may reference at most 100 alarms', `keep at most ${MAX_SERVICES} services per environment`);
  const zone = c.hostedZone?.zoneName ?? '';
  const hostOwners = new Map<string, string>();
  for (const name of names) {
    const s: ServiceConfig = services[name];
    const f = `services.${name}`;
    check(SERVICE_NAME_PATTERN.test(name), f, name, 'is not a service name: it names ECS services, alarms and metrics', 'use a lowercase letter, then lowercase letters, digits or hyphens (at most 30), e.g. admin-site');
    check(
      typeof s.host === 'string' && DOMAIN.test(s.host) && (s.host === zone || s.host.endsWith(`.${zone}`)),
      `${f}.host`,
      s.host,
      `must be a lower-case DNS name in the hosted zone ${zone}: its certificate name is DNS-validated and its alias record written there`,
      `use e.g. ${name}.${zone}`,
    );
    const owner = hostOwners.get(s.host);
    check(owner === undefined, `${f}.host`, s.host, `is also ${owner}'s host: one host rule routes one service`, 'give each service its own host');
    hostOwners.set(s.host, name);
    check(typeof s.healthCheckPath === 'string' && /^\/[^\s?#]*$/.test(s.healthCheckPath), `${f}.healthCheckPath`, s.healthCheckPath, 'must be an absolute path without spaces, query or fragment', "use e.g. '/health'");

    const env = s.environment ?? {};
    for (const [k, v] of Object.entries(env)) {
      check(ENV_NAME.test(k), `${f}.environment.${k}`, k, 'is not an environment variable name', 'use letters, digits and _, not starting with a digit');
      check(!RESERVED_VARIABLES.includes(k), `${f}.environment.${k}`, v, 'is set by the app itself (color, version, port, data connection settings, tracing)', 'remove it; the README lists what the app sets ("Runtime contract")');
      check(typeof v === 'string', `${f}.environment.${k}`, v, 'must be a string', 'quote the value');
    }
    const secrets = s.secrets ?? {};
    for (const [k, src] of Object.entries(secrets)) {
      const sf = `${f}.secrets.${k}`;
      check(ENV_NAME.test(k), sf, k, 'is not an environment variable name', 'use letters, digits and _, not starting with a digit');
      check(!RESERVED_VARIABLES.includes(k), sf, k, 'is set by the app itself', 'use another name');
      check(!(k in env), sf, k, `is also in ${f}.environment`, 'keep the name in one of environment and secrets');
      validateSecretSource(c, s, src, sf, check);
    }
    const data = s.data ?? {};
    for (const [k, v] of Object.entries(data)) {
      check(['database', 'readReplicas', 'cache'].includes(k), `${f}.data.${k}`, v, 'is not a data store of the environment', 'use database, readReplicas or cache');
      check(typeof v === 'boolean', `${f}.data.${k}`, v, 'must be true or false', 'set true or remove it');
    }
    (s.logTriggers ?? []).forEach((t, i) =>
      check((LOG_TRIGGERS as readonly string[]).includes(t), `${f}.logTriggers[${i}]`, t, 'is not a log-contract trigger', `use one of ${LOG_TRIGGERS.join(', ')}`),
    );
    check(new Set(s.logTriggers ?? []).size === (s.logTriggers ?? []).length, `${f}.logTriggers`, s.logTriggers, 'lists a trigger twice', 'list each once');
    // Without release.migrationCommand nothing runs: the flag says whose image holds the migrations.
    if (s.runsMigration) {
      check(data.database === true, `${f}.runsMigration`, s.runsMigration, 'a migration needs the database, which this service may not reach', `set ${f}.data.database: true`);
    }
  }
  const migrating = names.filter((n) => services[n].runsMigration);
  if (c.release?.migrationCommand || c.database?.procedures) {
    check(
      migrating.length === 1,
      'services.*.runsMigration',
      migrating,
      c.release?.migrationCommand
        ? 'a release runs its migration once, from the task definition of exactly one service'
        : '`npm run db` runs database.procedures in the migration task definition of exactly one service',
      migrating.length === 0 ? 'set runsMigration: true on the service whose image holds the migrations (it must reach the database)' : 'keep runsMigration on one service',
    );
  }
}

/**
 * `access`: public, or a non-empty list of valid, distinct CIDRs and prefix lists that fits the ALB security group's
 * inbound rules quota; the production tier must be public (the plan: "Public access").
 */
function validateAccess(c: EnvironmentConfig, check: Check): void {
  const a = c.access as unknown;
  if (!Array.isArray(a)) {
    check(
      typeof a === 'object' && a !== null && (a as { public?: unknown }).public === true && Object.keys(a).length === 1,
      'access',
      a,
      'must be { public: true } or a list of sources ({ cidr, description } or { prefixListId, maxEntries, description })',
      "use { public: true } or e.g. [{ cidr: '198.51.100.0/24', description: 'QA Team' }]",
    );
    return;
  }
  const sources = a as readonly AccessSource[];
  if (c.tier === 'production') {
    check(false, 'access', sources, 'the production tier serves customers: its storefront and API must be reachable from anywhere (the plan: "Public access")', 'use { public: true }, or give this environment another tier');
  }
  check(sources.length > 0, 'access', sources, 'an empty list lets nobody reach the storefront and the API on 80 and 443', "list at least one source, e.g. [{ cidr: '198.51.100.0/24', description: 'QA Team' }], or use { public: true }");
  sources.forEach((s, i) => {
    const f = `access[${i}]`;
    if (typeof s !== 'object' || s === null || ('cidr' in s) === ('prefixListId' in s)) {
      check(false, f, s, 'must have either cidr or prefixListId', "use { cidr: '198.51.100.0/24', description: 'QA Team' } or { prefixListId: 'pl-0123456789abcdef0', maxEntries: 10, description: 'QA Team' }");
      return;
    }
    check(typeof s.description === 'string' && RULE_DESCRIPTION.test(s.description), `${f}.description`, s.description, 'becomes the security group rule description: 1–200 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* only', "say who this is, e.g. 'QA Team'");
    if (isPrefixList(s)) {
      check(typeof s.prefixListId === 'string' && PREFIX_LIST_ID.test(s.prefixListId), `${f}.prefixListId`, s.prefixListId, 'is not a managed prefix list ID (pl- and 8 to 17 hex digits)', 'copy the ID from the VPC console, Managed prefix lists');
      check(Number.isInteger(s.maxEntries) && s.maxEntries >= 1, `${f}.maxEntries`, s.maxEntries, "must be the prefix list's max entries, a whole number >= 1: a rule referencing it counts as that many toward the inbound rules quota", 'copy Max entries from the VPC console (aws ec2 describe-managed-prefix-lists)');
      return;
    }
    if (!isCidr(s.cidr)) {
      check(false, `${f}.cidr`, s.cidr, 'is not an IPv4 CIDR', "use e.g. '198.51.100.0/24'");
      return;
    }
    check(!s.cidr.endsWith('/0'), `${f}.cidr`, s.cidr, 'is the whole internet, in a list meant to restrict access (and a WAF IP set does not take /0)', 'use { public: true } to open the environment, or a narrower CIDR');
    // A CIDR with host bits set is a typo for its network, or a single address typed with the wrong mask.
    check(canonicalCidr(s.cidr) === s.cidr, `${f}.cidr`, s.cidr, 'has host bits set beyond its prefix length', `use ${canonicalCidr(s.cidr)}, or ${s.cidr.split('/')[0]}/32 for one address`);
  });
  const keys = sources.map((s) => (typeof s === 'object' && s !== null ? (isPrefixList(s) ? s.prefixListId : s.cidr) : undefined));
  const repeated = keys.filter((k, i) => k !== undefined && keys.indexOf(k) !== i);
  // EC2 refuses a second identical rule, so the deploy would fail.
  check(repeated.length === 0, 'access', repeated, 'lists a source twice', 'list each CIDR or prefix list once');
  if (sources.every((s) => typeof s === 'object' && s !== null && (!isPrefixList(s) || Number.isInteger(s.maxEntries)))) {
    const rules = albInboundRules(c);
    check(
      rules <= SECURITY_GROUP_INBOUND_RULES,
      'access',
      sources,
      `needs ${rules} inbound rules on the ALB security group (each source on 80 and 443, a prefix list counting as its max entries, plus the test listener's ${1 + c.network.natGateways}); the default quota is ${SECURITY_GROUP_INBOUND_RULES} (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html)`,
      'merge CIDRs into wider blocks or a prefix list with fewer max entries, or use { public: true } with WAF',
    );
  }
}

function validateSecretSource(c: EnvironmentConfig, s: ServiceConfig, src: SecretSource, f: string, check: Check): void {
  if (src && 'secretArn' in src) {
    check(
      SECRET_ARN(c).test(src.secretArn),
      `${f}.secretArn`,
      src.secretArn,
      `must be the COMPLETE ARN of a Secrets Manager secret in ${c.region} of account ${c.account} (with its six-character suffix): ECS resolves a JSON key only through a complete ARN`,
      'copy the ARN from the Secrets Manager console',
    );
    if (src.jsonKey !== undefined) check(typeof src.jsonKey === 'string' && /^[^:\s]+$/.test(src.jsonKey), `${f}.jsonKey`, src.jsonKey, 'must be a JSON key without ":" or spaces', 'use the key, e.g. apiKey, or remove it');
    if (src.encryptionKeyArn !== undefined) {
      check(KMS_KEY_ARN(c).test(src.encryptionKeyArn), `${f}.encryptionKeyArn`, src.encryptionKeyArn, `must be a KMS key ARN in ${c.region} of account ${c.account}`, "copy the secret's KMS key ARN, or remove it for aws/secretsmanager");
    }
  } else if (src && 'database' in src) {
    check(src.database === 'username' || src.database === 'password', `${f}.database`, src.database, "is not a field of the application's database credentials", "use 'username' or 'password'");
    check(s.data?.database === true || s.data?.readReplicas === true, f, src, 'gives database credentials to a service that may not reach the database', 'set data.database (or data.readReplicas) to true, or remove the secret');
  } else if (src && 'cache' in src) {
    check(src.cache === 'authToken', `${f}.cache`, src.cache, "is not a field of the cache's credentials", "use 'authToken'");
    check(s.data?.cache === true, f, src, 'gives the cache token to a service that may not reach the cache', 'set data.cache to true, or remove the secret');
  } else {
    check(false, f, src, 'is not a secret source', "use { secretArn, jsonKey? }, { database: 'username' | 'password' } or { cache: 'authToken' }");
  }
}

/** The placeholder of `database.procedures.rollback` that `npm run db -- rollback --to <id>` replaces. */
export const ROLLBACK_TARGET_PLACEHOLDER = '{to}';

/** `database.procedures`: three commands (rollback with its `{to}`), a snapshot age and a timeout. */
function validateProcedures(c: EnvironmentConfig, check: Check): void {
  const p = c.database.procedures!;
  for (const name of ['migrate', 'rollback', 'verify'] as const) {
    const cmd = p[name] as unknown;
    check(
      Array.isArray(cmd) && cmd.length > 0 && cmd.every((a) => typeof a === 'string' && a.length > 0),
      `database.procedures.${name}`,
      cmd,
      'must be a non-empty list of non-empty arguments (the container command of the task)',
      `use e.g. ["npm", "run", "db:${name}"]`,
    );
  }
  if (Array.isArray(p.rollback)) {
    check(
      p.rollback.some((a) => typeof a === 'string' && a.includes(ROLLBACK_TARGET_PLACEHOLDER)),
      'database.procedures.rollback',
      p.rollback,
      `has no ${ROLLBACK_TARGET_PLACEHOLDER} argument: \`npm run db -- rollback --to <id>\` would run it without the migration to roll back to`,
      `add it where the tool takes the target, e.g. ["npm", "run", "db:rollback", "--", "--to", "${ROLLBACK_TARGET_PLACEHOLDER}"]`,
    );
  }
  check(
    typeof p.rollbackSnapshotMaxAgeHours === 'number' && p.rollbackSnapshotMaxAgeHours > 0 && p.rollbackSnapshotMaxAgeHours <= 24 * c.database.backupRetentionDays,
    'database.procedures.rollbackSnapshotMaxAgeHours',
    p.rollbackSnapshotMaxAgeHours,
    `must be hours > 0 and at most the backup retention (${c.database.backupRetentionDays} days = ${24 * c.database.backupRetentionDays} h): a rollback needs a snapshot to go back to if it goes wrong`,
    'use e.g. 1 (or pass --snapshot to take one first)',
  );
  // The CLI waits for the task; ECS itself has no task timeout. One hour covers a long migration without leaving an
  // operator's terminal (and the release lock it holds) waiting all day.
  check(
    Number.isInteger(p.timeoutSeconds) && p.timeoutSeconds >= 60 && p.timeoutSeconds <= 24 * 3600,
    'database.procedures.timeoutSeconds',
    p.timeoutSeconds,
    'must be whole seconds from 60 to 86400',
    'use e.g. 1800',
  );
}

/** Step Functions limits: a Wait state and a task heartbeat are capped by the one-year execution limit. https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html */
const SFN_MAX_SECONDS = 365 * 24 * 3600;

function validateRelease(c: EnvironmentConfig, check: Check): void {
  const r = c.release;
  check((RELEASE_STRATEGIES as readonly unknown[]).includes(r.strategy), 'release.strategy', r.strategy, 'is not a release strategy `npm run release` knows', `use one of ${RELEASE_STRATEGIES.map((s) => JSON.stringify(s)).join(', ')}`);
  for (const flag of ['approvalAfterFirstStep', 'backupBeforeRelease'] as const) {
    check(typeof r[flag] === 'boolean', `release.${flag}`, r[flag], 'must be true or false', 'use true or false (not a string)');
  }
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
  if (r.imageScan !== undefined) {
    check(
      (SCAN_SEVERITIES as readonly unknown[]).includes(r.imageScan?.failOnSeverity),
      'release.imageScan.failOnSeverity',
      r.imageScan?.failOnSeverity,
      'is not an ECR scan severity',
      `use one of ${SCAN_SEVERITIES.map((v) => JSON.stringify(v)).join(', ')} (e.g. 'HIGH' refuses HIGH and CRITICAL findings)`,
    );
    if (r.imageScan?.requireScan !== undefined) check(typeof r.imageScan.requireScan === 'boolean', 'release.imageScan.requireScan', r.imageScan.requireScan, 'must be true or false', 'use true or false, or remove it');
  }
  if (c.tier !== 'development') check(r.backupBeforeRelease, 'release.backupBeforeRelease', r.backupBeforeRelease, `the ${c.tier} tier must confirm backups before a release (the plan's "confirm backups before deployment")`, 'set true');
  validateJudge(r.judge, check);
}

/** The canary judge's settings (lambda/release/judge.ts; README, "How the judge decides"). */
function validateJudge(j: EnvironmentConfig['release']['judge'], check: Check): void {
  if (!j || typeof j !== 'object') {
    check(false, 'release.judge', j, 'every release gate needs the judge\'s settings', 'use JUDGE_DEFAULTS from config/shared.ts');
    return;
  }
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  check(
    num(j.falseRollbackPercent) && j.falseRollbackPercent > 0 && j.falseRollbackPercent <= 10,
    'release.judge.falseRollbackPercent',
    j.falseRollbackPercent,
    'must be a percentage in (0, 10]: the chance of rolling back a good release over a whole canary (above 10 % one release in ten is rolled back for nothing)',
    'use 1',
  );
  check(
    num(j.errorRateMarginPoints) && j.errorRateMarginPoints > 0 && j.errorRateMarginPoints <= 100,
    'release.judge.errorRateMarginPoints',
    j.errorRateMarginPoints,
    'must be percentage points in (0, 100]: at 0 no finite traffic can prove a release within the margin, so nothing passes',
    'use 0.5 (about half the stable error rate you expect)',
  );
  check(
    num(j.latencyMarginPercent) && j.latencyMarginPercent > 0 && j.latencyMarginPercent <= 1000,
    'release.judge.latencyMarginPercent',
    j.latencyMarginPercent,
    'must be a percentage in (0, 1000]: at 0 no finite traffic can prove a release within the margin, so nothing passes',
    'use 15',
  );
  check(
    Number.isInteger(j.minRequests) && j.minRequests >= 100,
    'release.judge.minRequests',
    j.minRequests,
    'must be a whole number >= 100: below it a handful of requests decides (one failure in 20 is 5 %)',
    'use 500',
  );
  check(
    Number.isInteger(j.maxExtensions) && j.maxExtensions >= 0 && j.maxExtensions <= 10,
    'release.judge.maxExtensions',
    j.maxExtensions,
    'must be a whole number from 0 to 10: each extension is one more bake a release waits at a step',
    'use 2',
  );
  check(
    (['pass', 'fail', 'hold'] as unknown[]).includes(j.onInconclusive),
    'release.judge.onInconclusive',
    j.onInconclusive,
    'is not what an inconclusive verdict may do once the extensions are used up',
    "use 'hold' (the operator decides), 'pass' (go on; the alarms still roll back) or 'fail' (roll back)",
  );
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
  check(typeof m.apm === 'boolean', 'monitoring.apm', m.apm, 'must be true or false', 'use true or false (not a string)');
  if (c.tier === 'production') check(m.apm, 'monitoring.apm', m.apm, 'the plan asks for APM in production', 'set true');
  const k = m.crash;
  const whole = (v: number, field: string, min: number, max: number, fix: string, why = `must be a whole number from ${min} to ${max}`) =>
    check(Number.isInteger(v) && v >= min && v <= max, field, v, why, fix);
  // One crash alone may be a host event; more than 20 would wait for more tasks than a color usually runs.
  whole(k.tasks, 'monitoring.crash.tasks', 2, 20, 'use 2', 'must be a whole number from 2 to 20 (one crash alone can be a host event, not the release)');
  whole(k.windowSeconds, 'monitoring.crash.windowSeconds', 30, 3600, 'use 120');
  // Step Functions history (25,000 events per execution) and the poll's own cost bound the interval from below; the
  // release's overall timeout counts one poll past each bake, at most MAX_WATCH_POLL_SECONDS.
  whole(k.pollSeconds, 'monitoring.crash.pollSeconds', 5, MAX_WATCH_POLL_SECONDS, 'use 10');
  whole(k.unhealthyPolls, 'monitoring.crash.unhealthyPolls', 1, 10, 'use 2');
}
