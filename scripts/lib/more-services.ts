import type { EnvironmentConfig, ServiceConfig } from '../../config';

/**
 * The environment with `count` services: its own, then copies alternating between its first service and its second
 * (the plan's frontend and backend: one without data access, one with database, cache, secrets and log triggers),
 * each under `svc<N>` at `svc<N>.<zone>`. Used by the ten-service template test and `npm run bench`.
 */
export function withServices(c: EnvironmentConfig, count: number): EnvironmentConfig {
  const own = Object.keys(c.services);
  const services: Record<string, ServiceConfig> = { ...c.services };
  for (let i = 1; own.length + i - 1 < count; i++) {
    const of = own[i % Math.min(own.length, 2)];
    services[`svc${i}`] = { ...c.services[of], host: `svc${i}.${c.hostedZone.zoneName}`, runsMigration: false };
  }
  return { ...c, services };
}
