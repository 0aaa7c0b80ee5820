/**
 * Custom::DatabaseUsers: creates the schema owner and the application user before their rotation
 * schedules exist (lib/database-users.ts). Thin: parses the request, wires the clients, reports to
 * CloudFormation; the logic is in users.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Client } from 'pg';
import { type CfnEvent, type CfnResult, type Deadline, respond, stringProp } from '../custom-resources/cfn';
import { secretReader } from './secrets';
import { type DatabaseCredentials, ensureDatabaseUsers, type SqlSession, type UsersClients, type UsersSpec } from './users';

export const logger = new Logger({ serviceName: 'database-users' });

export function parseSpec(props: Record<string, unknown>): UsersSpec {
  return {
    databaseName: stringProp(props.DatabaseName, 'DatabaseName'),
    masterSecretArn: stringProp(props.MasterSecretArn, 'MasterSecretArn'),
    ownerSecretArn: stringProp(props.OwnerSecretArn, 'OwnerSecretArn'),
    appSecretArn: stringProp(props.AppSecretArn, 'AppSecretArn'),
    ownerUsername: stringProp(props.OwnerUsername, 'OwnerUsername'),
    appUsername: stringProp(props.AppUsername, 'AppUsername'),
  };
}

/**
 * TLS with the server certificate verified: the function sets NODE_EXTRA_CA_CERTS to the runtime's
 * Amazon CA bundle, which holds the RDS CAs (https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-certificate-loading);
 * the instance also refuses plain connections (rds.force_ssl).
 */
export async function pgConnect(c: DatabaseCredentials, database: string): Promise<SqlSession> {
  const client = new Client({
    host: c.host,
    port: c.port,
    user: c.username,
    password: c.password,
    database,
    ssl: { rejectUnauthorized: true },
    connectionTimeoutMillis: 10000,
    statement_timeout: 30000,
    application_name: 'database-users-bootstrap',
  });
  await client.connect();
  return { query: (sql, values) => client.query(sql, values as unknown[] | undefined), end: () => client.end() };
}

export async function handleDatabaseUsers(event: CfnEvent, clients: UsersClients): Promise<CfnResult> {
  const spec = parseSpec(event.ResourceProperties);
  const physicalResourceId = `database-users:${spec.databaseName}`;
  // The users hold (or own) the data: deleting this resource, or replacing it, never drops them.
  if (event.RequestType === 'Delete') return { physicalResourceId: event.PhysicalResourceId };
  const outcome = await ensureDatabaseUsers(spec, clients);
  return { physicalResourceId, data: { Created: outcome.created.join(',') } };
}

// Created once per execution environment.
const clients: UsersClients = {
  readSecret: secretReader({ region: process.env.AWS_REGION }),
  connect: pgConnect,
  log: { info: (message, extra) => logger.info(message, extra ?? {}) },
};

export async function handler(event: CfnEvent, context?: Deadline): Promise<void> {
  // Errors name users, secrets and SQLSTATEs, never a password (users.ts, secrets.ts). FAILED shortly before the
  // deadline if a connection or statement stalls, so CloudFormation is not left waiting.
  await respond(event, () => handleDatabaseUsers(event, clients), { deadline: context });
}
