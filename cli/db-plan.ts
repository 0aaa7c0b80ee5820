/**
 * The decisions of `npm run db` (cli/db.ts), apart from its effects: which command runs, on which color, whether a
 * rollback has a recent enough snapshot, which window a point-in-time restore may use, the restored instance's name and
 * settings, and the steps to switch to it. Pure functions; the CLI does the AWS calls.
 */
import type { DBInstance, DBInstanceAutomatedBackup, DBSnapshot, RestoreDBInstanceToPointInTimeCommandInput } from '@aws-sdk/client-rds';
import { ROLLBACK_TARGET_PLACEHOLDER } from '../config/validate';
import type { DatabaseProcedures } from '../config/types';
import { type DatabaseTask, migrationStreamPrefix } from '../lambda/shared/database-task';
import { type Color, COLORS, otherColor } from '../lambda/shared/topology';
import type { Weights } from '../lambda/traffic/weights';

export const PROCEDURES = ['migrate', 'rollback', 'verify'] as const;
export type Procedure = (typeof PROCEDURES)[number];

/** What `--to` may be: a migration ID or name as migration tools print them (no spaces, no shell characters). */
export const ROLLBACK_TARGET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The container command of `procedure`, with `{to}` replaced in rollback's arguments. */
export function procedureCommand(procedures: DatabaseProcedures, procedure: Procedure, to?: string): string[] {
  const cmd = [...procedures[procedure]];
  if (procedure !== 'rollback') return cmd;
  if (to === undefined || !ROLLBACK_TARGET_PATTERN.test(to)) throw new Error(`rollback needs --to <migration id> (letters, digits, . _ : -), got ${JSON.stringify(to)}`);
  return cmd.map((a) => a.split(ROLLBACK_TARGET_PLACEHOLDER).join(to));
}

/**
 * The color whose task definition runs the procedure: the one serving all of the migrating service's traffic (its
 * image matches the schema the users hit). Split traffic means a release or a shift is in progress: the caller must
 * name the color (`--color`), or wait.
 */
export function liveColorOf(weights: Weights, service: string, color?: Color): { color: Color } | { refused: string } {
  if (color) return { color };
  const live = COLORS.find((c) => weights[c] > 0 && weights[otherColor(c)] === 0);
  if (live) return { color: live };
  return { refused: `the traffic of ${service} is split (blue ${weights.blue}%, green ${weights.green}%): a release or shift is in progress; wait for it, or name the color whose image to run with --color blue|green` };
}

/** The task's CloudWatch Logs stream (awslogs driver: `<prefix>/<container>/<task id>`). */
export function logStreamName(color: Color, containerName: string, taskArn: string): string {
  return `${migrationStreamPrefix(color)}/${containerName}/${taskArn.split('/').pop()}`;
}

/** The newest available snapshot (manual or automated) and whether it is young enough for a rollback. */
export function snapshotVerdict(
  snapshots: readonly DBSnapshot[],
  now: Date,
  maxAgeHours: number,
): { ok: true; snapshot: DBSnapshot; ageHours: number } | { ok: false; why: string } {
  const newest = snapshots
    .filter((s) => s.Status === 'available' && s.SnapshotCreateTime)
    .sort((a, b) => b.SnapshotCreateTime!.getTime() - a.SnapshotCreateTime!.getTime())[0];
  if (!newest) return { ok: false, why: 'the database has no available snapshot' };
  const ageHours = (now.getTime() - newest.SnapshotCreateTime!.getTime()) / 3_600_000;
  if (ageHours > maxAgeHours) {
    return { ok: false, why: `its newest snapshot ${newest.DBSnapshotIdentifier} (${newest.SnapshotType}) is ${ageHours.toFixed(1)} h old, older than database.procedures.rollbackSnapshotMaxAgeHours (${maxAgeHours} h)` };
  }
  return { ok: true, snapshot: newest, ageHours };
}

