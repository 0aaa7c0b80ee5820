/**
 * The release steps: one function per Task state of the release state machine. Each receives the release context and
 * the small, explicit release state the state machine carries (`ReleaseState`), and returns the next state or a poll
 * result. All traffic and scaling goes through the traffic core (shift, rollback, scaleColor, restoreColor, lock).
 */
import { DescribeTasksCommand, ListTasksCommand, RunTaskCommand, StopTaskCommand, Task } from '@aws-sdk/client-ecs';
import { Color, otherColor, ServiceName, serviceNamesOf, scopeTopology } from '../shared/topology';
import {
  acquireLock,
  allTrafficOn,
  assertLockHeld,
  call,
  errorMessage,
  formatWeights,
  GuardRefused,
  LockHeld,
  logger,
  nowOf,
  readEcs,
  readLock,
  readRules,
  readState,
  readTargetHealth,
  releaseLock,
  restoreColor,
  rollback,
  scaleColor,
  shift,
  WeightsByService,
} from '../traffic';
import { ReleaseContext } from './context';
import {
  FinishIncomplete,
  GateFailed,
  MigrationFailed,
  MigrationTimeout,
  PreflightRefused,
  PreTrafficCheckFailed,
  ReleaseHeld,
  SafeStateFailed,
  StabilizeTimeout,
} from './errors';
import { describeAlarms, judgeGate, readGateAlarms } from './gate';
import { JUDGE_HOLD_PREFIX } from './judge-hold';
import { Strategy, stepsFor } from './policy';
import { CheckResult, HttpGet, runPreTrafficChecks } from './pretraffic';
import { notify, putReleaseRecord, readReleaseRecord, record, type RecordInput, type ReleaseRecord } from './record';
import { reportRelease } from './report';
import {
  describeRollback,
  downgrades,
  expectOwnWeights,
  parseVersions,
  readCompletedReleases,
  readRollbackMarker,
  rollbackSince,
  safeStateFailedLine,
  stdoutSink,
} from './safety';

/** The state the release state machine carries between steps (`$.release`). Small and JSON-only. */
export interface ReleaseState {
  /** Execution ARN: the lock owner. */
  readonly owner: string;
  readonly environment: string;
  readonly actor: string;
  readonly strategy: Strategy;
  /**
   * The services this release moves: those (of the ones asked for) whose idle color runs another version than their
   * live color. Every step, the safe state and the rollback Lambda act on these only; the others stay where they are.
   */
  readonly services: readonly ServiceName[];
  /** The live color of `services` when the release started: where their traffic returns on any failure. */
  readonly stable: Color;
  /** The idle color being released. */
  readonly candidate: Color;
  readonly fromVersion: string;
  readonly toVersion: string;
  /** Percentages of the candidate, in order. */
  readonly steps: readonly number[];
  /** Index in `steps` of the next shift. */
  readonly stepIndex: number;
  /** The candidate's current traffic percent. */
  readonly percent: number;
  /** Wait for a manual approval after the first step. */
  readonly approval: boolean;
  /** Set by the gate: the next state is the approval. */
  readonly awaitApproval: boolean;
  /** Desired counts of the candidate before the release (restored when the release fails before any traffic). */
  readonly candidateCountsBefore: Readonly<Record<ServiceName, number>>;
  readonly scaledUp: boolean;
  readonly snapshotId?: string;
  readonly migrationTaskArn?: string;
  /** The service that runs the migration is not in this release: no migration task was started. */
  readonly migrationSkipped?: boolean;
  /** ISO time of the current step's shift: the judge's window starts there (judge-gate.ts). */
  readonly shiftedAt?: string;
  /** Looks the judge took in this release so far, every step and extension counted (its alpha spending). */
  readonly judgeLooks?: number;
  /** Bakes the judge added at the current step (reset by each shift), at most `judge.maxExtensions`. */
  readonly extensions?: number;
  /** Set by the judge: inconclusive, bake again (the state machine loops Bake → Gate → Judge). */
  readonly extend?: boolean;
  /** ISO time the current bounded wait (migration, stabilize) gives up. */
  readonly deadline?: string;
  readonly startedAt: string;
}

export interface PollResult {
  readonly done: boolean;
  readonly detail: string;
}

function versionsOf(state: Awaited<ReturnType<typeof readState>>, color: Color, services: readonly ServiceName[] = Object.keys(state.services)): string {
  return services.map((s) => `${s} ${state.services[s].colors[color].version}`).join(', ');
}

function deadlineIn(ctx: ReleaseContext, seconds: number): string {
  return new Date(nowOf(ctx).getTime() + seconds * 1000).toISOString();
}

function pastDeadline(ctx: ReleaseContext, deadline: string | undefined): boolean {
  return deadline !== undefined && nowOf(ctx).getTime() >= Date.parse(deadline);
}

/**
 * Preflight: takes the release lock (owner = the execution), then refuses if a rollback alarm is in ALARM, traffic is
 * already split, or no service (of those asked for, `services`, default all) has an idle color running another version
 * than its live one. The release covers the services that do; they must share a live color (one release moves them
 * from one color to the other), the others stay where they are. On a refusal after the lock was taken the lock is
 * released here (the safe state also releases it; doing it here keeps a refused start cheap).
 */
