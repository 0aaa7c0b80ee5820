/**
 * The one place SDK clients are created, for the Lambda handlers (module scope, default credentials chain),
 * the CLI (optional profile/region/endpoint) and tests (endpoint = local moto, dummy credentials).
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The SDK clients the traffic core needs. Everything in lambda/traffic receives these; nothing creates its own. */
export interface TrafficClients {
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly ecs: ECSClient;
  /** A DynamoDBDocumentClient, or a plain DynamoDBClient (wrapped into a document client on use). */
  readonly dynamodb: DynamoDBDocumentClient | DynamoDBClient;
  readonly cloudwatch: CloudWatchClient;
  readonly autoscaling: ApplicationAutoScalingClient;
  /** Step Functions (the rollback Lambda stops the running release execution). Optional: the traffic core never uses it. */
  readonly sfn?: SFNClient;
  /** SNS (release and rollback notifications). Optional: the traffic core never uses it. */
  readonly sns?: SNSClient;
}

/** What `createClients` returns: every client, including the Step Functions and SNS clients. */
export type AllClients = TrafficClients & { readonly sfn: SFNClient; readonly sns: SNSClient };

export interface ClientOptions {
  readonly region?: string;
  /** Custom endpoint for every client (a local moto server in tests). */
  readonly endpoint?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Shared-config profile (CLI --profile). Ignored when explicit credentials are given. */
  readonly profile?: string;
  /**
   * SDK-level attempts per call. Defaults to 1: the core's own retry policy (lambda/traffic/retry.ts) decides what is
   * retried, with backoff and jitter, so retries are not multiplied by the SDK's.
   */
  readonly maxAttempts?: number;
}

/** SDK client config shared by every client (also used by the CLI for its CloudFormation client). */
export function clientConfig(options: ClientOptions = {}) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : options.profile ? { profile: options.profile } : {}),
    maxAttempts: options.maxAttempts ?? 1,
  };
}

export function createClients(options: ClientOptions = {}): AllClients {
  const config = clientConfig(options);
  const ddb = new DynamoDBClient(config);
  return {
    elbv2: new ElasticLoadBalancingV2Client(config),
    ecs: new ECSClient(config),
    dynamodb: DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } }),
    cloudwatch: new CloudWatchClient(config),
    autoscaling: new ApplicationAutoScalingClient(config),
    sfn: new SFNClient(config),
    sns: new SNSClient(config),
  };
}

/** Returns a document client for whichever DynamoDB client was given. */
export function documentClient(client: DynamoDBDocumentClient | DynamoDBClient): DynamoDBDocumentClient {
  if (client instanceof DynamoDBDocumentClient) return client;
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** Releases sockets of every client (CLI exit, test teardown). */
export function destroyClients(clients: TrafficClients): void {
  clients.elbv2.destroy();
  clients.ecs.destroy();
  clients.dynamodb.destroy();
  clients.cloudwatch.destroy();
  clients.autoscaling.destroy();
  clients.sfn?.destroy();
  clients.sns?.destroy();
}
