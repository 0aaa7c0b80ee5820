import type { ReleaseState } from '../../lambda/release/steps';
/**
 * The rehearsal environment: a moto fixture (test/support/fixture.ts) plus what a release needs on top — an SNS topic,
 * a PostgreSQL instance with backups, backend task definitions runnable by moto's RunTask, the test listener (a local
 * HTTP server) — and the release and backup handlers wired to it in-process. `handlers(ids)` binds them to the
 * functions of a synthesized template (rehearsal.ts). Used by rehearsal.test.ts and scripts/bench-release.ts.
 */
import { BACKEND, FRONTEND, JUDGE_DEFAULTS } from '../../config/shared';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { ACMClient, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { createPreflightChecksHandler } from '../../lambda/release/preflight-checks-handler';
import { preflightCheckSettingsFromEnv } from '../../lambda/release/preflight-checks';
import type { ReleasePolicy } from '../../config/types';
import { backupSettingsFromEnv } from '../../lambda/release/backup';
import { createBackupHandler } from '../../lambda/release/backup-handler';
import { settingsFromEnv } from '../../lambda/release/context';
import { createReleaseHandler } from '../../lambda/release/handler';
import { createJudgeHandler, judgeSettingsFromEnv } from '../../lambda/release/judge-handler';
import type { JudgeFunction } from '../../lambda/release/judge-gate';
import { Color, COLORS, Topology } from '../../lambda/shared/topology';
import { topologyLoader, writeTopology } from '../../lambda/shared/topology-store';
import { createClients, destroyClients, TrafficClients, TrafficContext } from '../../lambda/traffic';
import type { LocalHandler, ReleaseFunctionIds } from './rehearsal';
import { buildFixture, Fixture, type FixtureOptions } from '../support/fixture';
import { MotoServer } from '../support/moto';
import { judge as realJudge } from '../../lambda/release/judge';

/** A release state in the middle of a green canary at 10 % (step 1 of 10 → 50 → 100), for the steps' unit tests. */
export function releaseAt10(overrides: Partial<ReleaseState> = {}): ReleaseState {
  return {
    owner: 'arn:aws:states:us-east-1:1:execution:Release:abc',
    environment: 'dev',
    actor: 'me',
    strategy: 'canary',
    services: ['frontend', 'backend'],
    stable: 'blue',
    candidate: 'green',
    fromVersion: 'frontend 1.0.0, backend 1.0.0',
    toVersion: 'frontend 1.1.0, backend 1.1.0',
    steps: [10, 50, 100],
    stepIndex: 1,
    percent: 10,
    approval: true,
    awaitApproval: false,
    candidateCountsBefore: { frontend: 0, backend: 0 },
    scaledUp: true,
    startedAt: '2030-01-01T00:00:00.000Z',
    ...overrides,
  };
}

export const REHEARSAL_POLICY: ReleasePolicy = {
  strategy: 'canary',
  canarySteps: [10, 25, 50, 100],
  bakeSeconds: 300,
  finalBakeSeconds: 300,
  approvalAfterFirstStep: false,
  approvalTimeoutSeconds: 3600,
  rollbackWindowSeconds: 1800,
  stabilizeTimeoutSeconds: 900,
  backupBeforeRelease: true,
  migrationCommand: ['npm', 'run', 'db:migrate'],
  migrationTimeoutSeconds: 900,
  judge: JUDGE_DEFAULTS,
};

export interface TestListener {
  readonly baseUrl: string;
  /** Paths answered with this status instead of 200. */
  readonly failing: Map<string, number>;
  readonly requests: { path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startTestListener(): Promise<TestListener> {
  const failing = new Map<string, number>();
  const requests: TestListener['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push({ path, headers: req.headers });
    res.statusCode = failing.get(path) ?? 200;
    res.end(res.statusCode === 200 ? 'ok' : 'failing');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    failing,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface ReleaseEnvironment {
  readonly fixture: Fixture;
  readonly topology: Topology;
  readonly clients: TrafficClients;
  readonly rds: RDSClient;
  /** The SNS client both handlers publish with (recorded by test/iam). */
  readonly sns: SNSClient;
  readonly ctx: TrafficContext;
  /** The release handler (lambda/release/handler.ts) in-process. */
  readonly handler: LocalHandler;
  /** The backup handler (lambda/release/backup-handler.ts) in-process. */
  readonly backupHandler: LocalHandler;
  /** The judge handler (lambda/release/judge-handler.ts) in-process; it sees each step's shift a bake ago (the Wait states take 0 s). */
  readonly judgeHandler: LocalHandler;
  /**
   * The judge the judge handler asks. moto holds no ALB metrics (nothing serves traffic), so by default every look
   * passes (`passingJudge`) and the rehearsals judge the alarms; set it to drive a verdict, or to undefined for the
   * real judge (judge.ts). GetMetricData is called either way.
   */
  judge: JudgeFunction | undefined;
  /** The preflight checks handler (lambda/release/preflight-checks-handler.ts) in-process. */
  readonly preflightChecksHandler: LocalHandler;
  /** ECR and ACM clients of the preflight checks (recorded by test/iam). */
  readonly ecr: ECRClient;
  readonly acm: ACMClient;
  /** ECR repository of each service: config's name for frontend and backend, `rehearsal-<service>` for any other. */
  readonly repositories: Readonly<Record<string, string>>;
  /** The load balancer's certificate stand-in (ISSUED, valid a year). */
  readonly certificateArn: string;
  /** Both handlers keyed by the logical IDs of the functions they stand for, for runRehearsal's `handlers`. */
  handlers(ids: ReleaseFunctionIds): Record<string, LocalHandler>;
  /** Exit code the migration task reports when DescribeTasks is asked (moto never stops a task by itself). */
  migrationExitCode: number | 'running';
  /** Every step event the handlers received, in order, as `<release|backup>:<step>`. */
  readonly steps: string[];
  /** RunTask inputs as the handler sent them. */
  readonly runTasks: Record<string, any>[];
  destroy(): void;
}

/** Builds the environment in a freshly reset moto and returns the in-process release handler for it. */
export async function buildReleaseEnvironment(
  moto: MotoServer,
  listener: TestListener,
  policy: ReleasePolicy = REHEARSAL_POLICY,
  /** Environment name of the fixture (topology, resource names); test/iam uses the synthesized environment's. @default 'rehearsal' */
  environment = 'rehearsal',
  /** The fixture's services and which of them have nothing new on green. @default - frontend and backend, both new */
  services: Pick<FixtureOptions, 'services' | 'unchanged'> = {},
): Promise<ReleaseEnvironment> {
  const cfg = moto.clientConfig;
  const fixture = await buildFixture(cfg, { environment, ...services });
  const sns = new SNSClient(cfg);
  const rds = new RDSClient(cfg);
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'rehearsal-releases' }))).TopicArn!;
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'rehearsal-db',
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: 'not-a-secret-password',
      BackupRetentionPeriod: 7,
    }),
  );
  const clients = createClients({ ...cfg, maxAttempts: 1 });
  // moto's RunTask needs container-level memory; these are the backend's colors as a migration would run them.
  const taskDefinitions = {} as Record<Color, string>;
  for (const color of COLORS) {
    const out = await clients.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: `rehearsal-backend-${color}-migrate`,
        // awsvpc would be right, but moto's RunTask crashes creating the task's ENI (no private_dns_name).
        networkMode: 'bridge',
        cpu: '256',
        memory: '512',
        containerDefinitions: [{ name: 'backend', image: `backend:${fixture.versions[color]}`, essential: true, memory: 512, cpu: 256 }],
      }),
    );
    taskDefinitions[color] = out.taskDefinition!.taskDefinitionArn!;
  }
  const topology: Topology = {
    ...fixture.topology,
    notificationTopicArn: topicArn,
    testListener: {
      port: 8443,
      colorHeader: 'X-Release-Color',
      // The plan's two services as config has them; any other one serves /health at <name>.rehearsal.example.com.
      hosts: Object.fromEntries(
        Object.keys(fixture.topology.services).map((s) => [s, s === 'frontend' ? 'rehearsal.example.com' : s === 'backend' ? 'api.rehearsal.example.com' : `${s}.rehearsal.example.com`]),
      ),
      checks: Object.fromEntries(
        Object.keys(fixture.topology.services).map((s) => [s, s === 'frontend' ? FRONTEND.preTrafficChecks : s === 'backend' ? BACKEND.preTrafficChecks : [{ path: '/health', expectedStatus: 200 }]]),
      ),
    },
  };
  const env = {
    judge: passingJudge as JudgeFunction | undefined,
    migrationExitCode: 0 as number | 'running',
    steps: [] as string[],
    runTasks: [] as Record<string, any>[],
  };
  // RunTask as the handler sent it is kept for assertions; moto gets it without the awsvpc network configuration.
  clients.ecs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'RunTaskCommand') {
        const input = args.input as Record<string, any>;
        env.runTasks.push(JSON.parse(JSON.stringify(input)));
        delete input.networkConfiguration;
      }
      return next(args);
    },
    { step: 'initialize', name: 'rehearsalRunTaskNetwork' },
  );
  // moto keeps a RunTask task RUNNING with no exit code; report the scenario's exit through the real DescribeTasks answer.
  clients.ecs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'DescribeTasksCommand' && env.migrationExitCode !== 'running') {
        const out = result.output as { tasks?: { lastStatus?: string; stoppedReason?: string; containers?: { exitCode?: number; name?: string }[] }[] };
        for (const t of out.tasks ?? []) {
          t.lastStatus = 'STOPPED';
          t.stoppedReason = 'Essential container in task exited';
          for (const c of t.containers ?? []) c.exitCode = env.migrationExitCode;
          if (!t.containers?.length) t.containers = [{ name: 'backend', exitCode: env.migrationExitCode }];
        }
      }
      return result;
    },
    { step: 'initialize', name: 'rehearsalMigrationExit' },
  );
  const settings = settingsFromEnv({
    RELEASE_POLICY: JSON.stringify(policy),
    MIGRATION_TASK_DEFINITIONS: JSON.stringify(taskDefinitions),
    MIGRATION_CONTAINER_NAME: 'backend',
    MIGRATION_SERVICE: 'backend',
    MIGRATION_SUBNETS: fixture.subnetIds.join(','),
    MIGRATION_SECURITY_GROUPS: fixture.securityGroupId,
    TEST_LISTENER_BASE_URL: listener.baseUrl,
    LOCK_TTL_SECONDS: '3600',
  });
  const retry = { sleep: async () => undefined };
  // Stored and read as deployed: Custom::TopologyDocument writes it, each handler's loader reads it (TOPOLOGY_TABLE).
  const version = await writeTopology(clients.dynamodb, topology.lockTableName, JSON.stringify(topology));
  const topologyEnv = { TOPOLOGY_TABLE: topology.lockTableName, TOPOLOGY_VERSION: version };
  const inner = createReleaseHandler({
    clients,
    release: { sns },
    topology: topologyLoader({ dynamodb: clients.dynamodb, env: topologyEnv, retry }),
    settings: () => ({ ...settings, healthcheckTimeoutMs: 2000 }),
    retry,
  });
  const innerBackup = createBackupHandler({
    clients: { rds, dynamodb: clients.dynamodb, sns },
    topology: topologyLoader({ dynamodb: clients.dynamodb, env: topologyEnv, retry }),
    settings: () => backupSettingsFromEnv({ DATABASE_INSTANCE_ID: 'rehearsal-db' }),
    retry,
  });
  const innerJudge = createJudgeHandler({
    clients: { cloudwatch: clients.cloudwatch, dynamodb: clients.dynamodb, sns },
    topology: topologyLoader({ dynamodb: clients.dynamodb, env: topologyEnv, retry }),
    settings: () => judgeSettingsFromEnv({ RELEASE_POLICY: JSON.stringify(policy) }),
    retry,
    judge: (series, settings, look) => (env.judge ?? realJudge)(series, settings, look),
  });
  const local = (run: LocalHandler, name: string): LocalHandler => async (event: unknown) => {
    env.steps.push(`${name}:${(event as { step?: string })?.step ?? '?'}`);
    // Lambda hands the state machine JSON, not class instances.
    return JSON.parse(JSON.stringify((await run(event)) ?? null));
  };
  // The images the fixture's task definitions name, pushed to each service's repository (both colors' versions), and an
  // ISSUED certificate (moto issues a private CA's at once; a DNS-validated one waits for MOTO_ACM_VALIDATION_WAIT).
  const ecr = new ECRClient(cfg);
  const acm = new ACMClient(cfg);
  const repositories: Record<string, string> = Object.fromEntries(
    Object.keys(fixture.topology.services).map((s) => [s, s === 'frontend' ? FRONTEND.repositoryName : s === 'backend' ? BACKEND.repositoryName : `rehearsal-${s}`]),
  );
  for (const [service, repositoryName] of Object.entries(repositories)) {
    await ecr.send(new CreateRepositoryCommand({ repositoryName }));
    for (const tag of new Set(COLORS.map((c) => fixture.versions[c]))) {
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: `sha256:${service}${tag}` }, layers: [] });
      await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: tag }));
    }
  }
  const certificateArn = (
    await acm.send(new RequestCertificateCommand({ DomainName: 'rehearsal.example.com', CertificateAuthorityArn: `arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/00000000-0000-4000-8000-000000000001` }))
  ).CertificateArn!;
  const innerChecks = createPreflightChecksHandler({
    clients: { ecr, acm, dynamodb: clients.dynamodb, sns },
    topology: topologyLoader({ dynamodb: clients.dynamodb, env: topologyEnv, retry }),
    settings: () =>
      preflightCheckSettingsFromEnv({ IMAGE_REPOSITORIES: JSON.stringify(repositories), CERTIFICATE_ARNS: certificateArn, ...(policy.imageScan ? { IMAGE_SCAN: JSON.stringify(policy.imageScan) } : {}) }),
    retry,
  });
  const handler = local(inner, 'release');
  const backupHandler = local(innerBackup, 'backup');
  // The Wait states take 0 s here: the judge sees its step's shift a bake ago, so its window holds whole minutes and
  // GetMetricData is called as after a real bake (the ledger keeps real time).
  const judgeHandler = local(async (event: unknown) => {
    const e = event as { release?: { shiftedAt?: string } };
    const shiftedAt = e?.release?.shiftedAt;
    if (!shiftedAt) return innerJudge(event);
    return innerJudge({ ...e, release: { ...e.release, shiftedAt: new Date(Date.parse(shiftedAt) - policy.bakeSeconds * 1000).toISOString() } });
  }, 'judge');
  const preflightChecksHandler = local(innerChecks, 'preflightChecks');
  return Object.assign(env, {
    fixture,
    topology,
    clients,
    rds,
    sns,
    ctx: { clients, topology, retry } as TrafficContext,
    handler,
    backupHandler,
    judgeHandler,
    preflightChecksHandler,
    ecr,
    acm,
    repositories,
    certificateArn,
    handlers(ids: ReleaseFunctionIds) {
      return {
        [ids.handler]: handler,
        [ids.judge]: judgeHandler,
        ...(ids.backup ? { [ids.backup]: backupHandler } : {}),
        ...(ids.preflightChecks ? { [ids.preflightChecks]: preflightChecksHandler } : {}),
      };
    },
    destroy() {
      destroyClients(clients);
      ecr.destroy();
      acm.destroy();
      rds.destroy();
      sns.destroy();
    },
  });
}

/** A judge that passes every service (the rehearsals' default: moto has no ALB metrics to judge). */
export const passingJudge: JudgeFunction = (series) => ({
  outcome: 'pass',
  services: series.map((s) => ({ service: s.service, outcome: 'pass', reason: 'rehearsal: passing judge', numbers: { candidateRequests: s.candidate.requests.reduce((a, b) => a + b, 0) } })),
  summary: 'rehearsal: passing judge',
});
