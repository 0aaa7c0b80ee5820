import { EXAMPLE_HOSTED_ZONE, OPERATOR_CIDR, POSTGRES_VERSION, REGION, REPOSITORIES, VALKEY_VERSION } from './shared';
import type { EnvironmentConfig } from './types';

export const staging: EnvironmentConfig = {
  name: 'staging',
  account: '222222222222',
  region: REGION,
  availabilityZones: [`${REGION}a`, `${REGION}b`],
  domainName: 'staging.example.com',
  hostedZone: EXAMPLE_HOSTED_ZONE,
  network: { cidr: '10.20.0.0/16', natGateways: 1, interfaceEndpoints: true, flowLogRetentionDays: 30 },
  services: {
    frontend: {
      repositoryName: REPOSITORIES.frontend,
      cpu: 512,
      memoryMiB: 1024,
      desiredCount: 2,
      containerPort: 3000,
      colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } },
      autoscaling: { minCapacity: 2, maxCapacity: 4, targetCpuPercent: 60 },
    },
    backend: {
      repositoryName: REPOSITORIES.backend,
      cpu: 1024,
      memoryMiB: 2048,
      desiredCount: 2,
      containerPort: 8080,
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
  },
  cache: { nodeType: 'cache.t4g.small', engineVersion: VALKEY_VERSION, nodes: 2, multiAz: true },
  testListener: { port: 8443, allowedCidr: OPERATOR_CIDR },
  waf: true,
  logRetentionDays: 30,
  traffic: { minHealthyTargetsPerAz: 1 },
};
