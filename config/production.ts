import { GITHUB_REPOSITORY, JUDGE_DEFAULTS, BACKEND, FRONTEND, OPERATOR_CIDR, PLAN_ROLLBACK_TRIGGERS, POSTGRES_VERSION, REGION, VALKEY_VERSION } from './shared';
import type { EnvironmentConfig } from './types';
import { DATABASE_PROCEDURES } from './shared';

export const production: EnvironmentConfig = {
  name: 'production',
  tier: 'production',
  account: '333333333333',
  region: REGION,
  availabilityZones: [`${REGION}a`, `${REGION}b`, `${REGION}c`],
  // The public hosted zone of this account: production owns the apex; dev and staging get delegated subdomains.
  hostedZone: { zoneId: 'Z0000000000EXAMPLE', zoneName: 'example.com' },
  network: { cidr: '10.30.0.0/16', natGateways: 3, interfaceEndpoints: true, flowLogRetentionDays: 90 },
  services: {
    // The plan's compose limits (0.5 vCPU/512 MiB, 1 vCPU/1 GiB) are not Fargate sizes: Fargate's
    // smallest memory for 512 CPU units is 1024 MiB and for 1024 units 2048 MiB. Each keeps the plan's
    // CPU and replica count and takes the nearest valid memory (README, "Sizing").
    frontend: {
      ...FRONTEND,
      host: 'example.com',
      environment: { NODE_ENV: 'production', API_URL: 'https://api.example.com' },
      cpu: 512,
      memoryMiB: 1024,
      desiredCount: 3,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
      autoscaling: { minCapacity: 3, maxCapacity: 9, targetCpuPercent: 60 },
    },
    backend: {
      ...BACKEND,
      host: 'api.example.com',
      cpu: 1024,
      memoryMiB: 2048,
      desiredCount: 2,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
      autoscaling: { minCapacity: 2, maxCapacity: 6, targetCpuPercent: 60 },
    },
  },
  database: {
    engineVersion: POSTGRES_VERSION,
    instanceType: 'r6g.large',
    allocatedStorageGiB: 100,
    maxAllocatedStorageGiB: 500,
    multiAz: true,
    readReplicas: 2,
    backupRetentionDays: 14,
    protectData: true,
    enhancedMonitoringSeconds: 60,
    databaseName: 'ecommerce',
    credentialRotationDays: 30,
    procedures: DATABASE_PROCEDURES,
  },
  cache: { nodeType: 'cache.r7g.large', engineVersion: VALKEY_VERSION, nodes: 3, multiAz: true },
  // The plan: "Public access". The production tier must be public (validation).
  access: { public: true },
  testListener: { port: 8443, allowedCidr: OPERATOR_CIDR },
  waf: true,
  loadBalancer: { deletionProtection: true },
  logRetentionDays: 90,
  release: {
    imageScan: { failOnSeverity: 'HIGH' },
    strategy: 'canary',
    canarySteps: [10, 25, 50, 100],
    bakeSeconds: 300,
    finalBakeSeconds: 300,
    approvalAfterFirstStep: false,
    approvalTimeoutSeconds: 3600,
    // The plan's decision window: "within 30 minutes of deployment".
    rollbackWindowSeconds: 1800,
    stabilizeTimeoutSeconds: 900,
    backupBeforeRelease: true,
    migrationCommand: ['npm', 'run', 'db:migrate'],
    migrationTimeoutSeconds: 900,
    judge: JUDGE_DEFAULTS,
  },
  monitoring: { ...PLAN_ROLLBACK_TRIGGERS, alarmEmail: 'ops@example.com', apm: true },
  traffic: { minHealthyTargetsPerAz: 1 },
  // Each environment has its own account, so each creates the account's GitHub OIDC provider (README, "CI/CD").
  cicd: { githubRepository: GITHUB_REPOSITORY, createOidcProvider: true },
};
