/**
 * The CloudFormation custom resource protocol, without the CDK Provider framework (one Lambda fewer to
 * secure): parse the request, run a resource handler, PUT the response to the pre-signed URL.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export type CfnEvent = CloudFormationCustomResourceEvent;

export interface CfnResult {
  readonly physicalResourceId: string;
  readonly data?: Record<string, string>;
}

/** Sends the response; CloudFormation waits for it until the resource's ServiceTimeout, so a failure to send is retried. */
export async function sendResponse(
  event: CfnEvent,
  outcome: { status: 'SUCCESS'; result: CfnResult } | { status: 'FAILED'; reason: string; physicalResourceId: string },
  put: (url: string, body: string) => Promise<void> = httpPut,
): Promise<void> {
  const body = JSON.stringify({
    Status: outcome.status,
    // CloudFormation shows at most 4 KB of the reason in stack events.
    Reason: outcome.status === 'FAILED' ? outcome.reason.slice(0, 3500) : 'OK',
    PhysicalResourceId: outcome.status === 'SUCCESS' ? outcome.result.physicalResourceId : outcome.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
    Data: outcome.status === 'SUCCESS' ? outcome.result.data : undefined,
  });
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await put(event.ResponseURL, body);
    } catch (e) {
      lastError = e;
      if (attempt < 3) await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
  throw lastError;
}

/** Bound of one upload attempt: a stalled upload must not outlast the time left for answering (handler.ts). */
export const UPLOAD_TIMEOUT_MS = 3_000;

async function httpPut(url: string, body: string): Promise<void> {
  const res = await fetch(url, {
    method: 'PUT',
    body,
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) },
    signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`response upload failed: HTTP ${res.status}`);
}

/** CloudFormation passes every scalar property as a string; this reads a whole number back. */
export function intProp(value: unknown, name: string, range?: { min?: number; max?: number }): number {
  // Only a number or a string of digits: Number('') and Number(null) are 0, Number(true) is 1.
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw new Error(`property ${name} must be a whole number, got ${JSON.stringify(value)}`);
  const { min, max } = range ?? {};
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    const wanted = max === undefined ? `at least ${min}` : min === undefined ? `at most ${max}` : `${min}–${max}`;
    throw new Error(`property ${name} must be ${wanted}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function stringProp(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`property ${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}
