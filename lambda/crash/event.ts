/**
 * The EventBridge "ECS Task State Change" event the crash detector is invoked with, and what counts as a crash. Pure.
 *
 * Shape (fields used; ECS may add others, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html):
 *   { "id": "…", "detail-type": "ECS Task State Change", "source": "aws.ecs", "time": "…",
 *     "detail": { "clusterArn": "…", "group": "service:<ECS service name>", "taskArn": "…", "lastStatus": "STOPPED",
 *                 "stopCode": "EssentialContainerExited" | "TaskFailedToStart" | "ServiceSchedulerInitiated" | …,
 *                 "stoppedReason": "…", "stoppedAt": "…", "startedAt": "…", "version": 5,
 *                 "containers": [{ "name": "…", "exitCode": 1, "reason": "…" }] } }
 *
 * A crash is a task that stopped on its own: an essential container exited non-zero (or without an exit code: killed,
 * out of memory), the task failed its container or load balancer health checks, or it failed to start. Not a crash:
 * a task stopped by a person (UserInitiated), by the service scheduler for a deployment or scale-in — including the
 * rollback's own scale-down of the failed color, whose containers exit 143 on SIGTERM — or by a Spot interruption.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html
 */
import { Color, COLORS, ServiceName, serviceNamesOf, Topology } from '../shared/topology';

export const TASK_EVENT_SOURCE = 'aws.ecs';
export const TASK_EVENT_DETAIL_TYPE = 'ECS Task State Change';
/** Stop codes that mean the task itself failed. */
export const CRASH_STOP_CODES = ['EssentialContainerExited', 'TaskFailedToStart'] as const;
/** Start of the stoppedReason of a task stopped for failed container or ELB health checks (stop code ServiceSchedulerInitiated). */
export const HEALTH_CHECK_STOP_PREFIX = 'Task failed';

/** A task stop, validated. */
export interface TaskStop {
  /** EventBridge event id (a redelivery repeats it). */
  readonly eventId: string;
  readonly taskArn: string;
  /** Last segment of the task ARN: the crash's identity (one task crashes once, however often its event comes). */
  readonly taskId: string;
  readonly group: string;
  /** When the task stopped (stoppedAt, else the event time), epoch ms: windows are on this, never on arrival. */
  readonly stoppedAtMs: number;
  readonly stoppedAt: string;
  /** Why it is a crash, or undefined when it is not one. */
  readonly crash?: string;
  readonly stopCode?: string;
  readonly stoppedReason?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Why `detail` (a STOPPED task) is a crash, or undefined. */
export function crashReason(detail: Obj): string | undefined {
  if (detail.lastStatus !== 'STOPPED') return undefined;
  const reason = str(detail.stoppedReason) ?? '';
  if (detail.stopCode === 'TaskFailedToStart') return `failed to start: ${reason}`;
  if (reason.startsWith(HEALTH_CHECK_STOP_PREFIX)) return reason;
  if (detail.stopCode !== 'EssentialContainerExited') return undefined;
  const containers = Array.isArray(detail.containers) ? detail.containers.filter(isObj) : [];
  const bad = containers.filter((c) => c.exitCode !== 0 && (c.exitCode !== undefined || c.reason !== undefined));
  if (bad.length === 0) return undefined;
  return `essential container exited: ${bad.map((c) => `${c.name} exit ${c.exitCode ?? 'none'} ${c.reason ?? ''}`).join(', ')}`;
}

/** Validates an ECS Task State Change event (what the rule matches); throws when it is not one. */
export function parseTaskEvent(raw: unknown): TaskStop {
  const d = isObj(raw) && raw.source === TASK_EVENT_SOURCE && raw['detail-type'] === TASK_EVENT_DETAIL_TYPE && isObj(raw.detail) ? raw.detail : undefined;
  const taskArn = str(d?.taskArn);
  const stoppedAt = str(d?.stoppedAt) ?? str((raw as Obj)?.time);
  const stoppedAtMs = stoppedAt ? Date.parse(stoppedAt) : NaN;
  if (!d || !taskArn || !Number.isFinite(stoppedAtMs)) {
    throw new Error('not an ECS Task State Change event with a task ARN and stop time');
  }
  return {
    eventId: str((raw as Obj).id) ?? taskArn,
    taskArn,
    taskId: taskArn.split('/').pop()!,
    group: str(d.group) ?? '',
    stoppedAtMs,
    stoppedAt: new Date(stoppedAtMs).toISOString(),
    crash: crashReason(d),
    stopCode: str(d.stopCode),
    stoppedReason: str(d.stoppedReason),
  };
}

/** The service and color whose ECS service ran the task (group `service:<name>`), or undefined (a migration task, another cluster's). */
export function colorOfGroup(topology: Topology, group: string): { service: ServiceName; color: Color } | undefined {
  if (!group.startsWith('service:')) return undefined;
  const name = group.slice('service:'.length);
  for (const service of serviceNamesOf(topology)) {
    for (const color of COLORS) if (topology.services[service].colors[color].serviceName === name) return { service, color };
  }
  return undefined;
}

/**
 * Whether the crashes (stop times in ms, one per task) include `tasks` within `windowMs` of each other in a window that
 * contains `atMs`: sliding, on stop times, so events that arrive late or out of order count where they happened.
 */
export function thresholdReached(stopTimesMs: readonly number[], atMs: number, tasks: number, windowMs: number): boolean {
  const t = [...stopTimesMs].sort((a, b) => a - b);
  for (let i = 0; i + tasks - 1 < t.length; i++) {
    const first = t[i];
    const last = t[i + tasks - 1];
    if (last - first <= windowMs && first <= atMs && atMs <= last) return true;
  }
  return false;
}