export async function preflight(
  ctx: ReleaseContext,
  req: { executionId: string; actor?: string; strategy?: Strategy; force?: boolean; services?: readonly ServiceName[] },
): Promise<ReleaseState> {
  const owner = req.executionId;
  const actor = req.actor ?? 'release';
  const strategy = req.strategy ?? ctx.settings.policy.strategy;
  await acquireLock(ctx, owner, { ttlSeconds: ctx.settings.lockTtlSeconds });
  try {
    const state = await readState(ctx);
    const firing = state.alarms.filter((a) => a.state === 'ALARM');
    if (firing.length > 0) {
      throw new GuardRefused('alarm', `rollback alarm${firing.length > 1 ? 's' : ''} already in ALARM: ${firing.map((a) => `${a.name} (${a.color})`).join(', ')}`);
    }
    const all = serviceNamesOf(ctx.topology);
    const unknown = (req.services ?? []).filter((s) => !all.includes(s));
    if (unknown.length > 0) throw new PreflightRefused(`no service ${unknown.join(', ')} in ${state.environment}: its services are ${all.join(', ')}`);
    const asked = req.services ? all.filter((s) => req.services!.includes(s)) : all;
    const split = all.filter((s) => state.services[s].weights.blue > 0 && state.services[s].weights.green > 0);
    if (split.length > 0) {
      throw new PreflightRefused(
        `traffic of ${state.environment} is split (${split.map((s) => `${s}: ${formatWeights(state.services[s].weights)}`).join(', ')}); ` +
          `finish or roll back the shift in progress first`,
      );
    }
    const svc = (s: ServiceName) => state.services[s];
    const services = asked.filter((s) => svc(s).colors[svc(s).idleColor].version !== svc(s).colors[svc(s).liveColor].version);
    if (services.length === 0) {
      throw new PreflightRefused(
        `the idle color of every service runs the same version as its live color (${asked.map((s) => `${s} ${svc(s).liveColor} ${svc(s).colors[svc(s).liveColor].version}, idle ${svc(s).idleColor}`).join('; ')}): ` +
          `nothing to release; deploy the new version to a service's idle color first`,
      );
    }
    const lives = [...new Set(services.map((s) => svc(s).liveColor))];
    if (lives.length > 1) {
      throw new PreflightRefused(
        `the services with a new version are live on different colors (${services.map((s) => `${s} on ${svc(s).liveColor}`).join(', ')}): ` +
          `one release moves its services from one color to the other; release them separately, e.g. ` +
          `npm run release -- --env ${state.environment} --services ${services.filter((s) => svc(s).liveColor === lives[0]).join(',')}`,
      );
    }
    const stable = lives[0];
    const candidate = otherColor(stable);
    const unchanged = all.filter((s) => !services.includes(s));
    // From here on, this release reads and changes its own services only (and so do its later steps: handler.ts).
    ctx = { ...ctx, topology: scopeTopology(ctx.topology, services) };
    // A downgrade: the idle color runs a version a completed release replaced (e.g. restarting a release after a
    // completed one with nothing new deployed would put the old version back on 100% and scale the new one to 0).
    const fromVersion = versionsOf(state, stable, services);
    const toVersion = versionsOf(state, candidate, services);
    const down = downgrades(await readCompletedReleases(ctx), parseVersions(toVersion), parseVersions(fromVersion));
    if (down.length > 0 && !req.force) {
      throw new PreflightRefused(
        `the idle color ${candidate} runs ${down.map((d) => `${d.service} ${d.version} (replaced by the release completed ${d.replacedAt})`).join(', ')}: ` +
          `releasing it would be a downgrade from ${fromVersion}; deploy a newer version to ${candidate}, or, to release the older version on purpose, ` +
          `start with --force: npm run release -- --env ${state.environment} --force`,
      );
    }
    const candidateCountsBefore = {} as Record<ServiceName, number>;
    for (const s of services) candidateCountsBefore[s] = state.services[s].colors[candidate].desiredCount;
    const steps = stepsFor(ctx.settings.policy, strategy);
    const release: ReleaseState = {
      owner,
      environment: state.environment,
      actor,
      strategy,
      services,
      stable,
      candidate,
      fromVersion,
      toVersion,
      steps,
      stepIndex: 0,
      percent: 0,
      approval: strategy === 'canary' && ctx.settings.policy.approvalAfterFirstStep && steps.length > 1,
      awaitApproval: false,
      candidateCountsBefore,
      scaledUp: false,
      startedAt: nowOf(ctx).toISOString(),
    };
    await putReleaseRecord(ctx, { executionArn: owner, status: 'running', stable, candidate, startedAt: release.startedAt });
    await record(ctx, {
      actor,
      event: 'started',
      message:
        `release of ${candidate} (${release.toVersion}) started by ${actor}: ${strategy}, steps ${steps.join(' → ')}; ${stable} (${release.fromVersion}) stays stable` +
        (unchanged.length > 0 ? `; not in this release (no new version on the idle color, or not asked for): ${unchanged.join(', ')}` : '') +
        (down.length > 0 ? `; FORCED downgrade of ${down.map((d) => `${d.service} to ${d.version}`).join(', ')}` : ''),
      detail: { owner, strategy, steps, services, stable, candidate, fromVersion, toVersion, ...(down.length > 0 ? { forcedDowngrade: down } : {}) },
    });
    return release;
  } catch (e) {
    await releaseLock(ctx, owner).catch((re) => logger.warn('could not release the lock after a refused preflight', { error: errorMessage(re) }));
    throw e;
  }
}

/** ECS `startedBy` (<= 36 chars) identifying the migration task of this execution, so a retried start does not run it twice. */
export function migrationStartedBy(owner: string): string {
  let h = 0;
  for (const ch of owner) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  const name = (owner.split(':').pop() ?? owner).replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 18);
  return `release-${h.toString(16)}-${name}`.slice(0, 36);
}

/** Runs the candidate's migration task definition (of the service with `runsMigration`) once with the migration command (idempotent per execution). */
export async function migrationStart(ctx: ReleaseContext, release: ReleaseState): Promise<ReleaseState> {
  const m = ctx.settings.migration;
  const command = ctx.settings.policy.migrationCommand;
  if (!m || !command) throw new PreflightRefused('migration requested but no migration command or task definitions are configured');
  // The migrations live in one service's image (config `runsMigration`); a release without a new version of it has
  // no new migration to run. ctx.topology holds this release's services only (handler.ts).
  if (m.service !== undefined && !(m.service in ctx.topology.services)) {
    await record(ctx, {
      actor: release.actor,
      event: 'migration-succeeded',
      message: `migration skipped: ${m.service}, whose image runs it, is not in this release (${release.services.join(', ')})`,
      detail: { skipped: true, service: m.service },
    });
    return { ...release, migrationSkipped: true };
  }
  const cluster = ctx.topology.clusterName;
  const startedBy = migrationStartedBy(release.owner);
  const existing = await call(ctx, 'ecs:ListTasks', () => ctx.clients.ecs.send(new ListTasksCommand({ cluster, startedBy })));
  let taskArn = existing.taskArns?.[0];
  if (!taskArn) {
    const out = await call(ctx, 'ecs:RunTask', () =>
      ctx.clients.ecs.send(
        new RunTaskCommand({
          cluster,
          taskDefinition: m.taskDefinitions[release.candidate],
          launchType: 'FARGATE',
          count: 1,
          startedBy,
          // The same token on every attempt: a RunTask that timed out after ECS started the task (retried by call())
          // returns that task instead of starting a second migration.
          // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html
          clientToken: startedBy,
          networkConfiguration: {
            awsvpcConfiguration: { subnets: [...m.subnets], securityGroups: [...m.securityGroups], assignPublicIp: 'DISABLED' },
          },
          overrides: { containerOverrides: [{ name: m.containerName, command: [...command] }] },
        }),
      ),
    );
    taskArn = out.tasks?.[0]?.taskArn;
    if (!taskArn) {
      throw new MigrationFailed(`RunTask started no migration task: ${(out.failures ?? []).map((f) => `${f.arn ?? ''} ${f.reason ?? ''}`).join('; ') || 'no reason given'}`);
    }
  }
  await record(ctx, {
    actor: release.actor,
    event: 'migration-started',
    message: `migration ${command.join(' ')} started on ${release.candidate} (${m.taskDefinitions[release.candidate]}) as ${taskArn}`,
    detail: { taskArn, taskDefinition: m.taskDefinitions[release.candidate] },
  });
  return { ...release, migrationTaskArn: taskArn, deadline: deadlineIn(ctx, ctx.settings.policy.migrationTimeoutSeconds) };
}

