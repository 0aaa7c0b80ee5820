/**
 * The one typed configuration of an environment. Every environment (dev, staging,
 * production) is a value of this type; `validateConfig` checks it at synth.
 */
import type { Color, PreTrafficCheck, ServiceName } from '../lambda/shared/topology';

export type { PreTrafficCheck };

/**
 * An environment's name: lowercase letters, digits and single hyphens, starting with a letter (validated at synth).
 * It names the config file and the CDK stage (`stageName`: `perf-eu` -> `PerfEu`); what the environment must satisfy
 * follows from its `tier`, never from its name, so a new environment is one file and one line (README, "Adding an
 * environment").
 */
export type EnvironmentName = string;

/**
 * What an environment is for, and so which rules it must meet (README, "Environments"): `production` takes customer
 * traffic (Multi-AZ, replicas, public access, …); `pre-production` rehearses it (autoscaling, protected data,
 * backups before a release); `development` is rebuilt at will.
 */
export const TIERS = ['development', 'pre-production', 'production'] as const;
export type Tier = (typeof TIERS)[number];

/** A source allowed to reach the ALB's ports 80 and 443: an IPv4 CIDR. */
export interface CidrAccessSource {
  /** IPv4 CIDR with its host bits zero, e.g. `198.51.100.0/24`; not `/0` (that is `{ public: true }`). */
  readonly cidr: string;
  /**
   * Who this is, written into the security group rule: at most 200 characters of letters, digits, spaces and
   * `._-:/()#,@[]+=&;{}!$*` (what EC2 accepts in a rule description).
   */
  readonly description: string;
}

/**
 * A source allowed to reach the ALB's ports 80 and 443: a managed prefix list (customer or AWS managed). Enforced by
 * the security group only: a WAF IP set cannot reference a prefix list, so an environment that lists one gets no WAF
 * source rule (README, "Access").
 */
export interface PrefixListAccessSource {
  /** `pl-` and 8 to 17 hex digits, in this environment's account and region (or shared with it). */
  readonly prefixListId: string;
  /**
   * The prefix list's maximum number of entries (its "Max entries"): a security group rule that references a prefix
   * list counts as that many rules toward the inbound rules quota, so validation needs it.
   * https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
   */
  readonly maxEntries: number;
  /** Who this is, written into the security group rule (same characters as `CidrAccessSource.description`). */
  readonly description: string;
}

export type AccessSource = CidrAccessSource | PrefixListAccessSource;

/**
 * Who may reach the storefront and the API (ALB ports 80 and 443): everyone, or only the listed sources (one security
 * group rule per source and port, plus a WAF rule where `waf` is on). The production tier must be public.
 */
export type AccessConfig = { readonly public: true } | readonly AccessSource[];

/** Release strategies `npm run release` knows. */
export const RELEASE_STRATEGIES = ['canary', 'blue-green'] as const;
export type ReleaseStrategy = (typeof RELEASE_STRATEGIES)[number];

/** The intervals RDS enhanced monitoring accepts, in seconds; 0 = off. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html */
export const ENHANCED_MONITORING_SECONDS = [0, 1, 5, 10, 15, 30, 60] as const;
export type EnhancedMonitoringSeconds = (typeof ENHANCED_MONITORING_SECONDS)[number];

/** The retention values CloudWatch Logs accepts, in days. https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
export type LogRetentionDays = (typeof LOG_RETENTION_DAYS)[number];

export interface ColorConfig {
  /** Image tag of this color, deployed as `<repositoryName>:<version>`, or its digest `sha256:<64 hex>`, deployed as `<repositoryName>@sha256:…`. */
  readonly version: string;
}

export interface AutoscalingConfig {
  readonly minCapacity: number;
  readonly maxCapacity: number;
  /** Target average CPU utilization, in percent, for target tracking. */
  readonly targetCpuPercent: number;
}

/** A log-contract trigger a service's logs feed (README, "Log contract"): its events roll the color back. */
export const LOG_TRIGGERS = ['database-errors', 'payments'] as const;
export type LogTrigger = (typeof LOG_TRIGGERS)[number];

/**
 * Where one ECS secret of a service comes from (injected at task start, never in the template):
 * - `{ secretArn, jsonKey? }`: an existing Secrets Manager secret of the environment's account and region (its COMPLETE
 *   ARN, with the six-character suffix) and optionally one JSON key of it; `encryptionKeyArn` when it is encrypted with
 *   a customer managed KMS key (the execution role gets kms:Decrypt on it through Secrets Manager only);
 * - `{ database: 'username' | 'password' }`: the environment's application database user (alternating-users rotation);
 * - `{ cache: 'authToken' }`: the environment's cache AUTH token.
 */
