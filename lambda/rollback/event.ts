/**
 * The EventBridge "CloudWatch Alarm State Change" event the rollback Lambda is invoked with, its validation and the
 * metric values in its reasonData. Pure.
 *
 * Real shape (metric alarm):
 *   { "version": "0", "id": "…", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
 *     "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
 *     "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-frontend-green-5xx"],
 *     "detail": { "alarmName": "dev-frontend-green-5xx",
 *                 "state": { "value": "ALARM", "reason": "Threshold Crossed: …", "reasonData": "{\"recentDatapoints\":[12.0],…}",
 *                            "timestamp": "…" },
 *                 "previousState": { "value": "OK", "reason": "…", "timestamp": "…" },
 *                 "configuration": { … } } }
 *
 * Why not Powertools' parser utility: it brings a schema library (zod, tens of KB in every bundle, which must stay under
 * 400 KB) to check a dozen fields; and the rule here is not only "valid or not" but "which problems, all at once", with
 * the reason data kept as text when it is not JSON rather than refusing a rollback over it.
 */
import { Color, COLORS, Topology } from '../shared/topology';
import { InvalidAlarmEvent } from './errors';

export const ALARM_EVENT_SOURCE = 'aws.cloudwatch';
export const ALARM_EVENT_DETAIL_TYPE = 'CloudWatch Alarm State Change';
export const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** What the rollback needs from the event, validated. */
export interface AlarmEvent {
  /** EventBridge event id (absent only in hand-built events). */
  readonly id?: string;
  /** Event time (when the alarm changed state), ISO 8601 as sent. */
  readonly time: string;
  /** Event time in epoch milliseconds. */
  readonly timeMs: number;
  readonly alarmArn: string;
  readonly alarmName: string;
  readonly state: AlarmState;
  readonly previousState: string;
  readonly reason: string;
  readonly metrics: AlarmMetrics;
}

/** Metric values from state.reasonData; fields are absent when the alarm did not report them (e.g. composite alarms). */
export interface AlarmMetrics {
  readonly recentDatapoints?: readonly number[];
  readonly threshold?: number;
  readonly statistic?: string;
  readonly period?: number;
  /** Set when reasonData was given but is not a JSON object: the text as received (at most 500 characters). */
  readonly unparsed?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (JSON.stringify(v) ?? 'undefined').slice(0, 200);

/** Reads the metric values out of reasonData (a JSON string). Never throws: unreadable data is kept as `unparsed`. */
export function parseReasonData(reasonData: string | undefined): AlarmMetrics {
  if (reasonData === undefined || reasonData === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(reasonData);
  } catch {
    return { unparsed: reasonData.slice(0, 500) };
  }
  if (!isObj(doc)) return { unparsed: reasonData.slice(0, 500) };
  const nums = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is number => typeof n === 'number' && Number.isFinite(n)) : undefined);
  const recent = nums(doc.recentDatapoints);
  return {
    ...(recent ? { recentDatapoints: recent } : {}),
    ...(typeof doc.threshold === 'number' ? { threshold: doc.threshold } : {}),
    ...(typeof doc.statistic === 'string' ? { statistic: doc.statistic } : {}),
    ...(typeof doc.period === 'number' ? { period: doc.period } : {}),
  };
}

/**
 * Validates a raw invocation event as a CloudWatch Alarm State Change event. Throws InvalidAlarmEvent listing every
 * problem. Only fields the rollback relies on are checked; unknown extra fields (configuration, account, …) are allowed.
 */
export function parseAlarmEvent(raw: unknown): AlarmEvent {
  const problems: string[] = [];
  if (!isObj(raw)) throw new InvalidAlarmEvent([`event must be a JSON object, got ${show(raw)}`]);
  if (raw.source !== ALARM_EVENT_SOURCE) problems.push(`source must be "${ALARM_EVENT_SOURCE}", got ${show(raw.source)}`);
  if (raw['detail-type'] !== ALARM_EVENT_DETAIL_TYPE) {
    problems.push(`detail-type must be "${ALARM_EVENT_DETAIL_TYPE}", got ${show(raw['detail-type'])}`);
  }
  if (raw.id !== undefined && (typeof raw.id !== 'string' || raw.id === '')) problems.push(`id must be a non-empty string, got ${show(raw.id)}`);
  const timeMs = typeof raw.time === 'string' ? Date.parse(raw.time) : NaN;
  if (!Number.isFinite(timeMs)) problems.push(`time must be an ISO 8601 timestamp, got ${show(raw.time)}`);

  const detail = raw.detail;
  let alarmName: string | undefined;
  let state: AlarmState | undefined;
  let reason: string | undefined;
  let reasonData: string | undefined;
  let previousState: string | undefined;
  if (!isObj(detail)) {
    problems.push(`detail must be an object, got ${show(detail)}`);
  } else {
    if (typeof detail.alarmName !== 'string' || detail.alarmName.trim() === '') {
      problems.push(`detail.alarmName must be a non-empty string, got ${show(detail.alarmName)}`);
    } else {
      alarmName = detail.alarmName;
    }
    const st = detail.state;
    if (!isObj(st)) {
      problems.push(`detail.state must be an object, got ${show(st)}`);
    } else {
      if (!ALARM_STATES.includes(st.value as AlarmState)) {
        problems.push(`detail.state.value must be one of ${ALARM_STATES.join(', ')}, got ${show(st.value)}`);
      } else {
        state = st.value as AlarmState;
      }
      if (typeof st.reason !== 'string') problems.push(`detail.state.reason must be a string, got ${show(st.reason)}`);
      else reason = st.reason;
      if (st.reasonData !== undefined && typeof st.reasonData !== 'string') {
        problems.push(`detail.state.reasonData must be a JSON string when given, got ${show(st.reasonData)}`);
      } else {
        reasonData = st.reasonData as string | undefined;
      }
    }
    const prev = detail.previousState;
    if (!isObj(prev) || typeof prev.value !== 'string' || prev.value === '') {
      problems.push(`detail.previousState must be an object with a string value, got ${show(prev)}`);
    } else {
      previousState = prev.value;
    }
  }

  const resources = raw.resources;
  let alarmArn: string | undefined;
  if (!Array.isArray(resources) || resources.length !== 1 || typeof resources[0] !== 'string') {
    problems.push(`resources must be [<alarm ARN>], got ${show(resources)}`);
  } else if (!/^arn:aws[a-z-]*:cloudwatch:[^:]+:\d{12}:alarm:.+/.test(resources[0])) {
    problems.push(`resources[0] must be a CloudWatch alarm ARN, got ${show(resources[0])}`);
  } else if (alarmName !== undefined && !resources[0].endsWith(`:alarm:${alarmName}`)) {
    problems.push(`resources[0] (${resources[0]}) is not the ARN of alarm ${show(alarmName)}`);
  } else {
    alarmArn = resources[0];
  }

  if (problems.length > 0) throw new InvalidAlarmEvent(problems);
  return {
    ...(typeof raw.id === 'string' ? { id: raw.id } : {}),
    time: raw.time as string,
    timeMs,
    alarmArn: alarmArn!,
    alarmName: alarmName!,
    state: state!,
    previousState: previousState!,
    reason: reason!,
    metrics: parseReasonData(reasonData),
  };
}

/** The color whose rollback alarms include `alarmName`, or undefined when the alarm is not a rollback alarm. */
export function colorOfAlarm(topology: Topology, alarmName: string): Color | undefined {
  return COLORS.find((c) => topology.rollbackAlarmNames[c].includes(alarmName));
}
