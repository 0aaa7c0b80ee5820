import { EXAMPLE_HOSTED_ZONE, OPERATOR_CIDR, POSTGRES_VERSION, REGION, REPOSITORIES, VALKEY_VERSION } from './shared';
import type { EnvironmentConfig } from './types';

export const dev: EnvironmentConfig = {
  name: 'dev',
  account: '111111111111',
  region: REGION,
  availabilityZones: [`${REGION}a`, `${REGION}b`],
  domainName: 'dev.example.com',
  hostedZone: EXAMPLE_HOSTED_ZONE,
  network: { cidr: '10.10.0.0/16', natGateways: 1, interfaceEndpoints: false, flowLogRetentionDays: 14 },
  services: {
    frontend: {
      repositoryName: REPOSITORIES.frontend,
      cpu: 256,
      memoryMiB: 512,
      desiredCount: 1,
      containerPort: 3000,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
    },
    backend: {
      repositoryName: REPOSITORIES.backend,
      cpu: 256,
      memoryMiB: 512,
      desiredCount: 1,
      containerPort: 8080,
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
  },
  cache: { nodeType: 'cache.t4g.micro', engineVersion: VALKEY_VERSION, nodes: 1, multiAz: false },
  testListener: { port: 8443, allowedCidr: OPERATOR_CIDR },
  waf: false,
  logRetentionDays: 14,
  traffic: { minHealthyTargetsPerAz: 1 },
};
