/**
 * Step Functions and SNS clients: what the rollback Lambda (stops the release execution, notifies) and the release
 * Lambda (notifies) need on top of the traffic core's clients. Kept out of `createClients` so that handlers which never
 * notify (switch, custom resources) do not bundle them. Configured by the same `clientConfig` as every other client.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { clientConfig, type ClientOptions } from './client-config';
import { createClients, type TrafficClients } from './clients';

export interface NotificationClients {
  /** Step Functions (the rollback Lambda stops the running release execution). */
  readonly sfn: SFNClient;
  /** SNS (release and rollback notifications). */
  readonly sns: SNSClient;
}

/** The traffic core's clients plus Step Functions and SNS: the rollback Lambda's set. */
export type AllClients = TrafficClients & NotificationClients;

/** An SNS client alone (the release steps publish but never call Step Functions). */
export function createSnsClient(options: ClientOptions = {}): SNSClient {
  return new SNSClient(clientConfig(options));
}

export function createNotificationClients(options: ClientOptions = {}): NotificationClients {
  return { sfn: new SFNClient(clientConfig(options)), sns: createSnsClient(options) };
}

/** `createClients` plus `createNotificationClients`: every client the rollback Lambda uses (and its tests). */
export function createAllClients(options: ClientOptions = {}): AllClients {
  return { ...createClients(options), ...createNotificationClients(options) };
}
