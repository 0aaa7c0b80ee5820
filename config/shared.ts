/** Values every environment shares unless its own file says otherwise. */
export const REGION = 'us-east-1';

import type { DatabaseProcedures, JudgeSettings, ServiceConfig } from './types';

/** Where the pre-traffic test listener may be reached from: replace with your office or VPN CIDR. */
export const OPERATOR_CIDR = '203.0.113.0/24';

/**
 * The GitHub repository whose workflow (.github/workflows/) deploys every environment: replace with yours (README,
 * "CI/CD").
 */
export const GITHUB_REPOSITORY = 'example-org/ecommerce-platform';

export const POSTGRES_VERSION = '17.9';
export const VALKEY_VERSION = '7.2';

/**
 * The plan's rollback triggers ("Error Rate > 5% for 5 minutes", "Response Time > 2 seconds
 * average", "Database Errors > 10 errors per minute", "Payment Failures > 5% failure rate") plus
 * the fast-burn and green-versus-blue triggers; environments override what they need.
 */
export const PLAN_ROLLBACK_TRIGGERS = {
  errorRatePercent: 5,
  errorRateMinutes: 5,
  minRequestsPerMinute: 20,
  fastBurnErrorRatePercent: 25,
  fastBurnMinutes: 2,
  unhealthyTargetsPercent: 50,
  unhealthyMinutes: 2,
  latencySeconds: 2,
  latencyMinutes: 3,
  databaseErrorsPerMinute: 10,
  paymentFailurePercent: 5,
  paymentWindowMinutes: 5,
  paymentMinAttempts: 10,
  comparison: { errorRatePoints: 2, p99LatencyRatio: 1.5, minRequestsPerMinute: 10, minutes: 3, canaryMaxRequestPercent: 40 },
  databaseConnectionsPercent: 80,
  // Two crashes in two minutes: one crash can be a fluke (a host event), two of the same color in a release are a pattern.
  crash: { tasks: 2, windowSeconds: 120, pollSeconds: 10, unhealthyPolls: 2 },
} as const;

/**
 * The canary judge's defaults (README, "How the judge decides"): at most 1 % false rollbacks over a whole canary.
 * The margins are what a good release at 10,000 requests per minute passes with on its first 10 % step (91 % of them on
 * the first look, 99.9 % within the step; `npm run bench -- judge`): a narrower margin needs more traffic to prove.
 * Environments override what they need.
 */
/**
 * The plan's database procedures (`db:migrate`, `db:rollback --to`, `db:verify`) as `npm run db` runs them in the
 * backend's task: the backend image's own npm scripts (README, "Database procedures").
 */
export const DATABASE_PROCEDURES: DatabaseProcedures = {
  migrate: ['npm', 'run', 'db:migrate'],
  rollback: ['npm', 'run', 'db:rollback', '--', '--to', '{to}'],
  verify: ['npm', 'run', 'db:verify'],
  rollbackSnapshotMaxAgeHours: 1,
  timeoutSeconds: 1800,
};

export const JUDGE_DEFAULTS: JudgeSettings = {
  falseRollbackPercent: 1,
  errorRateMarginPoints: 0.5,
  latencyMarginPercent: 15,
  minRequests: 500,
  maxExtensions: 2,
  onInconclusive: 'hold',
};

/**
 * The plan's two images and their runtime contract (README, "Runtime contract"), shared by every environment: each
 * environment's file adds the host, sizes, versions and counts. Images come from ECR repositories of these names in
 * each environment's account.
 */
type ServiceBase = Omit<ServiceConfig, 'host' | 'cpu' | 'memoryMiB' | 'desiredCount' | 'colors' | 'autoscaling'>;

/** The storefront: serves /health only; calls the API at API_URL (set per environment). */
export const FRONTEND: ServiceBase = {
  repositoryName: 'ecommerce-frontend',
  containerPort: 3000,
  healthCheckPath: '/health',
  preTrafficChecks: [{ path: '/health', expectedStatus: 200 }],
};

/**
 * The API: reaches the database (and its read replicas) and the cache, runs the release's migration, and its logs feed
 * the database-error and payment triggers. The plan's DATABASE_URL and REDIS_URL hold passwords, so they are split:
 * addresses as plain variables (from `data`), credentials as ECS secrets; the backend assembles the URLs. Username
 * and password come from the same secret, so after a rotation both name the new current user.
 */
export const BACKEND: ServiceBase = {
  repositoryName: 'ecommerce-backend',
  containerPort: 8080,
  healthCheckPath: '/health',
  preTrafficChecks: [
    { path: '/health', expectedStatus: 200 },
    { path: '/health/db', expectedStatus: 200 },
    { path: '/health/redis', expectedStatus: 200 },
    { path: '/health/external', expectedStatus: 200 },
  ],
  environment: { NODE_ENV: 'production' },
  secrets: {
    DATABASE_USERNAME: { database: 'username' },
    DATABASE_PASSWORD: { database: 'password' },
    REDIS_AUTH_TOKEN: { cache: 'authToken' },
  },
  data: { database: true, readReplicas: true, cache: true },
  runsMigration: true,
  logTriggers: ['database-errors', 'payments'],
  // Orders with many lines and uploads exceed the WAF's 8 KB body inspection; the backend enforces its own limit.
  largeRequestBodies: true,
};
