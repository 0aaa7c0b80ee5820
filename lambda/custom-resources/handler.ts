/**
 * The traffic stack's custom resources, in one bundle: Custom::WeightedListenerRule,
 * Custom::LiveImageGuard, Custom::ServiceCounts, Custom::TopologyDocument. The handler only dispatches and reports to
 * CloudFormation; each resource's logic is in its own module.
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
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

/** Only the clients the custom resources call (no CloudWatch, Step Functions or SNS in this bundle). */
export function createCustomResourceClients(options: ClientOptions = {}): CustomResourceClients {
  const config = clientConfig(options);
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
      return handleImageGuard(event, c.elbv2);
    case 'Custom::ServiceCounts':
      return handleServiceCounts(event, c);
    case 'Custom::TopologyDocument':
      return handleTopologyDocument(event, c.dynamodb);
    default:
      throw new Error(`unknown custom resource type ${event.ResourceType}`);
  }
}

/**
 * Runs the request and reports its outcome exactly once. A failure to upload a SUCCESS response is not
 * turned into a FAILED one: that would report `failed-<RequestId>` for a resource that was made, so
 * CloudFormation would never delete it (e.g. a rule left holding its priority).
 */
export async function handle(event: CfnEvent, c: CustomResourceClients, put?: (url: string, body: string) => Promise<void>): Promise<void> {
  logger.info('custom resource request', { requestType: event.RequestType, resourceType: event.ResourceType, logicalId: event.LogicalResourceId });
  let outcome: Parameters<typeof sendResponse>[1];
  try {
    outcome = { status: 'SUCCESS', result: await dispatch(event, c) };
  } catch (e) {
    const reason = (e as Error)?.message ?? String(e);
    logger.error('custom resource failed', { resourceType: event.ResourceType, error: e as Error });
    // A failed Create has no physical resource yet; reporting the request ID keeps CloudFormation from
    // deleting something this handler never made during the rollback.
    const physicalResourceId = event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId;
    outcome = { status: 'FAILED', reason, physicalResourceId };
  }
  await sendResponse(event, outcome, put);
}

export async function handler(event: CfnEvent): Promise<void> {
  await handle(event, clients);
}
