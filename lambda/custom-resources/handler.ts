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
import { clientConfig, type ClientOptions, type RequestBounds } from '../traffic/client-config';
import { type CfnEvent, type CfnResult, type Deadline, refuseAbandonedCalls, respond } from './cfn';

export { type Deadline, failureReason, RESPONSE_MARGIN_MS } from './cfn';
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

export type { RequestBounds } from '../traffic/client-config';

/**
 * Per-request bounds of every AWS call: one stalled connection or response must not eat the whole
 * Lambda budget (the SDK's default has no request timeout). Each call is retried by withRetry, so a
 * timed-out attempt is retried (TimeoutError is transient) within the deadline below.
 */
export const REQUEST_HANDLER: RequestBounds = { connectionTimeout: 3_000, requestTimeout: 10_000, socketTimeout: 10_000 };

/** Only the clients the custom resources call (no CloudWatch, Step Functions or SNS in this bundle). */
export function createCustomResourceClients(
  options: ClientOptions = {},
  bounds: RequestBounds = REQUEST_HANDLER,
): CustomResourceClients {
  const config = clientConfig({ ...options, requestBounds: bounds });
  const clients = {
    elbv2: new ElasticLoadBalancingV2Client(config),
    ecs: new ECSClient(config),
    autoscaling: new ApplicationAutoScalingClient(config),
    dynamodb: new DynamoDBClient(config),
  };
  for (const c of Object.values(clients)) refuseAbandonedCalls(c);
  return clients;
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
 * Runs the request and reports its outcome exactly once, FAILED shortly before the Lambda deadline if the work has not
 * finished (cfn.ts `respond`).
 */
export async function handle(
  event: CfnEvent,
  c: CustomResourceClients,
  put?: (url: string, body: string) => Promise<void>,
  deadline?: Deadline,
): Promise<void> {
  await respond(event, () => dispatch(event, c), { put, deadline });
}

export async function handler(event: CfnEvent, context: Context): Promise<void> {
  await handle(event, clients, undefined, context);
}