function exitOf(task: Task | undefined, containerName: string): { exitCode?: number; reason: string } {
  const c = task?.containers?.find((x) => x.name === containerName) ?? task?.containers?.[0];
  return { exitCode: c?.exitCode, reason: [task?.stoppedReason, c?.reason].filter(Boolean).join('; ') || 'no reason given' };
}

/** Polls the migration task: done on exit 0; MigrationFailed on any other exit; MigrationTimeout (task stopped) past the deadline. */
export async function migrationCheck(ctx: ReleaseContext, release: ReleaseState): Promise<PollResult> {
  const m = ctx.settings.migration;
  if (release.migrationSkipped) return { done: true, detail: 'migration skipped: its service is not in this release' };
  if (!m || !release.migrationTaskArn) throw new MigrationFailed('no migration task to check (migrationTaskArn missing)');
  const cluster = ctx.topology.clusterName;
  const out = await call(ctx, 'ecs:DescribeTasks', () =>
    ctx.clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: [release.migrationTaskArn!] })),
  );
  const task = out.tasks?.[0];
  if (!task) throw new MigrationFailed(`migration task ${release.migrationTaskArn} not found`);
  if (task.lastStatus === 'STOPPED') {
    const { exitCode, reason } = exitOf(task, m.containerName);
    if (exitCode === 0) {
      await record(ctx, { actor: release.actor, event: 'migration-succeeded', message: `migration ${release.migrationTaskArn} exited 0`, detail: { taskArn: release.migrationTaskArn } });
      return { done: true, detail: 'migration exited 0' };
    }
    throw new MigrationFailed(`migration task ${release.migrationTaskArn} stopped with exit code ${exitCode ?? 'none'} (${reason}); no traffic was moved`);
  }
  if (pastDeadline(ctx, release.deadline)) {
    await call(ctx, 'ecs:StopTask', () =>
      ctx.clients.ecs.send(new StopTaskCommand({ cluster, task: release.migrationTaskArn!, reason: 'release: migration timed out' })),
    ).catch((e) => logger.warn('could not stop the migration task', { error: errorMessage(e) }));
    throw new MigrationTimeout(`migration task ${release.migrationTaskArn} still ${task.lastStatus} at its deadline ${release.deadline}; stopped it; no traffic was moved`);
  }
  return { done: false, detail: `migration ${task.lastStatus ?? 'PENDING'}` };
}

/** Scales the candidate to the live color's counts (core restoreColor) and starts the stabilize deadline. */
export async function scaleUp(ctx: ReleaseContext, release: ReleaseState): Promise<ReleaseState> {
  // Fence: a Lambda still running for an execution that was stopped (its lock deleted) must not scale.
  await assertLockHeld(ctx, release.owner);
  const r = await restoreColor(ctx, { color: release.candidate, actor: release.actor, reason: `release: scale ${release.candidate} up to ${release.stable}'s counts` });
  await record(ctx, {
    actor: release.actor,
    event: 'scaled-up',
    message: `${release.candidate} scaled to ${serviceNamesOf(ctx.topology).map((s) => `${s} ${r.after[s]}`).join(', ')}; waiting up to ${ctx.settings.policy.stabilizeTimeoutSeconds} s until stable`,
    detail: { before: r.before, after: r.after },
  });
  return { ...release, scaledUp: true, deadline: deadlineIn(ctx, ctx.settings.policy.stabilizeTimeoutSeconds) };
}

/**
 * Stable = every candidate service runs its desired count (> 0 where the live color runs tasks) and, in every AZ where
 * either color has registered targets, the candidate has at least minHealthyTargetsPerAz healthy targets.
 */
export async function stabilizeCheck(ctx: ReleaseContext, release: ReleaseState): Promise<PollResult> {
  const ecs = await readEcs(ctx);
  const problems: string[] = [];
  const min = Math.max(ctx.topology.minHealthyTargetsPerAz, 1);
  for (const s of serviceNamesOf(ctx.topology)) {
    const c = ecs[s][release.candidate];
    if (!c.found) problems.push(`${s} ${release.candidate}: service not found`);
    else if (c.runningCount !== c.desiredCount) problems.push(`${s} ${release.candidate}: ${c.runningCount} of ${c.desiredCount} running`);
    if (c.desiredCount === 0) continue;
    const colors = ctx.topology.services[s].colors;
    const [mine, live] = await Promise.all([readTargetHealth(ctx, colors[release.candidate].targetGroupArn), readTargetHealth(ctx, colors[release.stable].targetGroupArn)]);
    if (mine.healthy === 0) problems.push(`${s} ${release.candidate}: no healthy targets`);
    const azs = new Set([...Object.keys(mine.byAz), ...Object.keys(live.byAz)]);
    for (const az of azs) {
      const h = mine.byAz[az]?.healthy ?? 0;
      if (h < min) problems.push(`${s} ${release.candidate}: ${h} healthy in ${az}`);
    }
  }
  if (problems.length === 0) {
    await record(ctx, { actor: release.actor, event: 'stable', message: `${release.candidate} is stable with healthy targets in every AZ` });
    return { done: true, detail: 'stable' };
  }
  if (pastDeadline(ctx, release.deadline)) {
    throw new StabilizeTimeout(`${release.candidate} not stable by ${release.deadline}: ${problems.join('; ')}`);
  }
  return { done: false, detail: problems.join('; ') };
}

/** GETs every health path of every service on the candidate through the test listener; all must answer 2xx. */
export async function preTraffic(ctx: ReleaseContext & { httpGet?: HttpGet }, release: ReleaseState): Promise<{ passed: true; checks: number }> {
  let results: CheckResult[];
  try {
    results = await runPreTrafficChecks(ctx.topology, {
      color: release.candidate,
      baseUrl: ctx.settings.testListenerBaseUrl,
      timeoutMs: ctx.settings.healthcheckTimeoutMs,
      get: ctx.httpGet,
    });
  } catch (e) {
    throw new PreTrafficCheckFailed(errorMessage(e));
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new PreTrafficCheckFailed(
      `${failed.length} of ${results.length} pre-traffic checks of ${release.candidate} failed: ` +
        failed.map((f) => `${f.service} ${f.path} ${f.status !== undefined ? `HTTP ${f.status}` : f.error}`).join(', ') +
        '; no traffic was moved',
    );
  }
  await record(ctx, {
    actor: release.actor,
    event: 'pre-traffic-passed',
    message: `all ${results.length} pre-traffic checks of ${release.candidate} passed`,
    detail: { checks: results.map((r) => `${r.service} ${r.path} ${r.status}`) },
  });
  return { passed: true, checks: results.length };
}

