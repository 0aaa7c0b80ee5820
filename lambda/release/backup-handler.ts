/**
 * Release backup Lambda: the Backup Task of the release state machine, `{ "step": "backup", "release": {...} }`, and
 * nothing else. A separate function from the release handler so that only it bundles the RDS client and holds the RDS
 * permissions; it constructs just RDS, DynamoDB (ledger) and SNS (notification).
 *
 * Environment: TOPOLOGY_TABLE and TOPOLOGY_VERSION (lambda/shared/topology-store.ts), DATABASE_INSTANCE_ID.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Topology } from '../shared/topology';
import { topologyLoader } from '../shared/topology-store';
import { clientConfig, type ClientOptions } from '../traffic/client-config';
import type { ContextWith } from '../traffic/context';
import { createSnsClient } from '../traffic/notification-clients';
import { backup, BackupSettings, backupSettingsFromEnv } from './backup';
import { InvalidStepInput } from './errors';
import { validateStepEvent } from './validate';

export interface BackupClients {
  readonly rds: RDSClient;
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
}

/** The backup step's clients only: RDS, DynamoDB (ledger) and SNS (notification). */
export function createBackupClients(options: ClientOptions = {}): BackupClients {
  const config = clientConfig(options);
  return { rds: new RDSClient(config), dynamodb: new DynamoDBClient(config), sns: createSnsClient(options) };
}

/** Builds the backup step runner for given clients and configuration (the Lambda's module scope; tests in-process). */
export function createBackupHandler(deps: {
  clients: BackupClients;
  /** Called on every invocation; the loader keeps its own copy. */
  topology: () => Topology | Promise<Topology>;
  settings: () => BackupSettings;
  retry?: ContextWith<'dynamodb'>['retry'];
}): (event: unknown) => Promise<unknown> {
  let settings: BackupSettings | undefined;
  return async (event: unknown) => {
    const e = validateStepEvent(event);
    if (e.step !== 'backup') throw new InvalidStepInput(`invalid release step input: the backup handler runs step backup only, got ${JSON.stringify(e.step)}`);
    const topology = await deps.topology();
    settings ??= deps.settings();
    const { rds, dynamodb, sns } = deps.clients;
    return backup({ clients: { dynamodb }, rds, release: { sns }, topology, settings, retry: deps.retry }, e.release);
  };
}

// Created once per execution environment.
const clients = createBackupClients({ region: process.env.AWS_REGION, maxAttempts: 1 });

export const handler = createBackupHandler({
  clients,
  topology: topologyLoader({ dynamodb: clients.dynamodb }),
  settings: () => backupSettingsFromEnv(process.env),
});
