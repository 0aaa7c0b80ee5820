/**
 * Reads a secret's AWSCURRENT value with GetSecretValue, bounded so a stalled call cannot eat the bootstrap's budget.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clientConfig, type ClientOptions } from '../traffic/client-config';
import { refuseAbandonedCalls } from '../custom-resources/cfn';
import type { DatabaseCredentials } from './users';

/** Per-attempt bounds: connect within 3 s, answer within 10 s. */
const REQUEST_BOUNDS = { connectionTimeout: 3_000, requestTimeout: 10_000, socketTimeout: 10_000 };

/** Parses an RDS credentials secret; the error names the secret and the field, never a value. */
export function parseCredentials(secretArn: string, secretString: string): DatabaseCredentials {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(secretString) as Record<string, unknown>;
  } catch {
    throw new Error(`secret ${secretArn} is not JSON`);
  }
  for (const f of ['username', 'password', 'host']) {
    if (typeof v[f] !== 'string' || v[f] === '') throw new Error(`secret ${secretArn} has no ${f}`);
  }
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`secret ${secretArn} has no valid port`);
  return { username: v.username as string, password: v.password as string, host: v.host as string, port };
}

/** The bootstrap's Secrets Manager client: bounded requests, no call after its request was answered at the deadline. */
export function secretsManagerClient(options: ClientOptions = {}): SecretsManagerClient {
  const client = new SecretsManagerClient(clientConfig({ maxAttempts: 3, requestBounds: REQUEST_BOUNDS, ...options }));
  refuseAbandonedCalls(client);
  return client;
}

/** A reader of RDS credentials secrets; its errors name the secret and the AWS error code, never a value. */
export function secretReader(options: ClientOptions = {}, client: SecretsManagerClient = secretsManagerClient(options)): (secretArn: string) => Promise<DatabaseCredentials> {
  return async (secretArn) => {
    let out;
    try {
      out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    } catch (e) {
      const err = e as Error;
      throw new Error(`GetSecretValue ${secretArn}: ${err.name}: ${err.message}`);
    }
    if (!out.SecretString) throw new Error(`secret ${secretArn} has no SecretString`);
    return parseCredentials(secretArn, out.SecretString);
  };
}
