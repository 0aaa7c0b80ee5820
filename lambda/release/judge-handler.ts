/**
 * Release judge Lambda: the Judge Task of the release state machine, `{ "step": "judge", "release": {...} }`, and
 * nothing else (judge-gate.ts). Its own function, so that only it bundles the statistics and the CloudWatch
 * GetMetricData call and holds cloudwatch:GetMetricData (the release handler's bundle is at its size limit); it
 * constructs just CloudWatch, DynamoDB (topology, ledger) and SNS (notification).
 *
 * Environment: TOPOLOGY_TABLE and TOPOLOGY_VERSION (lambda/shared/topology-store.ts), RELEASE_POLICY (its `judge` and
 * `bakeSeconds` are read).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { JudgeSettings } from '../../config/types';
import { scopeTopology, type Topology } from '../shared/topology';
import { topologyLoader } from '../shared/topology-store';
import { attemptBoundMs, clientConfig, type ClientOptions } from '../traffic/client-config';
import type { ContextWith } from '../traffic/context';
import { createSnsClient } from '../traffic/notification-clients';
import { InvalidStepInput } from './errors';
import { type JudgeFunction, judgeStep, type JudgeStepSettings } from './judge-gate';
import { validateReleaseState } from './validate';

export interface JudgeClients {
  readonly cloudwatch: CloudWatchClient;
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
}

/** The judge step's clients only: CloudWatch (GetMetricData), DynamoDB (topology, ledger) and SNS (notification). */
export function createJudgeClients(options: ClientOptions = {}): JudgeClients {
  const config = clientConfig(options);
  return { cloudwatch: new CloudWatchClient(config), dynamodb: new DynamoDBClient(config), sns: createSnsClient(options) };
}

/** Time kept at the end of the step to record the verdict (ledger, notification). */
const STEP_RESERVE_MS = 10_000;

const ON_INCONCLUSIVE: readonly JudgeSettings['onInconclusive'][] = ['pass', 'fail', 'hold'];

/** Reads and checks the judge's settings from RELEASE_POLICY; throws one error listing every problem. */
export function judgeSettingsFromEnv(env: Record<string, string | undefined> = process.env): JudgeStepSettings {
  let policy: { judge?: Partial<JudgeSettings>; bakeSeconds?: unknown } | undefined;
  try {
    policy = env.RELEASE_POLICY ? JSON.parse(env.RELEASE_POLICY) : undefined;
  } catch (e) {
    throw new Error(`RELEASE_POLICY is not valid JSON: ${(e as Error).message}`);
  }
  if (!policy || typeof policy !== 'object') throw new Error('RELEASE_POLICY is not set: the judge handler was deployed without its release policy');
  const j = policy.judge ?? {};
  const problems: string[] = [];
  const num = (v: unknown, field: string, ok: (n: number) => boolean, expected: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) problems.push(`RELEASE_POLICY.${field} must be ${expected}, got ${JSON.stringify(v)}`);
  };
  num(j.falseRollbackPercent, 'judge.falseRollbackPercent', (n) => n > 0 && n < 50, 'a percent > 0 and < 50');
  num(j.errorRateMarginPoints, 'judge.errorRateMarginPoints', (n) => n >= 0 && n <= 100, 'percentage points 0–100');
  num(j.latencyMarginPercent, 'judge.latencyMarginPercent', (n) => n >= 0, 'a percent >= 0');
  num(j.minRequests, 'judge.minRequests', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
  num(j.maxExtensions, 'judge.maxExtensions', (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0');
  if (!ON_INCONCLUSIVE.includes(j.onInconclusive as JudgeSettings['onInconclusive'])) {
    problems.push(`RELEASE_POLICY.judge.onInconclusive must be one of ${ON_INCONCLUSIVE.join(', ')}, got ${JSON.stringify(j.onInconclusive)}`);
  }
  num(policy.bakeSeconds, 'bakeSeconds', (n) => Number.isInteger(n) && n >= 0, 'whole seconds >= 0');
  if (problems.length > 0) throw new Error(`judge handler configuration is invalid:\n  - ${problems.join('\n  - ')}`);
  return { judge: j as JudgeSettings, bakeSeconds: policy.bakeSeconds as number };
}

/** Builds the judge step runner for given clients and configuration (the Lambda's module scope; tests in-process). */
export function createJudgeHandler(deps: {
  clients: JudgeClients;
  /** Called on every invocation; the loader keeps its own copy. */
  topology: () => Topology | Promise<Topology>;
  settings: () => JudgeStepSettings;
  retry?: ContextWith<'dynamodb'>['retry'];
  now?: () => Date;
  /** The judge; tests inject one. @default - judge.ts */
  judge?: JudgeFunction;
}): (event: unknown, context?: { getRemainingTimeInMillis?(): number }) => Promise<unknown> {
  let settings: JudgeStepSettings | undefined;
  return async (event: unknown, context?: { getRemainingTimeInMillis?(): number }) => {
    const e = event as { step?: unknown; release?: unknown } | null;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new InvalidStepInput(`invalid release step input: event must be a JSON object, got ${JSON.stringify(event)}`);
    if (e.step !== 'judge') throw new InvalidStepInput(`invalid release step input: the judge handler runs step judge only, got ${JSON.stringify(e.step)}`);
    const extra = Object.keys(e).filter((k) => k !== 'step' && k !== 'release');
    if (extra.length > 0) throw new InvalidStepInput(`invalid release step input: ${extra.join(', ')} must be absent (not a field of the judge step)`);
    const release = validateReleaseState(e.release);
    settings ??= deps.settings();
    // The release's services only, as every step of a release (handler.ts).
    const topology = scopeTopology(await deps.topology(), release.services);
    const { cloudwatch, dynamodb, sns } = deps.clients;
    // As the release handler (handler.ts): no retry starts that could not end before the function's timeout, less the
    // time the step needs to record its verdict. A GetMetricData that keeps failing then ends in an inconclusive look
    // (judge-gate.ts) instead of a Sandbox.Timedout, which the state machine would send to the safe state (a rollback).
    const remainingMs = context?.getRemainingTimeInMillis?.();
    const retry = remainingMs === undefined ? deps.retry : { ...deps.retry, deadlineMs: Date.now() + remainingMs - STEP_RESERVE_MS, attemptBoundMs: attemptBoundMs() };
    return judgeStep({ clients: { dynamodb }, cloudwatch, release: { sns }, topology, settings, retry, now: deps.now, judge: deps.judge }, release);
  };
}

// Created once per execution environment.
const clients = createJudgeClients({ region: process.env.AWS_REGION, maxAttempts: 1 });

export const handler = createJudgeHandler({
  clients,
  topology: topologyLoader({ dynamodb: clients.dynamodb }),
  settings: () => judgeSettingsFromEnv(process.env),
});