/** Shifts every service to the next step's percent of the candidate (core shift: lock, alarm and health guards). */
export async function shiftStep(ctx: ReleaseContext, release: ReleaseState): Promise<ReleaseState> {
  const percent = release.steps[release.stepIndex];
  if (percent === undefined) throw new GuardRefused('input', `no step ${release.stepIndex} in ${JSON.stringify(release.steps)}`);
  // Never override an operator: the weights must be this release's last write (or this step's own target, written by
  // an earlier attempt of this invocation's retry).
  await expectOwnWeights(ctx, release, `shift of ${release.candidate} to ${percent}%`, percent);
  const attempt = (ignoreAlarms?: readonly string[]) =>
    shift(ctx, {
      target: { to: release.candidate, percent },
      owner: release.owner,
      actor: release.actor,
      reason: `release step ${release.stepIndex + 1}/${release.steps.length}: ${release.candidate} to ${percent}%`,
      ignoreAlarms,
    });
  let r: Awaited<ReturnType<typeof shift>>;
  try {
    r = await attempt();
  } catch (e) {
    // The core's alarm guard refuses on an alarm of either color; the gate's judgement decides what that means.
    if (!(e instanceof GuardRefused && e.guard === 'alarm')) throw e;
    const verdict = judgeGate(await readGateAlarms(ctx), release);
    if (verdict.outcome === 'fail') throw e;
    if (verdict.outcome === 'hold') {
      // A trigger of the stable color only: the new color is not at fault. Hold (no rollback) rather than let the safe
      // state roll back a good release.
      throw new ReleaseHeld(
        `shift of ${release.candidate} to ${percent}% refused for alarms of the stable color ${release.stable} only ` +
          `(${describeAlarms(verdict.stableFiring) || e.reason}); ${release.candidate}'s alarms are OK: held at ${release.percent}%, no rollback`,
      );
    }
    // Pass: only alarms the gate ignores (the stable color's comparisons and composite: the new color is better), or
    // the alarm cleared since. Shift once more without counting those; anything else firing still refuses.
    r = await attempt(verdict.ignored.map((a) => a.name));
  }
  await record(ctx, {
    actor: release.actor,
    event: 'shifted',
    message: `${release.candidate} at ${percent}% (step ${release.stepIndex + 1} of ${release.steps.length})`,
    weightsBefore: r.weightsBefore,
    weightsAfter: r.weightsAfter,
    detail: { percent, step: release.stepIndex + 1 },
  });
  return { ...release, percent, stepIndex: release.stepIndex + 1, awaitApproval: false, shiftedAt: nowOf(ctx).toISOString(), extensions: 0, extend: false };
}

export type GatePhase = 'bake' | 'final' | 'window';

/**
 * After a bake: judges the NEW color (gate.ts). Any of its rollback triggers, its composite or its comparisons against
 * the stable color in ALARM → GateFailed (the safe state rolls back). Its alarms OK but a rollback trigger of the
 * stable color in ALARM → ReleaseHeld (the state machine holds: traffic stays, no rollback). The stable color's
 * comparisons (they fire when the new color is better) and its composite are recorded, never acted on. Passing sets
 * `awaitApproval` after the first canary step.
 */
export async function gate(ctx: ReleaseContext, release: ReleaseState, phase: GatePhase): Promise<ReleaseState> {
  const alarms = await readGateAlarms(ctx);
  const verdict = judgeGate(alarms, release);
  const where = phase === 'bake' ? `bake at ${release.percent}%` : phase === 'final' ? 'final bake' : 'rollback window';
  if (verdict.outcome === 'fail') {
    throw new GateFailed(`gate after the ${where} failed: ${describeAlarms(verdict.candidateFiring)} in ALARM`);
  }
  if (verdict.outcome === 'hold') {
    throw new ReleaseHeld(
      `gate after the ${where}: ${release.candidate}'s alarms are OK but the stable color ${release.stable} has ` +
        `${describeAlarms(verdict.stableFiring)} in ALARM: held at ${release.percent}%, no rollback`,
    );
  }
  const missing = alarms.filter((a) => a.state === 'MISSING').map((a) => a.name);
  const awaitApproval = phase === 'bake' && release.approval && release.stepIndex === 1 && release.percent < 100;
  await record(ctx, {
    actor: release.actor,
    event: 'gate-passed',
    message:
      `gate passed at ${release.percent}% (${phase}): ${alarms.filter((a) => a.color === release.candidate).length} alarm(s) of ${release.candidate} not in ALARM` +
      `${verdict.ignored.length ? `; ignored (stable color, not a fault of ${release.candidate}): ${describeAlarms(verdict.ignored)}` : ''}` +
      `${missing.length ? `; MISSING: ${missing.join(', ')}` : ''}${awaitApproval ? '; waiting for approval' : ''}`,
    detail: { phase, alarms: alarms.map((a) => `${a.name}=${a.state}`) },
  });
  return { ...release, awaitApproval };
}

export interface HoldResult {
  readonly held: true;
  readonly percent: number;
  readonly weights: WeightsByService;
  readonly lockReleased: boolean;
  /** The operator's choices, as commands. */
  readonly commands: readonly string[];
}

/** A held release: the record says held, traffic is read (never moved), the lock is released if this execution holds it. */
async function markHeld(ctx: ReleaseContext, executionArn: string, stable?: Color, candidate?: Color, startedAt?: string) {
  await putReleaseRecord(ctx, { executionArn, status: 'held', stable, candidate, startedAt });
  const rules = await readRules(ctx);
  const weights: WeightsByService = Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, rules[s].weights]));
  let lockReleased = false;
  try {
    await releaseLock(ctx, executionArn);
    lockReleased = true;
  } catch (e) {
    if (!(e instanceof LockHeld)) throw e;
    // Another holder: not ours to release.
  }
  return { rules, weights, lockReleased };
}

/** Why a release was held, from the error name (and cause) that sent it to the Hold state. */
function heldWhy(error: string | undefined, stable: Color | undefined, cause?: string): string {
  if (error === 'ReleaseHeld' && cause?.startsWith(JUDGE_HOLD_PREFIX)) return 'the judge stayed inconclusive after its extensions (policy: hold)';
  return error === 'OperatorOverride'
    ? 'an operator changed the weights'
    : `an alarm of the stable color${stable ? ` ${stable}` : ''}`;
}

