/**
 * The CloudFormation custom resource protocol, without the CDK Provider framework (one Lambda fewer to
 * secure): parse the request, run a resource handler, PUT the response to the pre-signed URL.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { AsyncLocalStorage } from 'node:async_hooks';
import { logger } from '../traffic/logger';

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

/**
 * How long the handler may work before it answers FAILED itself: the Lambda deadline less this margin,
 * which leaves time to upload the response (cfn.ts: at most 3 attempts of 3 s each, 0.6 s apart). Without it, a handler
 * killed by its timeout never answers and CloudFormation waits until the resource's ServiceTimeout.
 */
export const RESPONSE_MARGIN_MS = 10_000;

/** The Lambda invocation's deadline (the Lambda context satisfies it). */
export interface Deadline {
  getRemainingTimeInMillis(): number;
}

/** The FAILED reason: what failed, why, and for AWS errors the error code, so a human can act on it. */
export function failureReason(e: unknown): string {
  const error = e as { name?: string; message?: string; $metadata?: unknown } | undefined;
  const message = error?.message ?? String(e);
  // AWS errors: the code (AccessDeniedException, PriorityInUseException…) says what to fix.
  return error?.$metadata && error.name && !message.startsWith(error.name) ? `${error.name}: ${message}` : message;
}

function timeoutReason(event: CfnEvent, budgetMs: number): string {
  const logs = process.env.AWS_LAMBDA_LOG_GROUP_NAME;
  return (
    `${event.ResourceType} ${event.LogicalResourceId} (${event.RequestType}) did not finish within ${Math.round(budgetMs / 1000)} s, ` +
    `before the function's timeout; nothing more will be done for this request. ` +
    `An AWS API was slow or unreachable: check the function's log${logs ? ` (${logs})` : ''} for the call that stalled, then deploy again.`
  );
}

/**
 * Runs a custom resource request (any of this project's handlers) and reports its outcome exactly once. If the work has not finished shortly before
 * the Lambda deadline, FAILED is reported with a clear reason; a late result is then only logged, never
 * sent (CloudFormation takes the first response). A failure to upload a SUCCESS response is not
 * turned into a FAILED one: that would report `failed-<RequestId>` for a resource that was made, so
 * CloudFormation would never delete it (e.g. a rule left holding its priority).
 */
/** The request a custom resource's work belongs to; aborted once its FAILED answer went out at the deadline. */
const requestScope = new AsyncLocalStorage<AbortSignal>();

/**
 * Refuses any AWS call of work whose request was already answered (FAILED at the deadline). Lambda freezes the
 * execution environment with that work still pending and thaws it for the next request, typically CloudFormation's
 * rollback of the same resource: without this, a late write of the failed update could land after the rollback's.
 * Added to every client of the custom resource handlers.
 */
export function refuseAbandonedCalls(client: { middlewareStack: { add: (m: any, o: any) => void } }): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      if (requestScope.getStore()?.aborted) throw new Error('request already answered FAILED at its deadline: call not sent');
      return next(args);
    },
    { step: 'initialize', name: 'refuseAbandonedCalls' },
  );
}

export async function respond(
  event: CfnEvent,
  run: () => Promise<CfnResult>,
  options: { readonly put?: (url: string, body: string) => Promise<void>; readonly deadline?: Deadline } = {},
): Promise<void> {
  const { put, deadline } = options;
  logger.info('custom resource request', { requestType: event.RequestType, resourceType: event.ResourceType, logicalId: event.LogicalResourceId });
  type Outcome = Parameters<typeof sendResponse>[1];
  // A failed Create has no physical resource yet; reporting the request ID keeps CloudFormation from
  // deleting something this handler never made during the rollback.
  const physicalResourceId = event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId;
  const failed = (reason: string): Outcome => ({ status: 'FAILED', reason, physicalResourceId });

  const abandon = new AbortController();
  const work: Promise<Outcome> = requestScope.run(abandon.signal, run).then(
    (result) => ({ status: 'SUCCESS', result }),
    (e: unknown) => {
      logger.error('custom resource failed', { resourceType: event.ResourceType, error: e as Error });
      return failed(failureReason(e));
    },
  );
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const budgetMs = deadline ? Math.max(deadline.getRemainingTimeInMillis() - RESPONSE_MARGIN_MS, 0) : undefined;
  const outcome =
    budgetMs === undefined
      ? await work
      : await Promise.race([
          work,
          new Promise<Outcome>((resolve) => {
            timer = setTimeout(() => {
              timedOut = true;
              abandon.abort();
              logger.error('custom resource timed out', { resourceType: event.ResourceType, budgetMs });
              resolve(failed(timeoutReason(event, budgetMs)));
            }, budgetMs);
          }),
        ]);
  clearTimeout(timer);
  if (timedOut) {
    // Only logged: the FAILED answer is CloudFormation's; a second response would not be taken anyway.
    void work.then((late) => logger.warn('custom resource finished after its deadline answer; not reported', { status: late.status }));
  }
  await sendResponse(event, outcome, put);
}
