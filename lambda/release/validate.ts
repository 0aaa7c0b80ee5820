/**
 * Validation of the release handler's events: `{ "step": "<name>", ...fields }`. Pure; throws InvalidStepInput naming
 * the field and the bad value before anything is read or changed.
 */
import { COLORS, SERVICE_NAME_PATTERN } from '../shared/topology';
import { InvalidStepInput } from './errors';
import { STRATEGIES, Strategy } from './policy';
import type { GatePhase, ReleaseState } from './steps';
import type { WatchState } from './watch';

export const STEPS = [
  'preflight',
  'backup',
  'migrationStart',
  'migrationCheck',
  'scaleUp',
  'stabilizeCheck',
  'preTraffic',
  'shift',
  'gate',
  'watch',
  'approvalRequest',
  'finish',
  'safe',
  'hold',
  'abandoned',
] as const;
export type StepName = (typeof STEPS)[number];

export type StepEvent =
  | { step: 'preflight'; executionId: string; actor?: string; strategy?: Strategy; force?: boolean; services?: readonly string[] }
  | { step: 'backup' | 'migrationStart' | 'migrationCheck' | 'scaleUp' | 'stabilizeCheck' | 'preTraffic' | 'shift' | 'finish'; release: ReleaseState }
  | { step: 'gate'; release: ReleaseState; phase: GatePhase }
  | { step: 'watch'; release: ReleaseState; watch: WatchState }
  | { step: 'approvalRequest'; release: ReleaseState; token: string }
  | { step: 'safe'; executionId: string; release: Partial<ReleaseState>; error?: { Error?: string; Cause?: string } }
  | { step: 'hold'; executionId: string; release: ReleaseState; error?: { Error?: string; Cause?: string } }
  | { step: 'abandoned'; executionArn: string; status: string; error?: string };

const FIELDS: Record<StepName, string[]> = {
  preflight: ['executionId', 'input'],
  backup: ['release'],
  migrationStart: ['release'],
  migrationCheck: ['release'],
  scaleUp: ['release'],
  stabilizeCheck: ['release'],
  preTraffic: ['release'],
  shift: ['release'],
  gate: ['release', 'phase'],
  watch: ['release', 'watch'],
  approvalRequest: ['release', 'token'],
  finish: ['release'],
  safe: ['executionId', 'release', 'error'],
  hold: ['executionId', 'release', 'error'],
  abandoned: ['executionArn', 'status', 'error'],
};

function bad(field: string, value: unknown, expected: string): never {
  throw new InvalidStepInput(`invalid release step input: ${field} must be ${expected}, got ${JSON.stringify(value) ?? 'undefined'}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, field: string, max = 2048): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) bad(field, v, `a non-empty string (at most ${max} characters)`);
  return v;
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(field, v, `an integer ${min}–${max}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) bad(field, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

function isoTime(v: unknown, field: string): string {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) bad(field, v, 'an ISO 8601 time');
  return v;
}

/** A non-empty list of distinct service names. */
function serviceList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || !SERVICE_NAME_PATTERN.test(s)) || new Set(v).size !== v.length) {
    bad(field, v, `a non-empty list of distinct service names (${SERVICE_NAME_PATTERN})`);
  }
  return v as string[];
}

/** Checks a full release state as produced by preflight and carried by the state machine. */
export function validateReleaseState(v: unknown, field = 'release'): ReleaseState {
  if (!isObject(v)) bad(field, v, 'an object (the release state from preflight)');
  text(v.owner, `${field}.owner`);
  text(v.environment, `${field}.environment`, 64);
  text(v.actor, `${field}.actor`, 512);
  oneOf(v.strategy, `${field}.strategy`, STRATEGIES);
  const stable = oneOf(v.stable, `${field}.stable`, COLORS);
  const candidate = oneOf(v.candidate, `${field}.candidate`, COLORS);
  if (stable === candidate) bad(`${field}.candidate`, candidate, `the other color than stable (${stable})`);
  text(v.fromVersion, `${field}.fromVersion`);
  text(v.toVersion, `${field}.toVersion`);
  const steps = v.steps;
  if (
    !Array.isArray(steps) ||
    steps.length === 0 ||
    steps.some((s, i) => typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 100 || (i > 0 && s <= (steps[i - 1] as number))) ||
    steps[steps.length - 1] !== 100
  ) {
    bad(`${field}.steps`, steps, 'strictly increasing whole percents 1–100 ending at 100');
  }
  int(v.stepIndex, `${field}.stepIndex`, 0, steps.length);
  int(v.percent, `${field}.percent`, 0, 100);
  if (typeof v.approval !== 'boolean') bad(`${field}.approval`, v.approval, 'a boolean');
  if (typeof v.awaitApproval !== 'boolean') bad(`${field}.awaitApproval`, v.awaitApproval, 'a boolean');
  if (typeof v.scaledUp !== 'boolean') bad(`${field}.scaledUp`, v.scaledUp, 'a boolean');
  const counts = v.candidateCountsBefore;
  if (!isObject(counts)) bad(`${field}.candidateCountsBefore`, counts, 'an object of desired counts per service');
  else {
    if (Object.keys(counts).length === 0) bad(`${field}.candidateCountsBefore`, counts, 'at least one service');
    for (const [s, n] of Object.entries(counts)) {
      if (!SERVICE_NAME_PATTERN.test(s)) bad(`${field}.candidateCountsBefore`, s, `service names (${SERVICE_NAME_PATTERN})`);
      int(n, `${field}.candidateCountsBefore.${s}`, 0, 1000);
    }
  }
  if (v.snapshotId !== undefined) text(v.snapshotId, `${field}.snapshotId`, 255);
  if (v.migrationTaskArn !== undefined) text(v.migrationTaskArn, `${field}.migrationTaskArn`);
  if (v.migrationSkipped !== undefined && typeof v.migrationSkipped !== 'boolean') bad(`${field}.migrationSkipped`, v.migrationSkipped, 'a boolean');
  serviceList(v.services, `${field}.services`);
  if (v.deadline !== undefined) isoTime(v.deadline, `${field}.deadline`);
  if (v.shiftedAt !== undefined) isoTime(v.shiftedAt, `${field}.shiftedAt`);
  if (v.judgeLooks !== undefined) int(v.judgeLooks, `${field}.judgeLooks`, 0, 10_000);
  if (v.extensions !== undefined) int(v.extensions, `${field}.extensions`, 0, 1000);
  if (v.extend !== undefined && typeof v.extend !== 'boolean') bad(`${field}.extend`, v.extend, 'a boolean');
  isoTime(v.startedAt, `${field}.startedAt`);
  return v as unknown as ReleaseState;
}

