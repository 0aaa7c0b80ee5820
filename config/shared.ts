/** Values every environment shares unless its own file says otherwise. */
export const REGION = 'us-east-1';

/** Images come from ECR repositories of these names in each environment's account. */
export const REPOSITORIES = { frontend: 'ecommerce-frontend', backend: 'ecommerce-backend' } as const;

/** Where the pre-traffic test listener may be reached from: replace with your office or VPN CIDR. */
export const OPERATOR_CIDR = '203.0.113.0/24';

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
} as const;

/**
 * Pre-traffic checks of the README's runtime contract: the frontend serves /health only; the backend also reports its
 * database, cache and external dependencies.
 */
export const PRE_TRAFFIC_CHECKS = {
  frontend: [{ path: '/health', expectedStatus: 200 }],
  backend: [
    { path: '/health', expectedStatus: 200 },
    { path: '/health/db', expectedStatus: 200 },
    { path: '/health/redis', expectedStatus: 200 },
    { path: '/health/external', expectedStatus: 200 },
  ],
} as const;
