/**
 * Traffic switch Lambda: validates a small JSON command and calls the traffic core. No traffic logic lives here.
 *
 *   {"command":"status"}
 *   {"command":"shift","to":"green","percent":10,"owner":"...","actor":"...","reason":"...","service?":"frontend"}
 *   {"command":"scale","color":"green","desiredCount":2}   |   {"command":"scale","color":"green","restore":true}
 *   {"command":"rollback","to?":"blue","actor":"...","reason":"..."}
 *   {"command":"lock","owner":"...","ttlSeconds?":900}      |   {"command":"unlock","owner":"..."}
 *
 * Invalid input throws an Error naming the field and the bad value before anything is read or changed. Core errors
 * (GuardRefused, LockHeld, VerifyMismatch, ShiftFailed) are thrown as-is so Step Functions can catch them by name.
 */
import { Color, COLORS, ServiceName, SERVICE_NAME_PATTERN } from '../shared/topology';
import { topologyLoader } from '../shared/topology-store';
import {
  acquireLock,
  createClients,
  releaseLock,
  readState,
  restoreColor,
  rollback,
  scaleColor,
  shift,
  TrafficContext,
} from '../traffic';

export type SwitchCommand =
  | { command: 'status' }
  | { command: 'shift'; to: Color; percent: number; owner: string; actor: string; reason?: string; service?: ServiceName }
  | { command: 'scale'; color: Color; desiredCount: number; actor: string; reason?: string }
  | { command: 'scale'; color: Color; restore: true; actor: string; reason?: string }
  | { command: 'rollback'; to?: Color; actor: string; reason?: string }
  | { command: 'lock'; owner: string; ttlSeconds?: number }
  | { command: 'unlock'; owner: string };

const DEFAULT_ACTOR = 'switch-lambda';

const FIELDS: Record<SwitchCommand['command'], { required: string[]; optional: string[] }> = {
  status: { required: [], optional: [] },
  shift: { required: ['to', 'percent', 'owner'], optional: ['actor', 'reason', 'service'] },
  scale: { required: ['color'], optional: ['desiredCount', 'restore', 'actor', 'reason'] },
  rollback: { required: [], optional: ['to', 'actor', 'reason'] },
  lock: { required: ['owner'], optional: ['ttlSeconds'] },
  unlock: { required: ['owner'], optional: [] },
};

function bad(field: string, value: unknown, expected: string): never {
  throw new Error(`invalid switch command: ${field} must be ${expected}, got ${JSON.stringify(value) ?? 'undefined'}`);
}

function text(o: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = o[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > 512) bad(field, v, 'a non-empty string (at most 512 characters)');
  return v;
}

function oneOf<T extends string>(o: Record<string, unknown>, field: string, allowed: readonly T[], required: boolean): T | undefined {
  const v = o[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !allowed.includes(v as T)) bad(field, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

function serviceName(v: unknown): ServiceName {
  if (typeof v !== 'string' || !SERVICE_NAME_PATTERN.test(v)) bad('service', v, `a service name (${SERVICE_NAME_PATTERN})`);
  return v;
}

function integer(o: Record<string, unknown>, field: string, min: number, max: number): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(field, v, `an integer ${min}–${max}`);
  return v;
}

/** Validates a raw event into a SwitchCommand; throws an Error naming the bad field and value. Pure. */
export function validateCommand(event: unknown): SwitchCommand {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) bad('event', event, 'a JSON object');
  const o = event as Record<string, unknown>;
  const command = oneOf(o, 'command', Object.keys(FIELDS) as SwitchCommand['command'][], true)!;
  const spec = FIELDS[command];
  for (const key of Object.keys(o)) {
    if (key !== 'command' && !spec.required.includes(key) && !spec.optional.includes(key)) {
      bad(key, o[key], `absent (not a field of the ${command} command)`);
    }
  }
  for (const key of spec.required) if (o[key] === undefined) bad(key, undefined, `given for the ${command} command`);
  const actor = text(o, 'actor', false) ?? DEFAULT_ACTOR;
  const reason = text(o, 'reason', false);
  switch (command) {
    case 'status':
      return { command };
    case 'shift':
      return {
        command,
        to: oneOf(o, 'to', COLORS, true)!,
        percent: integer(o, 'percent', 0, 100),
        owner: text(o, 'owner', true)!,
        actor,
        ...(reason !== undefined ? { reason } : {}),
        // Which services exist is the topology's to say (shift refuses an unknown one, listing them).
        ...(o.service !== undefined ? { service: serviceName(o.service) } : {}),
      };
    case 'scale': {
      const color = oneOf(o, 'color', COLORS, true)!;
      const base = { command, color, actor, ...(reason !== undefined ? { reason } : {}) } as const;
      if (o.restore !== undefined) {
        if (o.restore !== true) bad('restore', o.restore, 'true');
        if (o.desiredCount !== undefined) bad('desiredCount', o.desiredCount, 'absent when restore is true');
        return { ...base, restore: true };
      }
      if (o.desiredCount === undefined) bad('desiredCount', undefined, 'given (or restore: true)');
      return { ...base, desiredCount: integer(o, 'desiredCount', 0, 1000) };
    }
    case 'rollback': {
      const to = oneOf(o, 'to', COLORS, false);
      return { command, actor, ...(to ? { to } : {}), ...(reason !== undefined ? { reason } : {}) };
    }
    case 'lock':
      return {
        command,
        owner: text(o, 'owner', true)!,
        ...(o.ttlSeconds !== undefined ? { ttlSeconds: integer(o, 'ttlSeconds', 1, 24 * 3600) } : {}),
      };
    case 'unlock':
      return { command, owner: text(o, 'owner', true)! };
  }
}

/** Maps a validated command onto one core call. */
export async function runCommand(ctx: TrafficContext, cmd: SwitchCommand): Promise<unknown> {
  switch (cmd.command) {
    case 'status':
      return readState(ctx);
    case 'shift':
      return shift(ctx, {
        target: { to: cmd.to, percent: cmd.percent },
        owner: cmd.owner,
        actor: cmd.actor,
        reason: cmd.reason,
        service: cmd.service,
      });
    case 'scale':
      return 'restore' in cmd
        ? restoreColor(ctx, { color: cmd.color, actor: cmd.actor, reason: cmd.reason })
        : scaleColor(ctx, { color: cmd.color, desiredCount: cmd.desiredCount, actor: cmd.actor, reason: cmd.reason });
    case 'rollback':
      return rollback(ctx, { to: cmd.to, actor: cmd.actor, reason: cmd.reason });
    case 'lock':
      return acquireLock(ctx, cmd.owner, { ttlSeconds: cmd.ttlSeconds });
    case 'unlock':
      await releaseLock(ctx, cmd.owner);
      return { released: true };
  }
}

// Created once per execution environment.
const clients = createClients({ region: process.env.AWS_REGION, maxAttempts: 1 });
const loadTopology = topologyLoader({ dynamodb: clients.dynamodb });

export const handler = async (event: unknown): Promise<unknown> => {
  const cmd = validateCommand(event);
  return runCommand({ clients, topology: await loadTopology() }, cmd);
};
