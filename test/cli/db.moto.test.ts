/**
 * `npm run db` against moto with the real SDK clients: the procedure task (RunTask, DescribeTasks, its CloudWatch log,
 * the ledger), the rollback's snapshot rule, the point-in-time restore, and the CLI's refusals end to end.
 *
 * What moto 5.2.5 does here: RunTask with an awsvpc network configuration crashes it, and its tasks never stop or
 * report an exit code (../shared notes), so the in-process tests strip the network configuration after recording it
 * and report the task STOPPED with an exit code through the real DescribeTasks answer, as test/release/harness.ts does;
 * the CLI's own clients are not reachable, so its end-to-end runs below stop before RunTask (refusals, restore).
 * CreateDBSnapshot is `available` at once; RestoreDBInstanceToPointInTime does not check the time against the window
 * (the CLI does); DescribeDBInstances reports LatestRestorableTime as now; GetLogEvents on a missing stream answers
 * ResourceNotFoundException, as AWS does. moto omits PubliclyAccessible from DescribeDBInstances (the request's is
 * asserted in the unit tests) and has no `default:` option groups (the restore names only a custom one).
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateClusterCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { ensureRollbackSnapshot, main, printNewLogEvents, restore, runProcedure, type DbIo } from '../../cli/db';
import { DATABASE_PROCEDURES } from '../../config/shared';
import type { DatabaseTask } from '../../lambda/shared/database-task';
import { acquireLock, logger, readLedger, readLock, type TrafficClients, type TrafficContext } from '../../lambda/traffic';
import { environmentsIn, MOTO_ACCOUNT } from '../support/cli';
import { deployStackOutputs, type Fixture, useMotoFixture } from '../support/fixture';
import type { MotoServer } from '../support/moto';

jest.setTimeout(60000);
logger.setLogLevel('SILENT');

let moto: MotoServer;
let clients: TrafficClients;
let fx: Fixture;
let ctx: TrafficContext;
let rds: RDSClient;
let logs: CloudWatchLogsClient;
let task: DatabaseTask;
const DB = 'dev-db';
const GROUP = 'dev-backend-logs';

useMotoFixture(async (s) => {
  ({ moto, clients, fx } = s);
  ctx = { clients, topology: fx.topology, retry: { sleep: async () => undefined } };
  rds?.destroy();
  logs?.destroy();
  rds = new RDSClient(moto.clientConfig);
  logs = new CloudWatchLogsClient(moto.clientConfig);
  await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: DB, DBInstanceClass: 'db.t4g.micro', Engine: 'postgres', AllocatedStorage: 20, MasterUsername: 'postgres', MasterUserPassword: 'password123', BackupRetentionPeriod: 7 }));
  await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }));
  await clients.ecs.send(new CreateClusterCommand({ clusterName: fx.topology.clusterName })).catch(() => undefined);
  const taskDefinitions = {} as Record<'blue' | 'green', string>;
  for (const color of ['blue', 'green'] as const) {
    const td = await clients.ecs.send(
      // No awsvpc network mode: moto's RunTask crashes on it (the CLI's request still carries the network configuration, recorded below).
      new RegisterTaskDefinitionCommand({ family: `dev-backend-${color}-migration`, cpu: '256', memory: '512', containerDefinitions: [{ name: 'App', image: `backend:${fx.versions[color]}`, essential: true, memory: 512, cpu: 256 }] }),
    );
    taskDefinitions[color] = td.taskDefinition!.taskDefinitionArn!;
  }
  task = { service: 'backend', taskDefinitions, containerName: 'App', subnets: fx.subnetIds, securityGroups: [fx.securityGroupId], logGroupName: GROUP, databaseInstanceId: DB };
  // Each stack renders what it owns (lambda/shared/database-task.ts): the task here, the network and instance in Stateful.
  const { subnets, databaseInstanceId, ...part } = task;
  await deployStackOutputs(moto.clientConfig, fx.topology, { DatabaseTask: JSON.stringify(part) });
  await deployStackOutputs(moto.clientConfig, fx.topology, { DatabaseNetwork: JSON.stringify({ subnets, databaseInstanceId }) }, 'Dev-Stateful');
});
afterAll(() => {
  rds?.destroy();
  logs?.destroy();
});

function io(): DbIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), sleep: async () => undefined, now: () => new Date(), pollMs: 1 };
}

async function cli(...argv: string[]) {
  return cliAt(() => new Date(), ...argv);
}

async function cliAt(now: () => Date, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--endpoint', moto.endpoint], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    clientOptions: { region: 'us-east-1', credentials: moto.clientConfig.credentials },
    environments: environmentsIn(MOTO_ACCOUNT),
    pollMs: 1,
    sleep: async () => undefined,
    now,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('runProcedure: RunTask of the color with the command and network, the log streamed from its stream, the exit code, two ledger entries', async () => {
  const sent: any[] = [];
  clients.ecs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'RunTaskCommand') {
        sent.push(JSON.parse(JSON.stringify(args.input)));
        delete (args.input as any).networkConfiguration;
        const result = await next(args);
        // The container's log, as the awslogs driver writes it, under the task's own stream.
        const id = (result.output as any).tasks[0].taskArn.split('/').pop();
        const logStreamName = `green-migration/App/${id}`;
        await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName }));
        await logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName, logEvents: [1, 2].map((n) => ({ timestamp: Date.now(), message: `migration ${n} applied` })) }));
        return result;
      }
      const result = await next(args);
      if (context.commandName === 'DescribeTasksCommand') for (const t of (result.output as any).tasks ?? []) Object.assign(t, { lastStatus: 'STOPPED', containers: [{ name: 'App', exitCode: 0 }] });
      return result;
    },
    { step: 'initialize', name: 'dbMotoRunTask' },
  );
  try {
    const x = io();
    const code = await runProcedure(ctx, { ecs: clients.ecs, logs }, task, { procedure: 'migrate', command: ['npm', 'run', 'db:migrate'], color: 'green', timeoutSeconds: 60, actor: 'db:test' }, x);
    expect(code).toBe(0);
    expect(sent[0]).toMatchObject({ taskDefinition: task.taskDefinitions.green, networkConfiguration: { awsvpcConfiguration: { subnets: fx.subnetIds, assignPublicIp: 'DISABLED' } }, overrides: { containerOverrides: [{ name: 'App', command: ['npm', 'run', 'db:migrate'] }] } });
    expect(x.lines.filter((l) => l.startsWith('migration '))).toEqual(['migration 1 applied', 'migration 2 applied']);
    expect(x.lines[x.lines.length - 1]).toBe('migrate succeeded: exit code 0');
    const ledger = await readLedger(ctx, 10);
    expect(ledger.map((e) => [e.action, (e.detail as any)?.outcome])).toEqual([['database:migrate', 'succeeded'], ['database:migrate', 'started']]);
  } finally {
    clients.ecs.middlewareStack.remove('dbMotoRunTask');
  }
});

test('printNewLogEvents: nothing for a stream not created yet; then only the new events', async () => {
  const lines: string[] = [];
  expect(await printNewLogEvents(logs, GROUP, 'blue-migration/App/none', undefined, (l) => lines.push(l))).toBeUndefined();
  await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: 's' }));
  await logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: 's', logEvents: [{ timestamp: Date.now(), message: 'one' }] }));
  const token = await printNewLogEvents(logs, GROUP, 's', undefined, (l) => lines.push(l));
  await logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: 's', logEvents: [{ timestamp: Date.now() + 1, message: 'two' }] }));
  await printNewLogEvents(logs, GROUP, 's', token, (l) => lines.push(l));
  expect(lines).toEqual(['one', 'two']);
});

test('ensureRollbackSnapshot: refused without a snapshot, then --snapshot takes one and it counts', async () => {
  const opts = { env: 'dev', maxAgeHours: 1, take: false, timeoutSeconds: 60 };
  // moto takes an automated snapshot when it creates the instance: 2 hours on, it is too old.
  const later = { ...io(), now: () => new Date(Date.now() + 2 * 3600_000) };
  await expect(ensureRollbackSnapshot(rds, DB, opts, later)).rejects.toThrow(/rollback refused: its newest snapshot rds:dev-db-\S+ \(automated\) is 2\.0 h old, .*take one first with --snapshot/);
  expect(await ensureRollbackSnapshot(rds, DB, opts, io())).toMatch(/^snapshot rds:dev-db-\S+ \(automated, 0\.0 h old\)$/);
  expect(await ensureRollbackSnapshot(rds, DB, { ...opts, take: true }, io())).toMatch(/^snapshot db-rollback-dev-\d{14} taken now$/);
  expect((await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: DB, SnapshotType: 'manual' }))).DBSnapshots?.map((s) => s.Status)).toEqual(['available']);
});

test('restore: a new instance beside the live one, which keeps running; the steps and the ledger entry', async () => {
  // moto's window: from the instance's creation (no older backups) to now.
  const created = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: DB }))).DBInstances![0].InstanceCreateTime!;
  const time = new Date(created.getTime() + 1);
  const lines = await restore(ctx, rds, task, time, { ...io(), region: 'us-east-1', actor: 'db:test' });
  const ids = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => [d.DBInstanceIdentifier, d.DBInstanceStatus, d.DeletionProtection]);
  const target = `${DB}-pitr-${time.toISOString().replace(/[-:T]/g, '').slice(0, 12)}`;
  expect(ids).toEqual(expect.arrayContaining([[DB, 'available', false], [target, 'available', true]]));
  expect(lines.join('\n')).toContain(`aws rds modify-db-instance --db-instance-identifier ${target} --new-db-instance-identifier ${DB} --apply-immediately`);
  expect((await readLedger(ctx, 5))[0]).toMatchObject({ action: 'database:restore', detail: { source: DB, target } });
});

test('the CLI end to end: restore outside the window and rollback without a recent snapshot refuse (exit 1), nothing created; migrate refuses while a release holds the lock', async () => {
  const future = await cli('restore', '--env', 'dev', '--to-time', new Date(Date.now() + 86_400_000).toISOString());
  expect(future).toMatchObject({ code: 1, err: expect.stringMatching(/restore refused: .* is outside the restorable window of dev-db/) });
  expect((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances).toHaveLength(1);

  // Two hours on, moto's automated snapshot of the instance's creation is too old for database.procedures (1 h).
  const rollback = await cliAt(() => new Date(Date.now() + 2 * 3600_000), 'rollback', '--to', '20260501_add_orders', '--env', 'dev');
  expect(rollback).toMatchObject({ code: 1, err: expect.stringMatching(/rollback refused: its newest snapshot rds:dev-db-\S+ \(automated\) is 2\.0 h old/) });
  // The lock it took for the run is released again.
  expect(await readLock(ctx)).toBeUndefined();
  expect(await readLedger(ctx, 5)).toEqual([]);

  await acquireLock(ctx, 'arn:aws:states:us-east-1:123456789012:execution:dev-release:r1');
  const migrate = await cli('migrate', '--env', 'dev');
  expect(migrate.code).toBe(1);
  expect(migrate.err).toMatch(/migrate refused: .*dev-release:r1.*--force/);
  expect((await readLock(ctx))?.owner).toBe('arn:aws:states:us-east-1:123456789012:execution:dev-release:r1');
});

test('the CLI: --help exits 0; an environment without database.procedures exits 2', async () => {
  expect((await cli('--help')).code).toBe(0);
  const out: string[] = [];
  const err: string[] = [];
  expect(await main(['verify', '--env', 'dev'], { stdout: (l) => out.push(l), stderr: (l) => err.push(l), configs: { dev: { database: { procedures: undefined } as never } } })).toBe(2);
  expect(err.join('\n')).toMatch(/config\/dev\.ts has no database\.procedures/);
  expect(DATABASE_PROCEDURES.rollback).toContain('{to}');
});