export type SecretSource =
  | { readonly secretArn: string; readonly jsonKey?: string; readonly encryptionKeyArn?: string }
  | { readonly database: 'username' | 'password' }
  | { readonly cache: 'authToken' };

/** Which of the environment's data stores a service's tasks may reach (network and connection settings). */
export interface DataAccess {
  /**
   * The primary PostgreSQL instance, read-write: ingress from the service's tasks, and DATABASE_HOST, DATABASE_PORT,
   * DATABASE_NAME, DATABASE_SSL in its environment. @default false
   */
  readonly database?: boolean;
  /** The read replicas: ingress, and DATABASE_READ_HOSTS (comma-separated; empty without replicas). @default false */
  readonly readReplicas?: boolean;
  /** The cache: ingress, and REDIS_HOST, REDIS_PORT, REDIS_TLS. @default false */
  readonly cache?: boolean;
}

export interface ServiceConfig {
  /**
   * The full host name the service serves, inside the environment's hosted zone (e.g. `api.example.com`). Its listener
   * rule priorities, its name on the certificate and its DNS record derive from it.
   */
  readonly host: string;
  /** ECR repository name in the environment's account and region. */
  readonly repositoryName: string;
  /** Fargate task CPU units (256 = 0.25 vCPU). */
  readonly cpu: number;
  /** Fargate task memory in MiB; must be valid for `cpu`. */
  readonly memoryMiB: number;
  /** Task count of the live color. */
  readonly desiredCount: number;
  readonly containerPort: number;
  /** Path of the load balancer's and the container's health check; must answer 200 (e.g. `/health`). */
  readonly healthCheckPath: string;
  /** Image version per color. Change only the idle color's version (see README, "Releasing"). */
  readonly colors: Readonly<Record<Color, ColorConfig>>;
  /** Application Auto Scaling of the live color; absent = fixed `desiredCount`. */
  readonly autoscaling?: AutoscalingConfig;
  /**
   * What the release requests on the new color through the test listener before any traffic moves; every check must
   * answer its status. List only paths the service serves (README, "Runtime contract").
   */
  readonly preTrafficChecks: readonly PreTrafficCheck[];
  /**
   * Plain environment variables of the service's containers. Never a secret value (use `secrets`); names the app sets
   * itself (APP_COLOR, APP_VERSION, PORT, and the `data` connection settings) are refused. @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /** ECS secrets by variable name (see `SecretSource`). @default - none */
  readonly secrets?: Readonly<Record<string, SecretSource>>;
  /** Data stores the tasks may reach. @default - none */
  readonly data?: DataAccess;
  /**
   * This service's image holds the migrations: it runs the release's `release.migrationCommand` (once per release,
   * before traffic moves, with the schema owner's credentials). Exactly one service must say so where the environment
   * has a migration command, and it must reach the database. @default false
   */
  readonly runsMigration?: boolean;
  /** Log-contract triggers fed by this service's logs (README, "Log contract"). @default - none */
  readonly logTriggers?: readonly LogTrigger[];
  /**
   * Lift the WAF core rule set's 8 KB request-body limit for this host (the service enforces its own body limit, e.g.
   * an API taking orders with many lines). Only where `waf` is on. @default false
   */
  readonly largeRequestBodies?: boolean;
}

export interface DatabaseConfig {
  /** PostgreSQL engine full version, for example `17.9`. */
  readonly engineVersion: string;
  /** RDS instance class without the `db.` prefix, for example `t4g.micro`. */
  readonly instanceType: string;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  /** Number of read replicas. */
  readonly readReplicas: number;
  readonly backupRetentionDays: number;
  /** Deletion protection and a removal policy that keeps data (snapshot). */
  readonly protectData: boolean;
  /** RDS enhanced monitoring interval in seconds; 0 = off. */
  readonly enhancedMonitoringSeconds: EnhancedMonitoringSeconds;
  readonly databaseName: string;
  /**
   * Days between automatic rotations of every database credential (master, schema owner, application).
   * The application's credentials alternate between two users, so what a task received at start stays valid
   * for at least this many days less one (README, "Database credentials and rotation").
   */
  readonly credentialRotationDays: number;
  /**
   * The database procedures `npm run db` runs in the migrating service's task (the service with `runsMigration`) on its
   * live color (README, "Database procedures"). @default - `npm run db -- migrate|rollback|verify` refuse; `restore` works
   */
  readonly procedures?: DatabaseProcedures;
}