/**
 * Held: an alarm of the stable color, none of the new one (ReleaseHeld), or an operator moved traffic away from the
 * release's last write (OperatorOverride). Traffic stays exactly where it is (no write), the candidate keeps running.
 * The release record says `held` first, so the Abandoned clean-up of this execution does nothing; then the lock is
 * released (the operator's promote or rollback through the traffic CLI must not wait for the lock's lease, hours); the
 * notification says why and names the commands.
 */
export async function hold(ctx: ReleaseContext, req: { executionId: string; release: ReleaseState; error?: { Error?: string; Cause?: string } }): Promise<HoldResult> {
  const { release } = req;
  const env = release.environment;
  const why = causeText(req.error?.Cause);
  const kind = heldWhy(req.error?.Error, release.stable, why);
  const { rules, weights, lockReleased } = await markHeld(ctx, release.owner, release.stable, release.candidate, release.startedAt);
  // The commands follow where traffic IS (an operator may have moved it), not the release's last step.
  const on = allTrafficOn(weights);
  const percent = on === release.stable ? 0 : on === release.candidate ? 100 : release.percent;
  const commands =
    percent === 0
      ? [
          `npm run traffic -- status --env ${env}`,
          `release again once ${release.stable}'s alarm is OK: npm run release -- --env ${env}`,
          `give up: npm run traffic -- scale --color ${release.candidate} --count 0 --env ${env}`,
        ]
      : percent >= 100
      ? [
          `npm run traffic -- status --env ${env}`,
          `keep ${release.candidate}: npm run traffic -- scale --color ${release.stable} --count 0 --env ${env}`,
          `roll back: npm run traffic -- rollback --to ${release.stable} --env ${env}`,
        ]
      : [
          `npm run traffic -- status --env ${env}`,
          `promote ${release.candidate}: npm run traffic -- promote --env ${env}`,
          `roll back: npm run traffic -- rollback --to ${release.stable} --env ${env}`,
        ];
  await record(ctx, {
    actor: release.actor,
    event: 'held',
    message:
      `release of ${release.candidate} (${release.toVersion}) HELD at ${release.percent}% because ${kind}: ${why}. Traffic left where it is ` +
      `(${serviceNamesOf(ctx.topology).map((s) => `${s} ${formatWeights(rules[s].weights)}`).join(', ')}), lock ${lockReleased ? 'released' : 'not held by this release'}. ` +
      `Decide: ${commands.join(' | ')}`,
    weightsAfter: weights,
    detail: { percent: release.percent, error: req.error?.Error, cause: why, commands, lockReleased },
  });
  await reportRelease(ctx, release.owner, release.startedAt);
  return { held: true, percent: release.percent, weights, lockReleased, commands };
}

/** Stores the approval task token (release record + ledger + notification) for `npm run release -- approve`. */
export async function approvalRequest(ctx: ReleaseContext, release: ReleaseState, token: string): Promise<{ requested: true }> {
  await putReleaseRecord(ctx, { executionArn: release.owner, status: 'awaiting-approval', stable: release.stable, candidate: release.candidate, taskToken: token, startedAt: release.startedAt });
  await record(ctx, {
    actor: release.actor,
    event: 'approval-requested',
    message:
      `${release.candidate} at ${release.percent}% passed its gate; approve to continue with ` +
      `\`npm run release -- approve --env ${release.environment}\` within ${ctx.settings.policy.approvalTimeoutSeconds} s, or it rolls back`,
    detail: { taskToken: token, timeoutSeconds: ctx.settings.policy.approvalTimeoutSeconds },
  });
  return { requested: true };
}

/** Ledger entry and notification, each independently: a failed ledger write still notifies. Never throws. */
async function recordBestEffort(ctx: ReleaseContext, input: RecordInput, problems: string[]): Promise<void> {
  try {
    await record(ctx, input);
  } catch (e) {
    problems.push(`ledger entry: ${errorMessage(e)}`);
    await notify(ctx, input);
  }
}

/**
 * After the rollback window: checks this execution still holds the lock (fence) and that every service is still at
 * the candidate's 100% (this release's own last write: an operator's rollback during the final bake or the window
 * must never be followed by scaling the live stable color to 0; OperatorOverride → Held), then scales the old color
 * to 0 and releases the lock. The scale-down is the last irreversible act: anything that fails from there on (the
 * scale-down itself, the record, the ledger entry, the lock release) is reported (notification, record
 * `finish-incomplete`) and ends in FinishIncomplete, never in a rollback.
 */
