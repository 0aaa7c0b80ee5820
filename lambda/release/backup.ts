/**
 * The release's backup step (Task state Backup): confirms a recent automated backup of the database and takes a manual
 * snapshot named after the execution. Runs in its own Lambda (backup-handler.ts) so that only that function bundles the
 * RDS client and holds the RDS permissions; it records through the same ledger and notification as every step.
 */
import { CreateDBSnapshotCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, type RDSClient } from '@aws-sdk/client-rds';
import { call, nowOf } from '../traffic/context';
import type { RecordContext } from './context';
import { PreflightRefused } from './errors';
import { record } from './record';
import type { ReleaseState } from './steps';

export interface BackupSettings {
  /** RDS instance to back up (DATABASE_INSTANCE_ID). */
  readonly databaseInstanceId?: string;
}

/** The backup step's context: the ledger and notification (`record`) plus the RDS client. No traffic client. */
export type BackupContext = RecordContext & { readonly rds: RDSClient; readonly settings: BackupSettings };

/** Reads the backup handler's wiring from environment variables. */
export function backupSettingsFromEnv(env: Record<string, string | undefined> = process.env): BackupSettings {
  const databaseInstanceId = env.DATABASE_INSTANCE_ID || undefined;
  if (!databaseInstanceId) throw new Error('backup handler configuration is invalid: DATABASE_INSTANCE_ID must be set (the database backed up before a release)');
  return { databaseInstanceId };
}

const DAY_MS = 24 * 3600 * 1000;

/** Requires a recent automated backup (within 24 h) and takes a manual snapshot named after the execution. */
export async function backup(ctx: BackupContext, release: ReleaseState): Promise<ReleaseState> {
  const id = ctx.settings.databaseInstanceId;
  if (!id) throw new PreflightRefused('no database instance configured (DATABASE_INSTANCE_ID) but the policy requires a backup');
  const now = nowOf(ctx).getTime();
  const inst = await call(ctx, 'rds:DescribeDBInstances', () => ctx.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })));
  const latest = inst.DBInstances?.[0]?.LatestRestorableTime;
  let evidence: string | undefined;
  if (latest && now - latest.getTime() <= DAY_MS) evidence = `point-in-time restore available up to ${latest.toISOString()}`;
  if (!evidence) {
    const snaps = await call(ctx, 'rds:DescribeDBSnapshots', () =>
      ctx.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: id, SnapshotType: 'automated' })),
    );
    const recent = (snaps.DBSnapshots ?? [])
      .filter((s) => s.Status === 'available' && s.SnapshotCreateTime && now - s.SnapshotCreateTime.getTime() <= DAY_MS)
      .sort((a, b) => b.SnapshotCreateTime!.getTime() - a.SnapshotCreateTime!.getTime())[0];
    if (recent) evidence = `automated snapshot ${recent.DBSnapshotIdentifier} of ${recent.SnapshotCreateTime!.toISOString()}`;
  }
  if (!evidence) {
    throw new PreflightRefused(`no automated backup of ${id} within the last 24 hours (LatestRestorableTime ${latest?.toISOString() ?? 'unknown'}, no recent automated snapshot)`);
  }
  const snapshotId = snapshotIdentifier(release.environment, release.owner, nowOf(ctx));
  try {
    await call(ctx, 'rds:CreateDBSnapshot', () =>
      ctx.rds.send(
        new CreateDBSnapshotCommand({
          DBInstanceIdentifier: id,
          DBSnapshotIdentifier: snapshotId,
          Tags: [
            { Key: 'release-execution', Value: release.owner.slice(-256) },
            { Key: 'environment', Value: release.environment },
          ],
        }),
      ),
    );
  } catch (e) {
    // A retried step whose first CreateDBSnapshot landed: the snapshot is the one we want.
    if ((e as { name?: string }).name !== 'DBSnapshotAlreadyExistsFault') throw e;
  }
  await record(ctx, {
    actor: release.actor,
    event: 'backup',
    message: `backup confirmed (${evidence}); manual snapshot ${snapshotId} started`,
    detail: { databaseInstanceId: id, snapshotId },
  });
  return { ...release, snapshotId };
}

/** `release-<env>-<execution name>` cut to RDS rules: letters, digits, single hyphens, starts with a letter, <= 255. */
export function snapshotIdentifier(environment: string, owner: string, now: Date): string {
  const name = owner.split(':').pop() ?? owner;
  const stamp = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `release-${environment}-${stamp}-${name}`
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/-$/, '')
    .slice(0, 200)
    .replace(/-$/, '');
}