/** Commands of `npm run db`, each an argv run as the container's command (ECS RunTask command override). */
export interface DatabaseProcedures {
  /** `npm run db -- migrate`, e.g. `['npm', 'run', 'db:migrate']`. */
  readonly migrate: readonly string[];
  /**
   * `npm run db -- rollback --to <id>`: the argument `{to}` (or an argument containing it) is replaced by the `--to`
   * value, e.g. `['npm', 'run', 'db:rollback', '--', '--to', '{to}']`.
   */
  readonly rollback: readonly string[];
  /** `npm run db -- verify`, e.g. `['npm', 'run', 'db:verify']`. */
  readonly verify: readonly string[];
  /**
   * `rollback` refuses unless a snapshot of the database (manual or automated, available) is at most this many hours
   * old; `--snapshot` takes a manual one first.
   */
  readonly rollbackSnapshotMaxAgeHours: number;
  /** Longest a procedure's task may run, in seconds; the CLI stops the task and exits 1 after it. */
  readonly timeoutSeconds: number;
}

/** ECR image scan severities, lowest first (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-basic.html). */
export const SCAN_SEVERITIES = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type ScanSeverity = (typeof SCAN_SEVERITIES)[number];

/** What the release's image check refuses (README, "Before any traffic moves"). */
export interface ImageScanPolicy {
  /** A finding at or above this severity in the new image's ECR scan refuses the release. */
  readonly failOnSeverity: ScanSeverity;
  /**
   * A new image without a completed scan (scanning off for the repository, or no scan yet, or still in progress)
   * refuses the release too. @default false - it is allowed, and the release's record says it was not scanned
   */
  readonly requireScan?: boolean;
}

export interface CacheConfig {
  /** ElastiCache node type, for example `cache.t4g.micro`. */
  readonly nodeType: string;
  /** Valkey/Redis OSS engine version. */
  readonly engineVersion: string;
  /** Nodes in the replication group (1 primary + replicas). */
  readonly nodes: number;
  /** Multi-AZ with automatic failover; needs nodes >= 2. */
  readonly multiAz: boolean;
}

/** How a release moves traffic and when it gives up; see README, "Releasing". */
export interface ReleasePolicy {
  /** Default strategy of `npm run release` for this environment. */
  readonly strategy: ReleaseStrategy;
  /**
   * Canary: percent of traffic on the new color after each step, strictly increasing, ending at 100.
   * Blue/green ignores it and goes to 100 at once.
   */
  readonly canarySteps: readonly number[];
  /** Wait after each step before the gate checks alarms, in seconds. */
  readonly bakeSeconds: number;
  /** Wait at 100% before the release is declared done, in seconds. */
  readonly finalBakeSeconds: number;
  /** Ask for a manual approval (task token) before leaving the first canary step. */
  readonly approvalAfterFirstStep: boolean;
  /** How long a manual approval may wait before the release rolls back, in seconds. */
  readonly approvalTimeoutSeconds: number;
  /** How long the old color keeps running after 100% before it is scaled to 0 (the plan: 30 minutes). */
  readonly rollbackWindowSeconds: number;
  /** Longest wait for the new color's services to become stable with healthy targets, in seconds. */
  readonly stabilizeTimeoutSeconds: number;
  /** Take a manual RDS snapshot and require a recent automated backup before the release. */
  readonly backupBeforeRelease: boolean;
  /** Run the backend's new task definition once with this command before traffic moves. @default - no migration */
  readonly migrationCommand?: readonly string[];
  /** Longest a migration task may run, in seconds. */
  readonly migrationTimeoutSeconds: number;
  /**
   * The new images' ECR scan findings the release's preflight refuses; the image must exist either way.
   * @default - images must exist; scan findings are not checked
   */
  readonly imageScan?: ImageScanPolicy;
  /** The statistical judge of every gate: new color against stable color on the same load (README, "How the judge decides"). */
  readonly judge: JudgeSettings;
}

/**
 * Settings of the canary judge (lambda/release/judge.ts): how sure it must be, how much worse the new color may be,
 * how much traffic a verdict needs, and what happens when the traffic is too thin to decide.
 */
export interface JudgeSettings {
  /** Chance of failing a good release over a whole canary (all looks together), percent, e.g. 1. */
  readonly falseRollbackPercent: number;
  /** Error rate the new color may exceed the stable color's by before it counts as worse, percentage points. */
  readonly errorRateMarginPoints: number;
  /** p99 latency the new color may exceed the stable color's by before it counts as worse, percent. */
  readonly latencyMarginPercent: number;
  /** Requests each color needs over a look before the judge decides anything but inconclusive. */
  readonly minRequests: number;
  /** Extra bakes (each one `bakeSeconds`) a gate may add while the verdict is inconclusive. */
  readonly maxExtensions: number;
  /** What an inconclusive verdict does once the extensions are used up: go on, roll back, or hold for the operator. */
  readonly onInconclusive: 'pass' | 'fail' | 'hold';
}