export async function finish(ctx: ReleaseContext, release: ReleaseState): Promise<{ released: true; live: Color; durationSeconds: number }> {
  const { stable, candidate, environment: env } = release;
  // A retry of a Finish that completed (record succeeded, lock released) and crashed before answering: done.
  const rec = await readReleaseRecord(ctx);
  if (rec?.executionArn === release.owner && rec.status === 'succeeded') {
    return { released: true, live: candidate, durationSeconds: Math.round((nowOf(ctx).getTime() - Date.parse(release.startedAt)) / 1000) };
  }
  await assertLockHeld(ctx, release.owner);
  await expectOwnWeights(ctx, { ...release, percent: 100 }, `finish (before scaling ${stable} to 0)`);
  const durationSeconds = Math.round((nowOf(ctx).getTime() - Date.parse(release.startedAt)) / 1000);
  // What a later preflight needs to refuse a downgrade (safety.ts downgrades).
  const detail = { live: candidate, replaced: stable, fromVersion: release.fromVersion, toVersion: release.toVersion, durationSeconds };
  const problems: string[] = [];
  let scaledDown = false;
  let countsBefore: Record<ServiceName, number> | undefined;
  let tookBack = false;
  try {
    countsBefore = (await scaleColor(ctx, { color: stable, desiredCount: 0, actor: release.actor, reason: `release done: rollback window over, scale ${stable} to 0` })).before;
    scaledDown = true;
  } catch (e) {
    // The scale may have landed before the failure (e.g. its ledger entry failed): what ECS says decides.
    const ecs = await readEcs(ctx).catch(() => undefined);
    scaledDown = !!ecs && serviceNamesOf(ctx.topology).every((s) => ecs[s][stable].desiredCount === 0);
    problems.push(`scaling ${stable} to 0 ${scaledDown ? `reported an error (${stable} is at desired 0)` : 'failed'}: ${errorMessage(e)}`);
  }
  if (scaledDown) {
    // The weight check above and the scale-down are not atomic: a rollback (the rollback Lambda, an operator) that
    // moved traffic back to the old color in between must not leave it at 0 tasks. Look again; bring it back if so.
    try {
      const now = await readRules(ctx);
      const back = serviceNamesOf(ctx.topology).filter((s) => now[s].weights[stable] > 0);
      if (back.length > 0) {
        scaledDown = false;
        tookBack = true;
        problems.push(`${stable} took traffic back (${back.join(', ')}) while finish scaled it down (a rollback): its counts are restored, ${candidate} left running`);
        const ecs = countsBefore ? undefined : await readEcs(ctx);
        const counts = countsBefore ?? (Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, ecs![s][candidate].desiredCount])) as Record<ServiceName, number>);
        await scaleColor(ctx, { color: stable, desiredCount: counts, actor: release.actor, reason: `${stable} took traffic back during finish: back to its counts` });
      }
    } catch (e) {
      problems.push(`could not check or restore ${stable} after its scale-down: ${errorMessage(e)}`);
    }
  }
  if (scaledDown) {
    await putReleaseRecord(ctx, { executionArn: release.owner, status: 'succeeded', stable: candidate, candidate: stable, startedAt: release.startedAt }).catch((e) =>
      problems.push(`release record: ${errorMessage(e)}`),
    );
    await recordBestEffort(
      ctx,
      {
        actor: release.actor,
        event: 'completed',
        message: `release complete: ${candidate} (${release.toVersion}) serves 100%; ${stable} scaled to 0 after the rollback window (${durationSeconds} s)`,
        detail,
      },
      problems,
    );
  }
  let lockReleased = false;
  await releaseLock(ctx, release.owner).then(
    () => (lockReleased = true),
    (e) => problems.push(`lock release: ${errorMessage(e)}`),
  );
  if (problems.length === 0) return reportRelease(ctx, release.owner, release.startedAt).then(() => ({ released: true, live: candidate, durationSeconds }));

  const commands = [
    `npm run traffic -- status --env ${env}`,
    ...(scaledDown || tookBack ? [] : [`finish the scale-down: npm run traffic -- scale --color ${stable} --count 0 --env ${env}`]),
    ...(lockReleased ? [] : [`clear the lock: npm run release -- unlock --env ${env}`]),
  ];
  const message =
    `release of ${candidate} (${release.toVersion}) INCOMPLETE: ` +
    (tookBack ? `traffic was moved back to ${stable} during finish (a rollback), ${stable} kept running` : `${candidate} serves 100%${scaledDown ? `, ${stable} scaled to 0` : `, ${stable} still running`}`) +
    `; ${problems.join('; ')}. ` +
    `Nothing was rolled back (a failure at or after the scale-down is not a reason to). Finish by hand: ${commands.join(' | ')}`;
  await putReleaseRecord(ctx, {
    executionArn: release.owner,
    status: 'finish-incomplete',
    // The live color first (what `release status` tells the operator to keep): the new one, unless a rollback took
    // traffic back during finish.
    stable: tookBack ? stable : candidate,
    candidate: tookBack ? candidate : stable,
    startedAt: release.startedAt,
    error: problems.join('; '),
    done: tookBack ? [`${stable} restored`] : [`${candidate} at 100%`, ...(scaledDown ? [`${stable} scaled to 0`] : []), ...(lockReleased ? ['lock released'] : [])],
  }).catch((e) => logger.error('could not record the incomplete finish', { error: errorMessage(e) }));
  await recordBestEffort(ctx, { actor: release.actor, event: 'finish-incomplete', message, detail: { ...detail, problems, commands, scaledDown, lockReleased } }, []);
  await reportRelease(ctx, release.owner, release.startedAt);
  throw new FinishIncomplete(message);
}

export interface SafeResult {
  readonly rolledBack: boolean;
  readonly restoredCounts: boolean;
  readonly lockReleased: boolean;
  readonly weights?: WeightsByService;
  readonly error: string;
  /** Traffic was on the candidate but the stable color is not running: traffic left on the candidate. */
  readonly stableNotRunning?: boolean;
  /** The rollback Lambda had already moved traffic back for this release: what it did (the safe state did not move it again). */
  readonly rolledBackByLambda?: string;
}

type SafeRequest = { executionId: string; release?: Partial<ReleaseState>; error?: { Error?: string; Cause?: string } };

/**
 * The safe state, reached from every failure before Finish:
 * - the rollback Lambda already rolled this release back (its marker, completed after the release started): traffic is
 *   not moved again, the ledger says what the rollback Lambda did;
 * - traffic reached the candidate and the stable color runs: all traffic back to the stable color, then the candidate
 *   to 0 (core rollback: a rollback-mode shift, not fenced by the lock);
 * - traffic reached the candidate but the stable color is not running (a desired count of 0): traffic is NOT moved (it
 *   would be an outage); the candidate keeps running; loud notification and the ReleaseSafeStateFailed metric;
 * - no traffic on the candidate: it gets back its desired counts from before the release.
 * Then a running migration task is stopped, the record says failed, the lock is released (when this execution holds
 * it) and the failure is recorded and notified. Never touches traffic when the release never got past preflight
 * (`release` without colors), e.g. when another release holds the lock.
 *
 * If its own work fails (rollback writes, record, lock, ledger), it still writes the record `safe-failed`, a ledger entry
 * and a notification naming the commands to finish by hand, emits ReleaseSafeStateFailed (each best effort,
 * independently), keeps the lock (no new release on a half-rolled-back environment) and throws SafeStateFailed.
 */
export async function safe(ctx: ReleaseContext, req: SafeRequest): Promise<SafeResult> {
  const done: string[] = [];
  try {
    return await safeWork(ctx, req, done);
  } catch (e) {
    throw await safeFailed(ctx, req, e, done);
  } finally {
    await reportRelease(ctx, req.release?.owner ?? req.executionId, req.release?.startedAt);
  }
}

function emitSafeStateFailed(ctx: ReleaseContext, properties: Record<string, unknown>): void {
  try {
    (ctx.metricSink ?? stdoutSink)(safeStateFailedLine(ctx.topology.environment, properties, nowOf(ctx)));
  } catch (e) {
    logger.error('could not emit the ReleaseSafeStateFailed metric', { error: errorMessage(e) });
  }
}

