/**
 * The traffic stack's custom resources, in one bundle: Custom::WeightedListenerRule,
 * Custom::LiveImageGuard, Custom::ServiceCounts, Custom::TopologyDocument. The handler only dispatches and reports to
 * CloudFormation; each resource's logic is in its own module.
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Context } from 'aws-lambda';
import { clientConfig, type ClientOptions } from '../traffic/client-config';
import { logger } from '../traffic/logger';
import { type CfnEvent, type CfnResult, sendResponse } from './cfn';
import { handleImageGuard } from './image-guard';
import { handleServiceCounts } from './service-counts';
import { handleTopologyDocument } from './topology-document';
import { handleWeightedRule } from './weighted-rule';

export interface CustomResourceClients {
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly ecs: ECSClient;
  readonly autoscaling: ApplicationAutoScalingClient;
  readonly dynamodb: DynamoDBClient;
}

/** Bounds of one AWS call attempt (@smithy/node-http-handler options). */
export interface RequestBounds {
  readonly connectionTimeout: number;
  readonly requestTimeout: number;
}

/**
 * Per-request bounds of every AWS call: one stalled connection or response must not eat the whole
 * Lambda budget (the SDK's default has no request timeout). Each call is retried by withRetry, so a
 * timed-out attempt is retried (TimeoutError is transient) within the deadline below.
 */
export const REQUEST_HANDLER: RequestBounds = { connectionTimeout: 3_000, requestTimeout: 10_000 };

/** Only the clients the custom resources call (no CloudWatch, Step Functions or SNS in this bundle). */
export function createCustomResourceClients(
  options: ClientOptions = {},
  bounds: RequestBounds = REQUEST_HANDLER,
): CustomResourceClients {
  // Without throwOnRequestTimeout, a request past requestTimeout only logs a warning and keeps waiting.
  const config = { ...clientConfig(options), requestHandler: { ...bounds, throwOnRequestTimeout: true } };
  return {
    elbv2: new ElasticLoadBalancingV2Client(config),
    ecs: new ECSClient(config),
    autoscaling: new ApplicationAutoScalingClient(config),
    dynamodb: new DynamoDBClient(config),
  };
}

const clients = createCustomResourceClients({ region: process.env.AWS_REGION });

export async function dispatch(event: CfnEvent, c: CustomResourceClients): Promise<CfnResult> {
  switch (event.ResourceType) {
    case 'Custom::WeightedListenerRule':
      return handleWeightedRule(event, c.elbv2);
    case 'Custom::LiveImageGuard':
      return handleImageGuard(event, c);
    case 'Custom::ServiceCounts':
      return handleServiceCounts(event, c);
    case 'Custom::TopologyDocument':
      return handleTopologyDocument(event, c.dynamodb);
    default:
      // This handler never made a resource of a type it does not know: deleting one (a type renamed or
      // removed from the template, a Create refused here) has nothing to undo and must not fail the stack.
      if (event.RequestType === 'Delete') return { physicalResourceId: event.PhysicalResourceId };
      throw new Error(`unknown custom resource type ${event.ResourceType}`);
  }
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
 * Runs the request and reports its outcome exactly once. If the work has not finished shortly before
 * the Lambda deadline, FAILED is reported with a clear reason; a late result is then only logged, never
 * sent (CloudFormation takes the first response). A failure to upload a SUCCESS response is not
 * turned into a FAILED one: that would report `failed-<RequestId>` for a resource that was made, so
 * CloudFormation would never delete it (e.g. a rule left holding its priority).
 */
export async function handle(
  event: CfnEvent,
  c: CustomResourceClients,
  put?: (url: string, body: string) => Promise<void>,
  deadline?: Deadline,
): Promise<void> {
  logger.info('custom resource request', { requestType: event.RequestType, resourceType: event.ResourceType, logicalId: event.LogicalResourceId });
  type Outcome = Parameters<typeof sendResponse>[1];
  // A failed Create has no physical resource yet; reporting the request ID keeps CloudFormation from
  // deleting something this handler never made during the rollback.
  const physicalResourceId = event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId;
  const failed = (reason: string): Outcome => ({ status: 'FAILED', reason, physicalResourceId });

  const work: Promise<Outcome> = dispatch(event, c).then(
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

export async function handler(event: CfnEvent, context: Context): Promise<void> {
  await handle(event, clients, undefined, context);
}