/** Validates a raw event into a StepEvent. */
export function validateStepEvent(event: unknown): StepEvent {
  if (!isObject(event)) bad('event', event, 'a JSON object');
  const step = oneOf(event.step, 'step', STEPS);
  for (const key of Object.keys(event)) {
    if (key !== 'step' && !FIELDS[step].includes(key)) bad(key, event[key], `absent (not a field of the ${step} step)`);
  }
  switch (step) {
    case 'preflight': {
      const executionId = text(event.executionId, 'executionId');
      const input = event.input ?? {};
      if (!isObject(input)) bad('input', input, 'the execution input object ({"strategy"?, "actor"?, "force"?, "services"?})');
      for (const key of Object.keys(input)) {
        if (!['strategy', 'actor', 'force', 'services'].includes(key)) bad(`input.${key}`, input[key], 'absent (the execution input takes strategy, actor, force and services only)');
      }
      if (input.force !== undefined && typeof input.force !== 'boolean') bad('input.force', input.force, 'a boolean (release a downgrade on purpose)');
      return {
        step,
        executionId,
        ...(input.actor !== undefined ? { actor: text(input.actor, 'input.actor', 512) } : {}),
        ...(input.strategy !== undefined ? { strategy: oneOf(input.strategy, 'input.strategy', STRATEGIES) } : {}),
        ...(input.force === true ? { force: true } : {}),
        ...(input.services !== undefined ? { services: serviceList(input.services, 'input.services') } : {}),
      };
    }
    case 'gate':
      return { step, release: validateReleaseState(event.release), phase: oneOf(event.phase, 'phase', ['bake', 'final', 'window'] as const) };
    case 'watch': {
      const w = event.watch;
      if (!isObject(w)) bad('watch', w, 'the bake loop state');
      isoTime(w.since, 'watch.since');
      for (const [k, max] of [['seconds', 86400], ['percent', 100], ['polls', 100], ['strikes', 100]] as const) int(w[k], `watch.${k}`, 0, max);
      return { step, release: validateReleaseState(event.release), watch: w as unknown as WatchState };
    }
    case 'approvalRequest':
      return { step, release: validateReleaseState(event.release), token: text(event.token, 'token', 8192) };
    case 'safe': {
      const executionId = text(event.executionId, 'executionId');
      const release = event.release ?? {};
      if (!isObject(release)) bad('release', release, 'an object (possibly empty when preflight failed)');
      const error = event.error;
      if (error !== undefined && !isObject(error)) bad('error', error, 'the caught error {Error, Cause}');
      if (release.stable !== undefined || release.candidate !== undefined) validateReleaseState(release);
      return { step, executionId, release: release as Partial<ReleaseState>, ...(error ? { error: error as { Error?: string; Cause?: string } } : {}) };
    }
    case 'hold': {
      const executionId = text(event.executionId, 'executionId');
      const error = event.error;
      if (error !== undefined && !isObject(error)) bad('error', error, 'the caught error {Error, Cause}');
      return { step, executionId, release: validateReleaseState(event.release), ...(error ? { error: error as { Error?: string; Cause?: string } } : {}) };
    }
    case 'abandoned': {
      // The execution's error name (EventBridge gives null, or an empty string, when there is none).
      const error = typeof event.error === 'string' && event.error !== '' && event.error !== 'null' ? event.error : undefined;
      return { step, executionArn: text(event.executionArn, 'executionArn'), status: oneOf(event.status, 'status', ['TIMED_OUT', 'ABORTED', 'FAILED'] as const), ...(error ? { error } : {}) };
    }
    default:
      return { step, release: validateReleaseState(event.release) };
  }
}