async function safeWork(ctx: ReleaseContext, req: SafeRequest, done: string[]): Promise<SafeResult> {
  const release = req.release ?? {};
  const owner = release.owner ?? req.executionId;
  const actor = release.actor ?? 'release';
  const env = ctx.topology.environment;
  const error = `${req.error?.Error ?? 'unknown error'}: ${causeText(req.error?.Cause)}`;
  let rolledBack = false;
  let restoredCounts = false;
  let stableNotRunning = false;
  let rolledBackByLambda: string | undefined;
  let weights: WeightsByService | undefined;
  let event: 'rolled-back' | 'failed' = 'failed';
  let outcome = 'failed before it had colors; nothing to undo';
  const problems: string[] = [];

  if (release.stable && release.candidate) {
    const { stable, candidate } = release;
    if (release.migrationTaskArn) {
      await call(ctx, 'ecs:StopTask', () =>
        ctx.clients.ecs.send(new StopTaskCommand({ cluster: ctx.topology.clusterName, task: release.migrationTaskArn!, reason: 'release failed' })),
      ).then(
        () => done.push(`migration task ${release.migrationTaskArn} stopped`),
        (e) => logger.warn('could not stop the migration task', { error: errorMessage(e) }),
      );
    }
    const [rules, ecs, marker] = await Promise.all([
      readRules(ctx),
      readEcs(ctx),
      readRollbackMarker(ctx, candidate).catch((e) => {
        problems.push(`could not read the rollback marker of ${candidate}: ${errorMessage(e)}`);
        return undefined;
      }),
    ]);
    weights = Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, rules[s].weights]));
    const now = serviceNamesOf(ctx.topology).map((s) => `${s} ${formatWeights(rules[s].weights)}`).join(', ');
    const moved = serviceNamesOf(ctx.topology).some((s) => rules[s].weights[candidate] > 0);
    const notRunning = serviceNamesOf(ctx.topology).filter((s) => !ecs[s][stable].found || ecs[s][stable].desiredCount === 0);
    const byLambda = rollbackSince(marker, release.startedAt);
    if (byLambda) {
      // Do not fight the rollback Lambda: it moved traffic back and scaled the candidate; whatever changed since is
      // someone else's (an operator's) doing.
      rolledBackByLambda = describeRollback(byLambda, stable);
      event = 'rolled-back';
      outcome = `${rolledBackByLambda}; the safe state did not move traffic again (now ${now})`;
    } else if (moved && notRunning.length > 0) {
      stableNotRunning = true;
      outcome =
        `STABLE COLOR NOT RUNNING: ${stable} has ${notRunning.map((s) => `${s} desired count ${ecs[s][stable].desiredCount}`).join(', ')}; ` +
        `traffic left on ${candidate} (${now}) and ${candidate} left running: sending traffic to ${stable} would be an outage. ` +
        `Bring ${stable} back first (npm run traffic -- scale --color ${stable} --count N --env ${env}), then roll back ` +
        `(npm run traffic -- rollback --to ${stable} --env ${env}); or keep ${candidate} (npm run traffic -- promote --env ${env})`;
    } else if (moved) {
      const r = await rollback(ctx, { to: stable, actor, reason: `release failed (${error}): all traffic back to ${stable}` });
      rolledBack = true;
      event = 'rolled-back';
      weights = r.shift.weightsAfter;
      done.push(`all traffic back on ${stable}`, `${candidate} scaled to 0`);
      outcome = `rolled back: all traffic on ${stable}, ${candidate} scaled to 0`;
    } else {
      if (release.scaledUp && release.candidateCountsBefore) {
        try {
          await scaleColor(ctx, { color: candidate, desiredCount: release.candidateCountsBefore, actor, reason: `release failed before traffic: ${candidate} back to its counts before the release` });
          restoredCounts = true;
          done.push(`${candidate} back to its counts before the release`);
        } catch (e) {
          problems.push(`could not scale ${candidate} back: ${errorMessage(e)}`);
        }
      }
      outcome =
        release.percent === undefined
          ? `failed; no traffic on ${candidate}`
          : release.percent > 0
          ? `failed; ${candidate} had reached ${release.percent}% but all traffic was already back on ${stable} (moved by someone else, not by this release)`
          : 'failed; no traffic had moved';
    }
    await putReleaseRecord(ctx, { executionArn: owner, status: 'failed', stable, candidate, startedAt: release.startedAt });
    done.push('release record: failed');
  }

  let lockReleased = false;
  try {
    await releaseLock(ctx, owner);
    lockReleased = true;
    done.push('lock released');
  } catch (e) {
    if (!(e instanceof LockHeld)) throw e;
    // LockHeld: another execution holds it (this one was refused at the lock); not ours to release.
  }
  // Best effort: a ledger write failing now, after traffic, record and lock are settled, is not a failed safe state.
  await recordBestEffort(ctx, {
    actor,
    event,
    message: `release ${outcome} — ${error}${problems.length ? ` (problems: ${problems.join('; ')})` : ''}`,
    weightsAfter: weights,
    detail: { error: req.error?.Error, rolledBack, restoredCounts, lockReleased, problems, stableNotRunning, rolledBackByLambda },
  }, []);
  if (stableNotRunning) emitSafeStateFailed(ctx, { executionArn: owner, reason: 'stable color not running; traffic left on the candidate' });
  return { rolledBack, restoredCounts, lockReleased, weights, error, ...(stableNotRunning ? { stableNotRunning } : {}), ...(rolledBackByLambda ? { rolledBackByLambda } : {}) };
}

/** The loud end of a safe state that failed: record, ledger, notification and metric, each independently. */
async function safeFailed(ctx: ReleaseContext, req: SafeRequest, e: unknown, done: readonly string[]): Promise<SafeStateFailed> {
  const release = req.release ?? {};
  const owner = release.owner ?? req.executionId;
  const env = ctx.topology.environment;
  const why = errorMessage(e);
  const commands = [
    `npm run traffic -- status --env ${env}`,
    ...(release.stable ? [`put traffic on ${release.stable} by hand: npm run traffic -- rollback --to ${release.stable} --env ${env}`] : []),
    `then clear the release lock: npm run release -- unlock --env ${env}`,
  ];
  const message =
    `SAFE STATE FAILED for ${owner} (release failed with ${req.error?.Error ?? 'unknown error'}): ${why}. ` +
    `Done: ${done.length ? done.join('; ') : 'nothing'}. The release lock is kept so no release starts on a half-rolled-back environment. ` +
    `Finish by hand: ${commands.join(' | ')}`;
  // Only an execution that got past preflight owns the release record (a refused start must not overwrite another's).
  if (release.stable && release.candidate) {
    await putReleaseRecord(ctx, {
      executionArn: owner,
      status: 'safe-failed',
      stable: release.stable,
      candidate: release.candidate,
      startedAt: release.startedAt,
      error: why.slice(0, 2000),
      done: [...done],
    }).catch((re) => logger.error('could not record safe-failed', { error: errorMessage(re) }));
  }
  await recordBestEffort(ctx, { actor: release.actor ?? 'release', event: 'safe-failed', message, detail: { error: why, releaseError: req.error?.Error, done, commands } }, []);
  emitSafeStateFailed(ctx, { executionArn: owner, error: why });
  return new SafeStateFailed(message);
}

/** Errors a release ends with that must never lead to a rollback by the clean-up. */
const HELD_ERRORS = ['ReleaseHeld', 'HoldFailed', 'OperatorOverride'];

/**
 * An execution that ended without reaching its safe state (overall timeout, StopExecution, FAILED without the safe
 * state having run): the same clean-up as the safe state when the release record names that execution as running and
 * no other owner holds the lock; otherwise nothing (a record that says failed, held, succeeded, finish-incomplete or
 * safe-failed is never acted on again).
 */