/** Name of the manual snapshot `rollback --snapshot` takes: `db-rollback-<env>-<yyyymmddhhmmss>`. */
export function rollbackSnapshotId(env: string, now: Date): string {
  return `db-rollback-${env}-${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

/**
 * The point-in-time restore window: from the automated backups' earliest restorable time (else now less the backup
 * retention) to the instance's LatestRestorableTime.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html
 */
export function restoreWindow(instance: DBInstance, backup: DBInstanceAutomatedBackup | undefined, now: Date): { earliest: Date; latest: Date } | { refused: string } {
  const latest = instance.LatestRestorableTime;
  const retention = instance.BackupRetentionPeriod ?? 0;
  if (!latest || retention === 0) return { refused: `${instance.DBInstanceIdentifier} has no automated backups (BackupRetentionPeriod ${retention}): nothing to restore from` };
  const earliest = backup?.RestoreWindow?.EarliestTime ?? new Date(Math.max(now.getTime() - retention * 86_400_000, instance.InstanceCreateTime?.getTime() ?? 0));
  return { earliest, latest };
}

/** Parses `--to-time`: an ISO 8601 time with a zone (Z or ±hh:mm), so the restore point is never the terminal's local guess. */
export function parseRestoreTime(raw: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw new Error(`--to-time must be an ISO 8601 time with its zone, e.g. 2026-05-01T09:30:00Z, got '${raw}'`);
  }
  return new Date(raw);
}

/**
 * The restored instance's identifier: the live one's, `-pitr-` and the restore time (yyyymmddhhmm), within RDS's
 * rules (1–63 letters, digits and hyphens, a letter first, no two hyphens in a row, no hyphen last).
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints
 */
export function restoredInstanceId(liveId: string, time: Date): string {
  const suffix = `-pitr-${time.toISOString().replace(/[-:T]/g, '').slice(0, 12)}`;
  return `${liveId.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`.toLowerCase();
}

/**
 * IOPS and throughput to ask for: only what was provisioned. DescribeDBInstances reports gp3's baseline (3000 IOPS,
 * 125 MiB/s) below the engine's threshold (400 GiB for PostgreSQL), and the restore rejects any IOPS or throughput
 * there ("You can't specify IOPS or storage throughput for engine postgres and a storage size less than 400").
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage
 */
export function provisionedStorage(instance: Pick<DBInstance, 'StorageType' | 'Iops' | 'StorageThroughput' | 'AllocatedStorage'>): { Iops?: number; StorageThroughput?: number } {
  const type = instance.StorageType ?? '';
  if (type === 'io1' || type === 'io2') return instance.Iops ? { Iops: instance.Iops } : {};
  if (type === 'gp3' && (instance.AllocatedStorage ?? 0) >= GP3_PROVISIONED_MIN_GIB) {
    return { ...(instance.Iops ? { Iops: instance.Iops } : {}), ...(instance.StorageThroughput ? { StorageThroughput: instance.StorageThroughput } : {}) };
  }
  return {};
}
/** PostgreSQL's gp3 size from which IOPS and throughput may be set (below it the baseline is fixed). */
const GP3_PROVISIONED_MIN_GIB = 400;

/**
 * RestoreDBInstanceToPointInTime beside the live instance, never replacing it: the live instance's subnet group,
 * security groups, parameter and option groups, class, Multi-AZ and storage; no public access; deletion protection on.
 * The restored instance is encrypted with the source's KMS key (a point-in-time restore keeps it; the API takes none).
 */
export function restoreRequest(instance: DBInstance, target: string, time: Date, env: string): RestoreDBInstanceToPointInTimeCommandInput {
  return {
    SourceDBInstanceIdentifier: instance.DBInstanceIdentifier,
    TargetDBInstanceIdentifier: target,
    RestoreTime: time,
    DBInstanceClass: instance.DBInstanceClass,
    DBSubnetGroupName: instance.DBSubnetGroup?.DBSubnetGroupName,
    VpcSecurityGroupIds: (instance.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).filter(Boolean),
    DBParameterGroupName: instance.DBParameterGroups?.[0]?.DBParameterGroupName,
    // A `default:` option group is what RDS gives the engine version anyway; naming it could only mismatch.
    ...(instance.OptionGroupMemberships?.[0]?.OptionGroupName && !instance.OptionGroupMemberships[0].OptionGroupName.startsWith('default:') ? { OptionGroupName: instance.OptionGroupMemberships[0].OptionGroupName } : {}),
    MultiAZ: instance.MultiAZ,
    StorageType: instance.StorageType,
    ...provisionedStorage(instance),
    ...(instance.MaxAllocatedStorage ? { MaxAllocatedStorage: instance.MaxAllocatedStorage } : {}),
    ...(instance.EnabledCloudwatchLogsExports?.length ? { EnableCloudwatchLogsExports: instance.EnabledCloudwatchLogsExports } : {}),
    EnableIAMDatabaseAuthentication: instance.IAMDatabaseAuthenticationEnabled,
    PubliclyAccessible: false,
    DeletionProtection: true,
    CopyTagsToSnapshot: true,
    AutoMinorVersionUpgrade: instance.AutoMinorVersionUpgrade,
    Tags: [
      { Key: 'environment', Value: env },
      { Key: 'restored-from', Value: instance.DBInstanceIdentifier ?? '' },
      { Key: 'restore-time', Value: time.toISOString() },
    ],
  };
}

/** The exact steps to switch the environment to the restored instance, and to delete it instead. */
export function switchSteps(env: string, task: Pick<DatabaseTask, 'databaseInstanceId'>, restored: string, time: Date, region: string): string[] {
  const live = task.databaseInstanceId;
  const old = `${live.slice(0, 50).replace(/-+$/, '')}-replaced`;
  const r = `--region ${region}`;
  return [
    `The live instance ${live} was not touched. ${restored} is being created from ${live} as of ${time.toISOString()}.`,
    `1. Wait for it: aws rds wait db-instance-available --db-instance-identifier ${restored} ${r}`,
    `2. Check its data (connect with the schema owner's secret, host from: aws rds describe-db-instances --db-instance-identifier ${restored} --query 'DBInstances[0].Endpoint.Address' ${r}).`,
    `3. Switch in a maintenance window (no release running: npm run release -- status --env ${env}; writes to ${live} after ${time.toISOString()} are not in the restored instance), then give the restored instance the live name; the endpoint follows the name, so the services, the secrets and the stack keep working:`,
    `   aws rds modify-db-instance --db-instance-identifier ${live} --new-db-instance-identifier ${old} --apply-immediately ${r}`,
    `   aws rds wait db-instance-available --db-instance-identifier ${old} ${r}`,
    `   aws rds modify-db-instance --db-instance-identifier ${restored} --new-db-instance-identifier ${live} --apply-immediately ${r}`,
    `   aws rds wait db-instance-available --db-instance-identifier ${live} ${r}`,
    `4. Restart the services that reach the database so they reconnect: aws ecs update-service --cluster <cluster> --service <live color's service> --force-new-deployment ${r} (names: npm run traffic -- status --env ${env}).`,
    `5. Credentials: the restored database has the users and passwords of ${time.toISOString()}; if a rotation ran since, rotate again (aws secretsmanager rotate-secret --secret-id <each database secret> ${r}).`,
    `6. Read replicas still follow ${old}: redeploy the stateful stack (npx cdk deploy <Stage>-Stateful) or recreate them; keep ${old} until the switch is confirmed, then delete it as below.`,
    `To delete an instance instead (the restored one if you do not switch, or ${old} after): ` +
      `aws rds modify-db-instance --db-instance-identifier <id> --no-deletion-protection --apply-immediately ${r} && ` +
      `aws rds delete-db-instance --db-instance-identifier <id> --final-db-snapshot-identifier <id>-final ${r}`,
  ];
}
