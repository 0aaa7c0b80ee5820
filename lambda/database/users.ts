/**
 * The pure core of `Custom::DatabaseUsers`: makes sure the schema owner and the application user exist
 * with the passwords their secrets hold, and that the application user may use what the owner creates.
 * Receives its clients (secret reader, database connector); decides from what the database reports, then acts.
 *
 * Why it exists: AWS's multi-user rotation function first logs in with the secret's current credentials
 * and then runs `GRANT <current> TO <current>_clone`, so the application user must exist before the first
 * rotation; CloudFormation orders this resource before every rotation schedule.
 * https://github.com/aws-samples/aws-secrets-manager-rotation-lambdas/blob/master/SecretsManagerRDSPostgreSQLRotationMultiUser/lambda_function.py
 *
 * Idempotent: a role that exists is left as it is (its password belongs to rotation from then on); grants
 * are repeated, which PostgreSQL accepts. Never logs or sends a plain password (see scram.ts).
 */
import { scramSha256Verifier } from './scram';

/** The fields of an RDS credentials secret this core reads. */
export interface DatabaseCredentials {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
}

export interface SqlSession {
  query(sql: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

export interface UsersClients {
  /** The AWSCURRENT value of a secret. */
  readSecret(secretArn: string): Promise<DatabaseCredentials>;
  /** A TLS session to `database` as `credentials.username`. */
  connect(credentials: DatabaseCredentials, database: string): Promise<SqlSession>;
  readonly log: { info(message: string, extra?: Record<string, unknown>): void };
  /** @default 5 s between attempts */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface UsersSpec {
  readonly databaseName: string;
  readonly masterSecretArn: string;
  readonly ownerSecretArn: string;
  readonly appSecretArn: string;
  /** Owns the schema's objects; migrations run as this user. */
  readonly ownerUsername: string;
  /** The application's user; rotation alternates it with `<appUsername>_clone`, a member of it. */
  readonly appUsername: string;
}

export interface UsersOutcome {
  readonly created: string[];
  readonly existing: string[];
}

/** The suffix AWS's multi-user rotation function appends to the alternate user. */
export const CLONE_SUFFIX = '_clone';

/** DML only: the application never changes the schema. */
const TABLE_PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE';
const SEQUENCE_PRIVILEGES = 'USAGE, SELECT, UPDATE';
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** invalid_password: a rotation changed the password between our read of the secret and the login. */
const INVALID_PASSWORD = '28P01';
const ATTEMPTS = 3;

function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`${JSON.stringify(name)} is not a lower-case PostgreSQL identifier`);
  return `"${name}"`;
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Statements run as the master user: roles, then database and schema privileges. */
export function masterStatements(spec: UsersSpec, create: readonly { username: string; password: string }[], salt?: Buffer): string[] {
  const [db, owner, app] = [ident(spec.databaseName), ident(spec.ownerUsername), ident(spec.appUsername)];
  return [
    // The plain password is never part of the statement (scram.ts).
    ...create.map((r) => `CREATE ROLE ${ident(r.username)} WITH LOGIN PASSWORD ${literal(scramSha256Verifier(r.password, salt))}`),
    // Before PostgreSQL 15 every role may create objects in schema public; only the owner may.
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
    `GRANT CONNECT ON DATABASE ${db} TO ${owner}, ${app}`,
    `GRANT USAGE, CREATE ON SCHEMA public TO ${owner}`,
    `GRANT USAGE ON SCHEMA public TO ${app}`,
  ];
}

/**
 * Statements run as the schema owner: a role may always set its own default privileges, so the master
 * needs no membership in the owner. Grants go to the application user, which its `_clone` inherits.
 */
export function ownerStatements(spec: UsersSpec): string[] {
  const app = ident(spec.appUsername);
  return [
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${TABLE_PRIVILEGES} ON TABLES TO ${app}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${SEQUENCE_PRIVILEGES} ON SEQUENCES TO ${app}`,
    `GRANT ${TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO ${app}`,
    `GRANT ${SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA public TO ${app}`,
  ];
}

function isInvalidPassword(e: unknown): boolean {
  return (e as { code?: unknown })?.code === INVALID_PASSWORD;
}

/** Reads the secret and logs in; a rotation in flight is retried with a fresh read. */
async function session(c: UsersClients, secretArn: string, database: string): Promise<{ s: SqlSession; credentials: DatabaseCredentials }> {
  const sleep = c.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    const credentials = await c.readSecret(secretArn);
    try {
      return { s: await c.connect(credentials, database), credentials };
    } catch (e) {
      if (!isInvalidPassword(e) || attempt >= ATTEMPTS) throw e;
      c.log.info('login refused, re-reading the secret (a rotation may be in flight)', { username: credentials.username, attempt });
      await sleep(5000);
    }
  }
}

async function inTransaction(s: SqlSession, statements: readonly string[]): Promise<void> {
  await s.query('BEGIN');
  try {
    for (const sql of statements) await s.query(sql);
    await s.query('COMMIT');
  } catch (e) {
    await s.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

export async function ensureDatabaseUsers(spec: UsersSpec, c: UsersClients): Promise<UsersOutcome> {
  const [owner, app] = await Promise.all([c.readSecret(spec.ownerSecretArn), c.readSecret(spec.appSecretArn)]);
  if (owner.username !== spec.ownerUsername) {
    throw new Error(`the owner secret names user ${owner.username}, expected ${spec.ownerUsername}`);
  }
  const appUsers = [spec.appUsername, `${spec.appUsername}${CLONE_SUFFIX}`];
  if (!appUsers.includes(app.username)) {
    throw new Error(`the application secret names user ${app.username}, expected ${appUsers.join(' or ')}`);
  }

  const { s: master } = await session(c, spec.masterSecretArn, spec.databaseName);
  let outcome: UsersOutcome;
  try {
    const { rows } = await master.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [[spec.ownerUsername, ...appUsers]]);
    const present = new Set(rows.map((r) => String(r.rolname)));
    // Decide. Once the application secret names the clone, rotation has run: both users are rotation's
    // to keep, and a missing one means the database is not the one the secret was rotated against
    // (e.g. restored from an older snapshot); recreating it with the wrong grants would hide that.
    if (app.username !== spec.appUsername && !(present.has(spec.appUsername) && present.has(app.username))) {
      throw new Error(
        `the application secret names ${app.username} (rotation has run) but the database lacks ${[spec.appUsername, app.username].filter((u) => !present.has(u)).join(' and ')}: ` +
          'restore the users or reset the secret to the base user, then redeploy',
      );
    }
    const create = [owner, app].filter((r) => !present.has(r.username));
    outcome = {
      created: create.map((r) => r.username),
      existing: [spec.ownerUsername, ...appUsers].filter((u) => present.has(u)),
    };
    c.log.info('database users', { database: spec.databaseName, ...outcome });
    // Act.
    await inTransaction(master, masterStatements(spec, create));
  } finally {
    await master.end();
  }

  const { s: ownerSession } = await session(c, spec.ownerSecretArn, spec.databaseName);
  try {
    await inTransaction(ownerSession, ownerStatements(spec));
  } finally {
    await ownerSession.end();
  }
  c.log.info('privileges granted', { database: spec.databaseName, owner: spec.ownerUsername, app: spec.appUsername });
  return outcome;
}
