/** `npm run db`: argument parsing, the pure planners (cli/db-plan.ts) and the effects against mocked clients. */
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import {
  CreateDBSnapshotCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { ensureRollbackSnapshot, parseDbArgs, restore, runProcedure, type DbIo } from '../../cli/db';
import {
  liveColorOf,
  logStreamName,
  parseRestoreTime,
  procedureCommand,
  restoredInstanceId,
  provisionedStorage,
  restoreRequest,
  restoreWindow,
  snapshotVerdict,
  switchSteps,
} from '../../cli/db-plan';
import { DATABASE_PROCEDURES } from '../../config/shared';
import { parseDatabaseTask, type DatabaseTask } from '../../lambda/shared/database-task';
import type { TrafficContext } from '../../lambda/traffic';

const NOW = new Date('2026-05-01T12:00:00Z');
const TASK: DatabaseTask = {
  service: 'backend',
  taskDefinitions: { blue: 'arn:aws:ecs:us-east-1:123456789012:task-definition/mig-blue:3', green: 'arn:aws:ecs:us-east-1:123456789012:task-definition/mig-green:4' },
  containerName: 'App',
  subnets: ['subnet-1', 'subnet-2'],
  securityGroups: ['sg-1'],
  logGroupName: 'backend-logs',
  databaseInstanceId: 'staging-stateful-databaseprimary1a2b3c',
};

describe('parseDbArgs', () => {
  test('parses each command', () => {
    expect(parseDbArgs(['migrate', '--env', 'staging'])).toEqual({ command: 'migrate', env: 'staging', snapshot: false, force: false });
    expect(parseDbArgs(['rollback', '--to', '20260501_add_orders', '--snapshot', '--env', 'dev'])).toMatchObject({ command: 'rollback', to: '20260501_add_orders', snapshot: true });
    expect(parseDbArgs(['verify', '--env', 'dev', '--color', 'green'])).toMatchObject({ command: 'verify', color: 'green' });
    expect(parseDbArgs(['restore', '--to-time', '2026-05-01T09:30:00Z', '--env', 'production'])).toMatchObject({ command: 'restore', toTime: new Date('2026-05-01T09:30:00Z') });
  });
  test.each([
    [['migrate'], /--env is required/],
    [['--env', 'dev'], /a command is required/],
    [['drop', '--env', 'dev'], /unknown command 'drop'/],
    [['rollback', '--env', 'dev'], /rollback needs --to/],
    [['rollback', '--env', 'dev', '--to', '1; rm -rf /'], /rollback needs --to/],
    [['verify', '--env', 'dev', '--snapshot'], /--snapshot is not an option of verify/],
    [['restore', '--env', 'dev'], /restore needs --to-time/],
    [['restore', '--env', 'dev', '--to-time', '2026-05-01 09:30'], /ISO 8601 time with its zone/],
    [['migrate', '--env', 'dev', '--color', 'red'], /--color must be blue or green/],
    [['restore', '--env', 'dev', '--to-time', '2026-05-01T09:30:00Z', '--force'], /--force is not an option of restore/],
  ])('fails on %j', (argv, message) => {
    expect(() => parseDbArgs(argv)).toThrow(message);
  });
});

describe('planners', () => {
  test('procedureCommand replaces {to} in rollback only', () => {
    expect(procedureCommand(DATABASE_PROCEDURES, 'rollback', '42')).toEqual(['npm', 'run', 'db:rollback', '--', '--to', '42']);
    expect(procedureCommand({ ...DATABASE_PROCEDURES, rollback: ['migrate', '--target={to}'] }, 'rollback', 'v7')).toEqual(['migrate', '--target=v7']);
    expect(procedureCommand(DATABASE_PROCEDURES, 'migrate')).toEqual(['npm', 'run', 'db:migrate']);
    expect(() => procedureCommand(DATABASE_PROCEDURES, 'rollback')).toThrow(/needs --to/);
  });

  test('liveColorOf: the color with all traffic, --color, or a refusal while split', () => {
    expect(liveColorOf({ blue: 0, green: 100 }, 'backend')).toEqual({ color: 'green' });
    expect(liveColorOf({ blue: 90, green: 10 }, 'backend', 'blue')).toEqual({ color: 'blue' });
    expect(liveColorOf({ blue: 90, green: 10 }, 'backend')).toEqual({ refused: expect.stringMatching(/split \(blue 90%, green 10%\).*--color/) });
  });

  test('logStreamName follows the awslogs driver: prefix/container/task id', () => {
    expect(logStreamName('green', 'App', 'arn:aws:ecs:us-east-1:1:task/cluster/abc123')).toBe('green-migration/App/abc123');
  });

  test('snapshotVerdict takes the newest available snapshot and compares its age', () => {
    const s = (id: string, hoursAgo: number, Status = 'available') => ({ DBSnapshotIdentifier: id, SnapshotType: 'manual', Status, SnapshotCreateTime: new Date(NOW.getTime() - hoursAgo * 3_600_000) });
    expect(snapshotVerdict([s('old', 30), s('new', 0.5), s('creating', 0.1, 'creating')], NOW, 1)).toMatchObject({ ok: true, snapshot: { DBSnapshotIdentifier: 'new' } });
    expect(snapshotVerdict([s('old', 3)], NOW, 1)).toEqual({ ok: false, why: expect.stringMatching(/snapshot old \(manual\) is 3\.0 h old, older than .*rollbackSnapshotMaxAgeHours \(1 h\)/) });
    expect(snapshotVerdict([], NOW, 1)).toEqual({ ok: false, why: 'the database has no available snapshot' });
  });

  test('restoreWindow: automated backups, else the retention; refused without backups', () => {
    const inst: DBInstance = { DBInstanceIdentifier: 'db', LatestRestorableTime: new Date('2026-05-01T11:55:00Z'), BackupRetentionPeriod: 7, InstanceCreateTime: new Date('2026-04-28T00:00:00Z') };
    expect(restoreWindow(inst, undefined, NOW)).toEqual({ earliest: new Date('2026-04-28T00:00:00Z'), latest: inst.LatestRestorableTime });
    expect(restoreWindow(inst, { RestoreWindow: { EarliestTime: new Date('2026-04-29T00:00:00Z') } }, NOW)).toMatchObject({ earliest: new Date('2026-04-29T00:00:00Z') });
    expect(restoreWindow({ ...inst, BackupRetentionPeriod: 0 }, undefined, NOW)).toEqual({ refused: expect.stringMatching(/no automated backups/) });
  });

  test('parseRestoreTime needs a zone', () => {
    expect(parseRestoreTime('2026-05-01T09:30:00+02:00').toISOString()).toBe('2026-05-01T07:30:00.000Z');
    expect(() => parseRestoreTime('2026-05-01T09:30:00')).toThrow(/with its zone/);
  });

  test('restoredInstanceId is a valid RDS identifier of at most 63 characters beside the live one', () => {
    const id = restoredInstanceId('a'.repeat(60), new Date('2026-05-01T09:30:00Z'));
    expect(id).toBe(`${'a'.repeat(45)}-pitr-202605010930`);
    expect(id.length).toBeLessThanOrEqual(63);
    expect(restoredInstanceId('Prod-DB', NOW)).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  });

  test('restoreRequest keeps the live network, groups and class, never public, deletion protected', () => {
    const inst: DBInstance = {
      DBInstanceIdentifier: 'live',
      DBInstanceClass: 'db.r6g.large',
      DBSubnetGroup: { DBSubnetGroupName: 'subnets' },
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-db' }],
      DBParameterGroups: [{ DBParameterGroupName: 'params' }],
      MultiAZ: true,
      StorageType: 'gp3',
      PubliclyAccessible: true,
    };
    const r = restoreRequest(inst, 'live-pitr-1', NOW, 'production');
    expect(r).toMatchObject({
      SourceDBInstanceIdentifier: 'live',
      TargetDBInstanceIdentifier: 'live-pitr-1',
      RestoreTime: NOW,
      DBInstanceClass: 'db.r6g.large',
      DBSubnetGroupName: 'subnets',
      VpcSecurityGroupIds: ['sg-db'],
      DBParameterGroupName: 'params',
      MultiAZ: true,
      PubliclyAccessible: false,
      DeletionProtection: true,
    });
    expect(r.UseLatestRestorableTime).toBeUndefined();
  });

  test('switchSteps name both instances, the rename commands and how to delete', () => {
    const lines = switchSteps('staging', TASK, 'x-pitr-1', NOW, 'us-east-1').join('\n');
    expect(lines).toContain(`--db-instance-identifier x-pitr-1 --new-db-instance-identifier ${TASK.databaseInstanceId} --apply-immediately --region us-east-1`);
    expect(lines).toContain(`aws rds wait db-instance-available --db-instance-identifier x-pitr-1 --region us-east-1`);
    expect(lines).toMatch(/--no-deletion-protection .* delete-db-instance/);
    expect(lines).toContain(`The live instance ${TASK.databaseInstanceId} was not touched`);
  });

  test('parseDatabaseTask lists every problem', () => {
    const { subnets, databaseInstanceId, ...part } = TASK;
    expect(parseDatabaseTask(JSON.stringify(part), JSON.stringify({ subnets, databaseInstanceId }))).toEqual(TASK);
    expect(() => parseDatabaseTask(JSON.stringify({ ...part, taskDefinitions: { blue: 'x' } }), JSON.stringify({ subnets: [], databaseInstanceId }))).toThrow(
      /DatabaseTask\.taskDefinitions\.green[\s\S]*DatabaseNetwork\.subnets/,
    );
    expect(() => parseDatabaseTask(JSON.stringify(part), undefined)).toThrow(/output DatabaseNetwork is empty/);
    // The stateful stack owns the network: a stale copy in the stateless output does not win.
    expect(parseDatabaseTask(JSON.stringify({ ...part, subnets: ['old'] }), JSON.stringify({ subnets, databaseInstanceId })).subnets).toEqual(subnets);
  });
});

describe('effects', () => {
  const ecs = mockClient(ECSClient);
  const logs = mockClient(CloudWatchLogsClient);
  const rds = mockClient(RDSClient);
  const ddb = mockClient(DynamoDBClient);
  let clock: number;
  let lines: string[];
  let errors: string[];
  const io = (): DbIo => ({ out: (l) => lines.push(l), err: (l) => errors.push(l), sleep: async (ms) => void (clock += ms), now: () => new Date(clock), pollMs: 1000 });
  const ctx = (): TrafficContext =>
    ({ clients: { dynamodb: new DynamoDBClient({ region: 'us-east-1' }) }, topology: { environment: 'staging', clusterName: 'cluster', ledgerTableName: 'ledger', lockTableName: 'lock', services: {} }, now: () => new Date(clock), retry: { sleep: async () => {} } }) as unknown as TrafficContext;
  const ledgerActions = () => ddb.commandCalls(PutItemCommand).map((c) => [c.args[0].input.Item!.action.S, (c.args[0].input.Item!.detail?.M?.outcome?.S)]);
  beforeEach(() => {
    for (const m of [ecs, logs, rds, ddb]) m.reset();
    ddb.on(PutItemCommand).resolves({});
    clock = NOW.getTime();
    lines = [];
    errors = [];
  });
  const run = { procedure: 'migrate' as const, command: ['npm', 'run', 'db:migrate'], color: 'green' as const, timeoutSeconds: 600, actor: 'db:me' };
  const taskArn = 'arn:aws:ecs:us-east-1:1:task/cluster/t1';

  test('runProcedure runs the live color with the command, streams the log once each and returns the exit code', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs.on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ lastStatus: 'RUNNING' }] })
      .resolves({ tasks: [{ lastStatus: 'STOPPED', containers: [{ name: 'App', exitCode: 3 }], stoppedReason: 'Essential container in task exited' }] });
    logs.on(GetLogEventsCommand)
      .rejectsOnce(Object.assign(new Error('stream'), { name: 'ResourceNotFoundException' }))
      .resolvesOnce({ events: [{ message: 'applying 001' }], nextForwardToken: 'f1' })
      .resolvesOnce({ events: [], nextForwardToken: 'f1' })
      .resolvesOnce({ events: [{ message: 'error: column exists' }], nextForwardToken: 'f2' })
      .resolves({ events: [], nextForwardToken: 'f2' });
    expect(await runProcedure(ctx(), { ecs: new ECSClient({}), logs: new CloudWatchLogsClient({}) }, TASK, run, io())).toBe(3);
    const input = ecs.commandCalls(RunTaskCommand)[0].args[0].input;
    expect(input).toMatchObject({
      cluster: 'cluster',
      taskDefinition: TASK.taskDefinitions.green,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' } },
      overrides: { containerOverrides: [{ name: 'App', command: ['npm', 'run', 'db:migrate'] }] },
    });
    expect(input.clientToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs.commandCalls(GetLogEventsCommand)[0].args[0].input).toMatchObject({ logGroupName: 'backend-logs', logStreamName: 'green-migration/App/t1', startFromHead: true });
    expect(lines.filter((l) => !l.startsWith('migrate'))).toEqual(['applying 001', 'error: column exists']);
    expect(lines[lines.length - 1]).toMatch(/migrate FAILED: exit code 3 \(Essential container/);
    expect(ledgerActions()).toEqual([['database:migrate', 'started'], ['database:migrate', 'failed']]);
  });

  test('runProcedure stops the task past the timeout and returns 1', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ lastStatus: 'RUNNING' }] });
    ecs.on(StopTaskCommand).resolves({});
    logs.on(GetLogEventsCommand).resolves({ events: [], nextForwardToken: 'f' });
    expect(await runProcedure(ctx(), { ecs: new ECSClient({}), logs: new CloudWatchLogsClient({}) }, TASK, { ...run, timeoutSeconds: 5 }, io())).toBe(1);
    expect(ecs.commandCalls(StopTaskCommand)[0].args[0].input).toMatchObject({ cluster: 'cluster', task: taskArn });
    expect(errors).toEqual([expect.stringMatching(/timed out after 5 s/)]);
    expect(ledgerActions()).toEqual([['database:migrate', 'started'], ['database:migrate', 'timed-out']]);
  });

  test('runProcedure refuses when RunTask starts nothing, recording it', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ arn: 'x', reason: 'RESOURCE:ENI' }] });
    await expect(runProcedure(ctx(), { ecs: new ECSClient({}), logs: new CloudWatchLogsClient({}) }, TASK, run, io())).rejects.toThrow(/RunTask started no task .*RESOURCE:ENI/);
    expect(ledgerActions()).toEqual([['database:migrate', 'not-started']]);
  });

  test('ensureRollbackSnapshot accepts a recent snapshot, refuses an old one, and takes one with --snapshot', async () => {
    const snap = (hoursAgo: number) => ({ DBSnapshotIdentifier: `s${hoursAgo}`, SnapshotType: 'automated', Status: 'available', SnapshotCreateTime: new Date(NOW.getTime() - hoursAgo * 3_600_000) });
    rds.on(DescribeDBSnapshotsCommand, { SnapshotType: 'manual' }).resolves({ DBSnapshots: [] });
    rds.on(DescribeDBSnapshotsCommand, { SnapshotType: 'automated' }).resolves({ DBSnapshots: [snap(5)] });
    const opts = { env: 'staging', maxAgeHours: 1, take: false, timeoutSeconds: 600 };
    await expect(ensureRollbackSnapshot(new RDSClient({}), 'db', opts, io())).rejects.toThrow(/rollback refused: its newest snapshot s5 .* --snapshot/);
    expect(await ensureRollbackSnapshot(new RDSClient({}), 'db', { ...opts, maxAgeHours: 6 }, io())).toMatch(/snapshot s5 \(automated, 5\.0 h old\)/);

    rds.reset();
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds.on(DescribeDBSnapshotsCommand).resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] }).resolves({ DBSnapshots: [{ Status: 'available' }] });
    expect(await ensureRollbackSnapshot(new RDSClient({}), 'db', { ...opts, take: true }, io())).toBe('snapshot db-rollback-staging-20260501120000 taken now');
    expect(rds.commandCalls(CreateDBSnapshotCommand)[0].args[0].input).toMatchObject({ DBInstanceIdentifier: 'db', DBSnapshotIdentifier: 'db-rollback-staging-20260501120000' });
  });

  test('restore refuses a time outside the window and restores into a new instance inside it', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: TASK.databaseInstanceId, LatestRestorableTime: new Date('2026-05-01T11:55:00Z'), BackupRetentionPeriod: 7, DBSubnetGroup: { DBSubnetGroupName: 'sn' }, InstanceCreateTime: new Date('2026-01-01T00:00:00Z') }],
    });
    rds.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({ DBInstanceAutomatedBackups: [{ Status: 'active', RestoreWindow: { EarliestTime: new Date('2026-04-24T12:00:00Z') } }] });
    rds.on(RestoreDBInstanceToPointInTimeCommand).resolves({});
    const x = { ...io(), region: 'us-east-1', actor: 'db:me' };
    await expect(restore(ctx(), new RDSClient({}), TASK, new Date('2026-05-01T11:58:00Z'), x)).rejects.toThrow(/outside the restorable window .* 2026-04-24T12:00:00.000Z to 2026-05-01T11:55:00.000Z/);
    expect(rds.commandCalls(RestoreDBInstanceToPointInTimeCommand)).toHaveLength(0);
    const lines = await restore(ctx(), new RDSClient({}), TASK, new Date('2026-05-01T09:30:00Z'), x);
    expect(rds.commandCalls(RestoreDBInstanceToPointInTimeCommand)[0].args[0].input).toMatchObject({
      SourceDBInstanceIdentifier: TASK.databaseInstanceId,
      TargetDBInstanceIdentifier: `${TASK.databaseInstanceId}-pitr-202605010930`,
      DBSubnetGroupName: 'sn',
      PubliclyAccessible: false,
      DeletionProtection: true,
    });
    expect(lines[0]).toMatch(/was not touched/);
    expect(ledgerActions()).toEqual([['database:restore', undefined]]);
  });
});

describe('restore: IOPS and throughput only where provisioned (gp3 below 400 GiB rejects them)', () => {
  test.each([
    [{ StorageType: 'gp3', AllocatedStorage: 100, Iops: 3000, StorageThroughput: 125 }, {}],
    [{ StorageType: 'gp3', AllocatedStorage: 500, Iops: 12000, StorageThroughput: 500 }, { Iops: 12000, StorageThroughput: 500 }],
    [{ StorageType: 'io1', AllocatedStorage: 100, Iops: 5000 }, { Iops: 5000 }],
    [{ StorageType: 'gp2', AllocatedStorage: 100, Iops: 300 }, {}],
  ])('%j → %j', (instance, expected) => {
    expect(provisionedStorage(instance)).toEqual(expected);
    const req = restoreRequest({ DBInstanceIdentifier: 'live', ...instance }, 'live-pitr', new Date('2030-01-01T00:00:00Z'), 'production');
    expect({ Iops: req.Iops, StorageThroughput: req.StorageThroughput }).toEqual({ Iops: undefined, StorageThroughput: undefined, ...expected });
  });
});
