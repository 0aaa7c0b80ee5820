import { GITHUB_REPOSITORY, JUDGE_DEFAULTS, BACKEND, FRONTEND, OPERATOR_CIDR, PLAN_ROLLBACK_TRIGGERS, POSTGRES_VERSION, REGION, VALKEY_VERSION } from './shared';
import type { EnvironmentConfig } from './types';
import { DATABASE_PROCEDURES } from './shared';

export const staging: EnvironmentConfig = {
  name: 'staging',
  tier: 'pre-production',
  account: '222222222222',
  region: REGION,
  availabilityZones: [`${REGION}a`, `${REGION}b`],
  // The public hosted zone of this environment's own account (README, "First deploy": delegate a subdomain per account).
  hostedZone: { zoneId: 'Z0000000STAGINGEXAMPLE', zoneName: 'staging.example.com' },
  network: { cidr: '10.20.0.0/16', natGateways: 1, interfaceEndpoints: true, flowLogRetentionDays: 30 },
  services: {
    frontend: {
      ...FRONTEND,
      host: 'staging.example.com',
      environment: { NODE_ENV: 'production', API_URL: 'https://api.staging.example.com' },
      cpu: 512,
      memoryMiB: 1024,
      desiredCount: 2,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
      autoscaling: { minCapacity: 2, maxCapacity: 4, targetCpuPercent: 60 },
    },
    backend: {
      ...BACKEND,
      host: 'api.staging.example.com',
      cpu: 1024,
      memoryMiB: 2048,
      desiredCount: 2,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
      autoscaling: { minCapacity: 2, maxCapacity: 4, targetCpuPercent: 60 },
    },
  },
  database: {
    engineVersion: POSTGRES_VERSION,
    instanceType: 't4g.medium',
    allocatedStorageGiB: 50,
    maxAllocatedStorageGiB: 200,
    multiAz: false,
    readReplicas: 0,
    backupRetentionDays: 7,
    protectData: true,
    enhancedMonitoringSeconds: 0,
    databaseName: 'ecommerce',
    credentialRotationDays: 30,
    procedures: DATABASE_PROCEDURES,
  },
  cache: { nodeType: 'cache.t4g.small', engineVersion: VALKEY_VERSION, nodes: 2, multiAz: true },
  // The plan: "QA Team, Stakeholders". Placeholders from the documentation ranges (RFC 5737): replace with the QA team's
  // and the stakeholders' office or VPN CIDRs, or a managed prefix list ({ prefixListId, maxEntries, description }).
  access: [
    { cidr: '198.51.100.0/24', description: 'QA Team' },
    { cidr: '192.0.2.0/24', description: 'Stakeholders' },
  ],
  testListener: { port: 8443, allowedCidr: OPERATOR_CIDR },
  waf: true,
  loadBalancer: { deletionProtection: true },
  logRetentionDays: 30,
  release: {
    imageScan: { failOnSeverity: 'HIGH' },
    strategy: 'canary',
    canarySteps: [10, 50, 100],
    bakeSeconds: 120,
    finalBakeSeconds: 120,
    approvalAfterFirstStep: false,
    approvalTimeoutSeconds: 3600,
    rollbackWindowSeconds: 900,
    stabilizeTimeoutSeconds: 900,
    backupBeforeRelease: true,
    migrationCommand: ['npm', 'run', 'db:migrate'],
    migrationTimeoutSeconds: 900,
    // QA traffic rarely proves anything in a 2-minute bake: the judge rolls back on evidence only; the alarms backstop.
    judge: { ...JUDGE_DEFAULTS, onInconclusive: 'pass' },
  },
  monitoring: { ...PLAN_ROLLBACK_TRIGGERS, alarmEmail: 'ops@example.com', apm: false },
  traffic: { minHealthyTargetsPerAz: 1 },
  // Each environment has its own account, so each creates the account's GitHub OIDC provider (README, "CI/CD").
  cicd: { githubRepository: GITHUB_REPOSITORY, createOidcProvider: true },
};
