/**
 * RDS instance classes this app may be configured with (`database.instanceType`, without the `db.` prefix) and their
 * memory, from which the PostgreSQL connections alarm is derived.
 *
 * RDS for PostgreSQL's default `max_connections` is `LEAST({DBInstanceClassMemory/9531392}, 5000)`
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections).
 * DBInstanceClassMemory is the class memory minus what RDS reserves for the operating system and its own processes
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ParamValuesRef.html), a few hundred MiB: published
 * `show max_connections` readings (2 GiB → 198, 4 GiB → 413, 8 GiB → 856) put it at 250–450 MiB. The estimate below
 * takes 512 MiB off, so the derived limit is never above the real one and an alarm at a fraction of it can fire.
 */
export const RDS_CLASS_MEMORY_GIB: Readonly<Record<string, number>> = {
  't3.micro': 1,
  't3.small': 2,
  't3.medium': 4,
  't3.large': 8,
  't4g.micro': 1,
  't4g.small': 2,
  't4g.medium': 4,
  't4g.large': 8,
  't4g.xlarge': 16,
  't4g.2xlarge': 32,
  'm6g.large': 8,
  'm6g.xlarge': 16,
  'm6g.2xlarge': 32,
  'm6g.4xlarge': 64,
  'm7g.large': 8,
  'm7g.xlarge': 16,
  'm7g.2xlarge': 32,
  'm7g.4xlarge': 64,
  'r6g.large': 16,
  'r6g.xlarge': 32,
  'r6g.2xlarge': 64,
  'r6g.4xlarge': 128,
  'r7g.large': 16,
  'r7g.xlarge': 32,
  'r7g.2xlarge': 64,
  'r7g.4xlarge': 128,
};

/** Memory RDS keeps for itself, taken off the class memory (see above). */
const RESERVED_MIB = 512;
/** The divisor of RDS for PostgreSQL's default max_connections formula. */
const BYTES_PER_CONNECTION = 9531392;
const MAX_CONNECTIONS_CAP = 5000;

/**
 * Estimated default `max_connections` of an RDS for PostgreSQL instance class (never above the real value), or
 * undefined for a class not in RDS_CLASS_MEMORY_GIB.
 */
export function defaultMaxConnections(instanceType: string): number | undefined {
  const gib = RDS_CLASS_MEMORY_GIB[instanceType];
  if (gib === undefined) return undefined;
  const bytes = (gib * 1024 - RESERVED_MIB) * 1024 * 1024;
  return Math.min(Math.floor(bytes / BYTES_PER_CONNECTION), MAX_CONNECTIONS_CAP);
}