export async function abandoned(
  ctx: ReleaseContext,
  req: { executionArn: string; status: string; error?: string },
): Promise<SafeResult | HeldCleanup | FinishCleanup | { skipped: string }> {
  const [rec, lock] = await Promise.all([readReleaseRecord(ctx), readLock(ctx)]);
  // Idempotent: a safe state, hold or finish that ran has rewritten the record (failed, held, succeeded), so a FAILED
  // execution whose safe state ran, or a second delivery of the event, changes nothing.
  if (!rec || rec.executionArn !== req.executionArn || (rec.status !== 'running' && rec.status !== 'awaiting-approval')) {
    return { skipped: `release record does not show ${req.executionArn} running (${rec ? `${rec.executionArn}: ${rec.status}` : 'no record'})` };
  }
  // The lock owner is the execution: a newer execution holding the lock (it may not have written its record yet)
  // owns traffic now; this late clean-up must not touch it.
  if (lock && lock.owner !== req.executionArn && !lock.expired) {
    return { skipped: `the release lock is held by ${lock.owner}, not ${req.executionArn}: a newer release owns the environment` };
  }
  // The clean-up acts on that release's services only, as its steps did (handler.ts); a record without them is older
  // than services as data: every service.
  const own = rec.services?.filter((s) => s in ctx.topology.services);
  if (own?.length) ctx = { ...ctx, topology: scopeTopology(ctx.topology, own) };
  // A release that ended Held (its hold step's own writes failed: HoldFailed) stopped for an alarm of the STABLE color
  // or an operator's change: rolling back would put all traffic on the color in alarm (or undo the operator). Finish
  // the hold instead.
  if (req.error && HELD_ERRORS.includes(req.error)) return finishHold(ctx, rec, req);
  // Finish failed: the new color was at 100% and the old one possibly scaled down; never roll back.
  if (req.error === 'FinishIncomplete') return finishIncomplete(ctx, rec, req);
  const ecs = await readEcs(ctx);
  const candidateCountsBefore = Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, 0])) as Record<ServiceName, number>;
  return safe(ctx, {
    executionId: req.executionArn,
    release: {
      owner: req.executionArn,
      stable: rec.stable,
      candidate: rec.candidate,
      actor: 'release-cleanup',
      scaledUp: serviceNamesOf(ctx.topology).some((s) => ecs[s][rec.candidate!].desiredCount > 0),
      candidateCountsBefore,
      startedAt: rec.startedAt,
    },
    error: { Error: `Execution${req.status}`, Cause: `execution ended with status ${req.status}${req.error ? ` (${req.error})` : ''} before reaching its safe state` },
  });
}

export interface HeldCleanup {
  readonly held: true;
  readonly lockReleased: boolean;
  readonly weights: WeightsByService;
}

/** What the hold step would have left: record held, traffic untouched, the lock released if still this execution's, a notification. */
async function finishHold(ctx: ReleaseContext, rec: ReleaseRecord, req: { executionArn: string; error?: string }): Promise<HeldCleanup> {
  const { rules, weights, lockReleased } = await markHeld(ctx, req.executionArn, rec.stable, rec.candidate, rec.startedAt);
  const env = ctx.topology.environment;
  await record(ctx, {
    actor: 'release-cleanup',
    event: 'held',
    message:
      `release ${req.executionArn} ended ${req.error} (held because ${heldWhy(req.error, rec.stable)}); traffic left where it is ` +
      `(${serviceNamesOf(ctx.topology).map((s) => `${s} ${formatWeights(rules[s].weights)}`).join(', ')}), lock ${lockReleased ? 'released' : 'not held by this release'}. ` +
      `Decide: npm run traffic -- status --env ${env} | promote ${rec.candidate}: npm run traffic -- promote --env ${env} | ` +
      `roll back: npm run traffic -- rollback --to ${rec.stable} --env ${env}`,
    weightsAfter: weights,
    detail: { error: req.error, lockReleased },
  });
  return { held: true, lockReleased, weights };
}

export interface FinishCleanup {
  readonly finishIncomplete: true;
  readonly lockReleased: boolean;
  readonly weights: WeightsByService;
}

/**
 * A release that failed in Finish without recording it: traffic and counts are read and reported, never changed;
 * the record says finish-incomplete; the lock is released if still this execution's.
 */
async function finishIncomplete(ctx: ReleaseContext, rec: ReleaseRecord, req: { executionArn: string; error?: string }): Promise<FinishCleanup> {
  const env = ctx.topology.environment;
  const [rules, ecs] = await Promise.all([readRules(ctx), readEcs(ctx)]);
  const weights: WeightsByService = Object.fromEntries(serviceNamesOf(ctx.topology).map((s) => [s, rules[s].weights]));
  // As finish() records it: the live color as `stable`, the one to scale down as `candidate` (`npm run release --
  // status` tells the operator to scale `candidate` to 0: never the live color). Past Finish the live color is normally
  // the new one (rec.candidate), unless a rollback took traffic back: the weights decide.
  const live = allTrafficOn(weights) ?? rec.candidate!;
  await putReleaseRecord(ctx, { executionArn: req.executionArn, status: 'finish-incomplete', stable: live, candidate: otherColor(live), startedAt: rec.startedAt, error: req.error });
  let lockReleased = false;
  try {
    await releaseLock(ctx, req.executionArn);
    lockReleased = true;
  } catch (e) {
    if (!(e instanceof LockHeld)) throw e;
  }
  const counts = serviceNamesOf(ctx.topology).map((s) => `${s} ${rec.stable} ${ecs[s][rec.stable!].desiredCount} / ${rec.candidate} ${ecs[s][rec.candidate!].desiredCount}`).join(', ');
  await record(ctx, {
    actor: 'release-cleanup',
    event: 'finish-incomplete',
    message:
      `release ${req.executionArn} failed in Finish (after its rollback window); nothing moved or scaled by this clean-up: ` +
      `traffic ${serviceNamesOf(ctx.topology).map((s) => `${s} ${formatWeights(rules[s].weights)}`).join(', ')}; desired counts ${counts}; lock ${lockReleased ? 'released' : 'not held by this release'}. ` +
      `Finish by hand: npm run traffic -- status --env ${env} | keep ${live}: npm run traffic -- scale --color ${otherColor(live)} --count 0 --env ${env} | ` +
      `roll back (only while ${otherColor(live)} runs): npm run traffic -- rollback --to ${otherColor(live)} --env ${env}`,
    weightsAfter: weights,
    detail: { error: req.error, lockReleased },
  });
  return { finishIncomplete: true, lockReleased, weights };
}

function causeText(cause: unknown): string {
  if (typeof cause !== 'string') return JSON.stringify(cause ?? '');
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // plain text cause
  }
  return cause;
}

