import { GITHUB_REPOSITORY, JUDGE_DEFAULTS, BACKEND, FRONTEND, OPERATOR_CIDR, PLAN_ROLLBACK_TRIGGERS, POSTGRES_VERSION, REGION, VALKEY_VERSION } from './shared';
import type { EnvironmentConfig } from './types';
import { DATABASE_PROCEDURES } from './shared';

export const dev: EnvironmentConfig = {
  name: 'dev',
  tier: 'development',
  account: '111111111111',
  region: REGION,
  availabilityZones: [`${REGION}a`, `${REGION}b`],
  // The public hosted zone of this environment's own account (README, "First deploy": delegate a subdomain per account).
  hostedZone: { zoneId: 'Z00000000000DEVEXAMPLE', zoneName: 'dev.example.com' },
  network: { cidr: '10.10.0.0/16', natGateways: 1, interfaceEndpoints: false, flowLogRetentionDays: 14 },
  services: {
    frontend: {
      ...FRONTEND,
      host: 'dev.example.com',
      environment: { NODE_ENV: 'production', API_URL: 'https://api.dev.example.com' },
      cpu: 256,
      memoryMiB: 512,
      desiredCount: 1,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
    },
    backend: {
      ...BACKEND,
      host: 'api.dev.example.com',
      cpu: 256,
      memoryMiB: 512,
      desiredCount: 1,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
    },
  },
  database: {
    engineVersion: POSTGRES_VERSION,
    instanceType: 't4g.micro',
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 50,
    multiAz: false,
    readReplicas: 0,
    backupRetentionDays: 1,
    protectData: false,
    enhancedMonitoringSeconds: 0,
    databaseName: 'ecommerce',
    credentialRotationDays: 30,
    procedures: DATABASE_PROCEDURES,
  },
  cache: { nodeType: 'cache.t4g.micro', engineVersion: VALKEY_VERSION, nodes: 1, multiAz: false },
  // The plan: "Developers only". Replace OPERATOR_CIDR (config/shared.ts) with your developers' office or VPN CIDR.
  access: [{ cidr: OPERATOR_CIDR, description: 'Developers only' }],
  testListener: { port: 8443, allowedCidr: OPERATOR_CIDR },
  waf: false,
  // Developers only; the environment is rebuilt at will.
  loadBalancer: { deletionProtection: false },
  logRetentionDays: 14,
  release: {
    imageScan: { failOnSeverity: 'CRITICAL' },
    strategy: 'blue-green',
    canarySteps: [100],
    bakeSeconds: 60,
    finalBakeSeconds: 60,
    approvalAfterFirstStep: false,
    approvalTimeoutSeconds: 3600,
    rollbackWindowSeconds: 300,
    stabilizeTimeoutSeconds: 900,
    backupBeforeRelease: false,
    migrationCommand: ['npm', 'run', 'db:migrate'],
    migrationTimeoutSeconds: 900,
    // One step to 100 %: no stable color takes traffic at the gate, so the judge cannot compare; the alarms judge dev.
    judge: { ...JUDGE_DEFAULTS, onInconclusive: 'pass' },
  },
  monitoring: { ...PLAN_ROLLBACK_TRIGGERS, alarmEmail: 'ops@example.com', apm: false },
  traffic: { minHealthyTargetsPerAz: 1 },
  // Each environment has its own account, so each creates the account's GitHub OIDC provider (README, "CI/CD").
  cicd: { githubRepository: GITHUB_REPOSITORY, createOidcProvider: true },
};
