/**
 * The canary judge: new color against stable color of each service in the release, on the same load over the same
 * window. Pure (metric series in, verdict out); the gate queries CloudWatch and acts on the verdict.
 *
 * INTERFACE FIXED BY THE LEAD (shared by the judge core and the gate integration); the implementation is a placeholder.
 */
import type { JudgeSettings } from '../../config/types';

export type { JudgeSettings };

/** One color of one service over the look's window, one entry per minute as GetMetricData returns it (oldest first). */
export interface ColorSeries {
  /** Requests per minute (ALB RequestCount of the color's target group). */
  readonly requests: readonly number[];
  /** Failed requests per minute: requests the targets did not answer with 2XX/3XX/4XX (includes ELB 502/503/504). */
  readonly errors: readonly number[];
  /** p99 of TargetResponseTime per minute, seconds; undefined for a minute without data. */
  readonly p99Seconds: readonly (number | undefined)[];
}

export interface ServiceSeries {
  readonly service: string;
  readonly candidate: ColorSeries;
  readonly stable: ColorSeries;
}

/** Which look this is: the n-th gate of the release (1-based) out of at most `maxLooks` (steps × (1 + extensions)). */
export interface JudgeLook {
  readonly look: number;
  readonly maxLooks: number;
}

export type JudgeOutcome = 'pass' | 'fail' | 'inconclusive';

export interface ServiceVerdict {
  readonly service: string;
  readonly outcome: JudgeOutcome;
  /** One line a person reads: why. */
  readonly reason: string;
  /** The numbers behind it (samples, rates, p-values or probabilities, thresholds), flat, for the ledger and status. */
  readonly numbers: Readonly<Record<string, number>>;
}

export interface JudgeVerdict {
  /** fail if any service fails; else inconclusive if any is; else pass. */
  readonly outcome: JudgeOutcome;
  readonly services: readonly ServiceVerdict[];
  /** One line for the notification and `release status`. */
  readonly summary: string;
}

/** Placeholder: replaced by the judge core. */
export function judge(series: readonly ServiceSeries[], settings: JudgeSettings, look: JudgeLook): JudgeVerdict {
  void settings;
  void look;
  const services = series.map((s) => ({ service: s.service, outcome: 'pass' as const, reason: 'placeholder', numbers: {} }));
  return { outcome: 'pass', services, summary: 'placeholder' };
}
