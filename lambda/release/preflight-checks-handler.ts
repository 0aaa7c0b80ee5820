/**
 * Release preflight checks Lambda: the PreflightChecks Task of the release state machine,
 * `{ "step": "preflightChecks", "release": {...} }`, and nothing else. A separate function from the release handler so
 * that only it bundles the ECR and ACM clients and holds their (read-only) permissions; it constructs just ECR, ACM,
 * DynamoDB (ledger) and SNS (notification).
 *
 * Environment: TOPOLOGY_TABLE and TOPOLOGY_VERSION (lambda/shared/topology-store.ts), IMAGE_REPOSITORIES,
 * CERTIFICATE_ARNS, IMAGE_SCAN (optional).
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECRClient } from '@aws-sdk/client-ecr';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Topology } from '../shared/topology';
import { topologyLoader } from '../shared/topology-store';
import { clientConfig, type ClientOptions } from '../traffic/client-config';
import type { ContextWith } from '../traffic/context';
import { createSnsClient } from '../traffic/notification-clients';
import { InvalidStepInput } from './errors';
import { preflightChecks, type PreflightCheckSettings, preflightCheckSettingsFromEnv } from './preflight-checks';
import { validateReleaseState } from './validate';

export interface PreflightChecksClients {
  readonly ecr: ECRClient;
  readonly acm: ACMClient;
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
}

export function createPreflightChecksClients(options: ClientOptions = {}): PreflightChecksClients {
  const config = clientConfig(options);
  return { ecr: new ECRClient(config), acm: new ACMClient(config), dynamodb: new DynamoDBClient(config), sns: createSnsClient(options) };
}

/** Builds the step runner for given clients and configuration (the Lambda's module scope; tests in-process). */
export function createPreflightChecksHandler(deps: {
  clients: PreflightChecksClients;
  topology: () => Topology | Promise<Topology>;
  settings: () => PreflightCheckSettings;
  retry?: ContextWith<'dynamodb'>['retry'];
  now?: () => Date;
}): (event: unknown) => Promise<unknown> {
  let settings: PreflightCheckSettings | undefined;
  return async (event: unknown) => {
    const e = event as { step?: unknown; release?: unknown } | null;
    if (typeof e !== 'object' || e === null || e.step !== 'preflightChecks') {
      throw new InvalidStepInput(`invalid release step input: the preflight checks handler runs step preflightChecks only, got ${JSON.stringify((e as { step?: unknown } | null)?.step)}`);
    }
    const release = validateReleaseState(e.release);
    const topology = await deps.topology();
    settings ??= deps.settings();
    const { ecr, acm, dynamodb, sns } = deps.clients;
    return preflightChecks({ clients: { dynamodb }, ecr, acm, release: { sns }, topology, settings, retry: deps.retry, now: deps.now }, release);
  };
}

// Created once per execution environment.
const clients = createPreflightChecksClients({ region: process.env.AWS_REGION, maxAttempts: 1 });

export const handler = createPreflightChecksHandler({
  clients,
  topology: topologyLoader({ dynamodb: clients.dynamodb }),
  settings: () => preflightCheckSettingsFromEnv(process.env),
});