/**
 * Rollback triggers (the plan's "Automated Rollback Triggers") and operations alarms; README,
 * "Monitoring", gives each trigger's worst-case detection time.
 */
export interface MonitoringConfig {
  /** Email address subscribed to the notification topic. @default - no subscription */
  readonly alarmEmail?: string;
  /**
   * A Slack channel that receives the notification topic through Amazon Q Developer in chat applications (AWS Chatbot;
   * README, "Slack"). The workspace must be authorized once in the Chatbot console of this account first.
   * @default - no Slack channel
   */
  readonly slack?: SlackChannel;
  /** Error rate (5XX / requests, percent) that rolls a color back when held for `errorRateMinutes`. */
  readonly errorRatePercent: number;
  readonly errorRateMinutes: number;
  /** Requests per minute below which a minute counts as healthy (1 error in 3 requests at night is no outage). */
  readonly minRequestsPerMinute: number;
  /** Error rate of a catastrophic failure, which rolls back after `fastBurnMinutes`. */
  readonly fastBurnErrorRatePercent: number;
  readonly fastBurnMinutes: number;
  /**
   * Percent of a color's registered targets that are unhealthy, while the color takes traffic, that rolls it back
   * when held for `unhealthyMinutes` (targets that crashed, hang on their health check, or fail it).
   */
  readonly unhealthyTargetsPercent: number;
  readonly unhealthyMinutes: number;
  /** Average target response time, in seconds, that rolls a color back when held for `latencyMinutes`. */
  readonly latencySeconds: number;
  readonly latencyMinutes: number;
  /** Database errors per minute (from the backend's logs) that roll a color back. */
  readonly databaseErrorsPerMinute: number;
  /** Payment failure rate, percent of attempts, over `paymentWindowMinutes`. */
  readonly paymentFailurePercent: number;
  readonly paymentWindowMinutes: number;
  /** Attempts in the window below which payments do not count. */
  readonly paymentMinAttempts: number;
  /** New color versus stable color on the same load, during a canary. */
  readonly comparison: {
    /** New error rate minus stable error rate, in percentage points. */
    readonly errorRatePoints: number;
    /** New p99 latency over stable p99 latency. */
    readonly p99LatencyRatio: number;
    /** Requests per minute each color needs before the comparison counts. */
    readonly minRequestsPerMinute: number;
    /** Minutes the comparison must hold. */
    readonly minutes: number;
    /**
     * A color's comparison counts only in minutes where it served at most this percent of the two colors' requests:
     * it is the canary, the other color its baseline. So the stable color's comparison never fires because the new
     * color is better, and around an even split (no canary, no baseline) neither does; the absolute triggers judge both.
     */
    readonly canaryMaxRequestPercent: number;
  };
  /**
   * Alarm on PostgreSQL connections at this percent of the instance class's default max_connections
   * (config/rds.ts derives it from the class's memory).
   */
  readonly databaseConnectionsPercent: number;
  /** Application tracing with an AWS Distro for OpenTelemetry collector sidecar sending to X-Ray. */
  readonly apm: boolean;
  /**
   * Crash detection in seconds (README "Crash detection"): tasks of a color that stop crashing (non-zero exit of an
   * essential container, failed container or load balancer health checks, failure to start), counted from ECS task
   * state change events, and the new color's unhealthy targets polled during bakes.
   */
  readonly crash: CrashDetectionConfig;
}

/** When crashes of a color roll it back (during a release, the new color) or notify (otherwise). */
export interface CrashDetectionConfig {
  /** Crashed tasks of one color within `windowSeconds` that trigger. */
  readonly tasks: number;
  /** Sliding window over the tasks' stop times, in seconds. */
  readonly windowSeconds: number;
  /** Seconds between two target-health polls of the new color during a bake. */
  readonly pollSeconds: number;
  /**
   * Consecutive polls in which at least `monitoring.unhealthyTargetsPercent` of the new color's registered targets of
   * a service are `unhealthy` that fail the bake (CandidateUnhealthy → rollback).
   */
  readonly unhealthyPolls: number;
}

