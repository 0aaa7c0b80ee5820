/**
 * Creates the traffic core's SDK clients, configured by `clientConfig` (./client-config.ts, the one place that knows
 * how a client is configured), for the Lambda handlers (module scope, default credentials chain), the CLI (optional
 * profile/region/endpoint) and tests (endpoint = local moto, dummy credentials).
 *
 * Clients are created per need: a handler bundles every client it constructs, so each factory builds one small set.
 *   - `createClients`: the traffic core's five clients (this file);
 *   - `createNotificationClients` / `createSnsClient`: Step Functions and SNS (./notification-clients.ts, rollback and
 *     release only);
 *   - `createCustomResourceClients` (lambda/custom-resources/handler.ts): ELBv2, ECS, Application Auto Scaling;
 *   - `createBackupClients` (lambda/release/backup-handler.ts): RDS, DynamoDB, SNS.
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { clientConfig, type ClientOptions } from './client-config';

/** The SDK clients the traffic core needs. Everything in lambda/traffic receives these; nothing creates its own. */
export interface TrafficClients {
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly ecs: ECSClient;
  /** The plain DynamoDB client; items are converted by ./dynamo-items.ts. */
  readonly dynamodb: DynamoDBClient;
  readonly cloudwatch: CloudWatchClient;
  readonly autoscaling: ApplicationAutoScalingClient;
}

export { clientConfig, type ClientOptions } from './client-config';

/** The traffic core's clients (switch, release, rollback handlers; CLI; tests). No Step Functions or SNS client. */
export function createClients(options: ClientOptions = {}): TrafficClients {
  const config = clientConfig(options);
  return {
    elbv2: new ElasticLoadBalancingV2Client(config),
    ecs: new ECSClient(config),
    dynamodb: new DynamoDBClient(config),
    cloudwatch: new CloudWatchClient(config),
    autoscaling: new ApplicationAutoScalingClient(config),
  };
}

/** Releases sockets of every client of a set, whichever factory made it (CLI exit, test teardown). */
export function destroyClients(clients: object): void {
  for (const client of Object.values(clients) as unknown[]) {
    if (client && typeof (client as { destroy?: unknown }).destroy === 'function') (client as { destroy(): void }).destroy();
  }
}