/** A Slack channel of an authorized workspace (README, "Slack"). */
export interface SlackChannel {
  /** The workspace ID, `T` and 8 to 11 letters or digits (the Chatbot console shows it once the workspace is authorized). */
  readonly workspaceId: string;
  /** The channel ID, `C` (public) or `G` (private) and 8 to 11 letters or digits (Slack: channel details, bottom). */
  readonly channelId: string;
}

/**
 * The GitHub Actions deploy role of an environment (README, "CI/CD"): assumed through GitHub's OIDC provider by jobs of
 * `githubRepository` that run in the GitHub environment `githubEnvironment`, allowed to assume the CDK bootstrap roles
 * and to start and follow releases, nothing else.
 */
export interface CicdConfig {
  /** `owner/repository` on github.com whose workflow deploys this environment. */
  readonly githubRepository: string;
  /**
   * The GitHub environment of the jobs that deploy this environment (the token's `sub` is
   * `repo:<owner>/<repo>:environment:<name>`): protect it with required reviewers where a person must approve.
   * @default - the environment's `name`
   */
  readonly githubEnvironment?: string;
  /**
   * Create the account's GitHub OIDC provider (token.actions.githubusercontent.com). An account has at most one
   * provider per URL: exactly one environment per account creates it (false where the account already has one, made by
   * another environment of this app or by hand).
   */
  readonly createOidcProvider: boolean;
}

export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  /** Which rules this environment must meet (see `TIERS`); validation keys on it, never on `name`. */
  readonly tier: Tier;
  /**
   * Who may reach the storefront and the API: `{ public: true }`, or the sources allowed on ports 80 and 443 (the
   * plan: development "Developers only", staging "QA Team, Stakeholders", production "Public access"). The test
   * listener has its own `testListener.allowedCidr`.
   */
  readonly access: AccessConfig;
  /** 12-digit AWS account ID. The placeholder 111111111111 etc. must be replaced to deploy (README). */
  readonly account: string;
  readonly region: string;
  /**
   * How the operator CLIs (`npm run traffic`, `npm run release`) reach this environment. They always use `account` and
   * `region` above and refuse credentials of another account; `--profile` overrides `profile`.
   */
  readonly cli?: {
    /**
     * Shared-config profile (`~/.aws/config`) whose credentials the CLIs use, e.g. an IAM Identity Center profile of
     * this account. @default - the default credential chain (AWS_PROFILE, environment variables, instance role …)
     */
    readonly profile?: string;
  };
  /** Explicit AZs, so synth needs no account lookup. */
  readonly availabilityZones: readonly string[];
  /**
   * Route 53 public hosted zone that holds every service's `host`, IN THIS ENVIRONMENT'S ACCOUNT: the certificate's DNS validation
   * records and the alias records are written there by this account's deploy role. Give each account its own zone
   * (e.g. delegate `dev.example.com` from the apex zone to the dev account; README, "First deploy into a real account").
   */
  readonly hostedZone: { readonly zoneId: string; readonly zoneName: string };
  readonly network: {
    readonly cidr: string;
    readonly natGateways: number;
    /** Interface endpoints for ECR, Logs and Secrets Manager, so image pulls and secrets skip NAT. */
    readonly interfaceEndpoints: boolean;
    readonly flowLogRetentionDays: LogRetentionDays;
  };
  /**
   * The services, keyed by name (a lowercase letter, then lowercase letters, digits, hyphens): any number of entries,
   * each with both colors, its own host rule, alarms and pre-traffic checks (README, "Adding a service").
   */
  readonly services: Readonly<Record<ServiceName, ServiceConfig>>;
  readonly database: DatabaseConfig;
  readonly cache: CacheConfig;
  /** The pre-traffic test listener: reaches a named color; open only to `allowedCidr`. */
  readonly testListener: { readonly port: number; readonly allowedCidr: string };
  /** AWS WAF with AWS managed rule groups on the ALB. */
  readonly waf: boolean;
  readonly loadBalancer: {
    /**
     * ALB deletion protection: neither a stack deletion nor a change that replaces the ALB can delete
     * it. Turn it off (and deploy) before deleting the environment on purpose.
     */
    readonly deletionProtection: boolean;
  };
  /** Retention of application and access logs, in days. */
  readonly logRetentionDays: LogRetentionDays;
  readonly release: ReleasePolicy;
  readonly monitoring: MonitoringConfig;
  readonly traffic: {
    /** A color needs this many healthy targets in every AZ before it gets traffic. */
    readonly minHealthyTargetsPerAz: number;
  };
  /** The GitHub Actions deploy role (README, "CI/CD"). @default - no deploy role */
  readonly cicd?: CicdConfig;
}
