/**
 * The users bootstrap's core (lambda/database/users.ts) against a fake PostgreSQL: the SQL it issues for a fresh
 * database and for one where the users exist (idempotent), its refusals, and that no password is ever sent or logged.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { handleDatabaseUsers, logger, parseSpec } from '../../lambda/database/handler';
import { scramSha256Verifier } from '../../lambda/database/scram';
import { type DatabaseCredentials, ensureDatabaseUsers, type SqlSession, type UsersClients, type UsersSpec } from '../../lambda/database/users';

logger.setLogLevel('SILENT');

const SPEC: UsersSpec = {
  databaseName: 'ecommerce',
  masterSecretArn: 'arn:master',
  ownerSecretArn: 'arn:owner',
  appSecretArn: 'arn:app',
  ownerUsername: 'ecommerce_owner',
  appUsername: 'ecommerce_app',
};
const at = { host: 'db.example.internal', port: 5433 };
const PASSWORDS = { master: 'Master-pw-1234567890', owner: 'Owner-pw-abcdefghij', app: 'App-pw-KLMNOPQRSTUV', clone: 'Clone-pw-wxyz098765' };

/** A database that knows which roles exist, records every statement per login and can fail one statement. */
class FakeDatabase {
  readonly sessions: { user: string; sql: string[]; values: unknown[]; ended: boolean }[] = [];
  readonly logs: string[] = [];
  refuseLogins = 0;
  failOn?: RegExp;

  constructor(public roles: string[]) {}

  connect = async (c: DatabaseCredentials, database: string): Promise<SqlSession> => {
    expect(database).toBe('ecommerce');
    if (this.refuseLogins > 0) {
      this.refuseLogins--;
      throw Object.assign(new Error(`password authentication failed for user "${c.username}"`), { code: '28P01' });
    }
    const s = { user: c.username, sql: [] as string[], values: [] as unknown[], ended: false };
    this.sessions.push(s);
    return {
      query: async (sql, values) => {
        s.sql.push(sql);
        if (values) s.values.push(...values);
        if (this.failOn?.test(sql)) throw Object.assign(new Error('permission denied'), { code: '42501' });
        if (sql.startsWith('SELECT rolname')) {
          const wanted = (values as string[][])[0];
          return { rows: this.roles.filter((r) => wanted.includes(r)).map((rolname) => ({ rolname })) };
        }
        return { rows: [] };
      },
      end: async () => {
        s.ended = true;
      },
    };
  };
}

function clients(db: FakeDatabase, appUser = 'ecommerce_app'): UsersClients & { reads: string[] } {
  const secrets: Record<string, DatabaseCredentials> = {
    'arn:master': { username: 'ecommerce_admin', password: PASSWORDS.master, ...at },
    'arn:owner': { username: 'ecommerce_owner', password: PASSWORDS.owner, ...at },
    'arn:app': { username: appUser, password: appUser.endsWith('_clone') ? PASSWORDS.clone : PASSWORDS.app, ...at },
  };
  const reads: string[] = [];
  return {
    reads,
    readSecret: async (arn) => {
      reads.push(arn);
      return secrets[arn];
    },
    connect: db.connect,
    log: { info: (message, extra) => db.logs.push(`${message} ${JSON.stringify(extra ?? {})}`) },
    sleep: async () => undefined,
  };
}

const MASTER_GRANTS = [
  'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
  'GRANT CONNECT ON DATABASE "ecommerce" TO "ecommerce_owner", "ecommerce_app"',
  'GRANT USAGE, CREATE ON SCHEMA public TO "ecommerce_owner"',
  'GRANT USAGE ON SCHEMA public TO "ecommerce_app"',
];
const OWNER_SESSION = [
  'BEGIN',
  'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "ecommerce_app"',
  'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "ecommerce_app"',
  'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "ecommerce_app"',
  'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "ecommerce_app"',
  'COMMIT',
];
const SCRAM = /^CREATE ROLE "(\w+)" WITH LOGIN PASSWORD 'SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+'$/;

describe('ensureDatabaseUsers', () => {
  test('GIVEN a fresh database THEN it creates the owner and the application user, then grants, as master and then as owner', async () => {
    const db = new FakeDatabase([]);
    const outcome = await ensureDatabaseUsers(SPEC, clients(db));

    expect(outcome).toEqual({ created: ['ecommerce_owner', 'ecommerce_app'], existing: [] });
    expect(db.sessions.map((s) => s.user)).toEqual(['ecommerce_admin', 'ecommerce_owner']);
    const [master, owner] = db.sessions;
    expect(master.sql[0]).toBe('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])');
    expect(master.values).toEqual([['ecommerce_owner', 'ecommerce_app', 'ecommerce_app_clone']]);
    expect(master.sql.slice(1, 2)).toEqual(['BEGIN']);
    expect(master.sql[2]).toMatch(SCRAM);
    expect(master.sql[3]).toMatch(SCRAM);
    expect([SCRAM.exec(master.sql[2])![1], SCRAM.exec(master.sql[3])![1]]).toEqual(['ecommerce_owner', 'ecommerce_app']);
    expect(master.sql.slice(4)).toEqual([...MASTER_GRANTS, 'COMMIT']);
    expect(owner.sql).toEqual(OWNER_SESSION);
    expect(db.sessions.every((s) => s.ended)).toBe(true);
  });

  test('GIVEN the users exist THEN it creates nothing and repeats the same grants (idempotent), leaving passwords to rotation', async () => {
    const db = new FakeDatabase(['ecommerce_owner', 'ecommerce_app']);
    const outcome = await ensureDatabaseUsers(SPEC, clients(db));

    expect(outcome).toEqual({ created: [], existing: ['ecommerce_owner', 'ecommerce_app'] });
    const [master, owner] = db.sessions;
    expect(master.sql.slice(1)).toEqual(['BEGIN', ...MASTER_GRANTS, 'COMMIT']);
    expect(master.sql.join('\n')).not.toMatch(/CREATE ROLE|ALTER ROLE|PASSWORD/);
    expect(owner.sql).toEqual(OWNER_SESSION);
  });

  test('GIVEN only the owner is missing THEN it creates the owner alone', async () => {
    const db = new FakeDatabase(['ecommerce_app']);
    const outcome = await ensureDatabaseUsers(SPEC, clients(db));
    expect(outcome.created).toEqual(['ecommerce_owner']);
    expect(db.sessions[0].sql.filter((s) => s.startsWith('CREATE ROLE'))).toHaveLength(1);
  });

  test('GIVEN rotation has run (the secret names the clone) and both users exist THEN it creates nothing; grants go to the base user the clone inherits', async () => {
    const db = new FakeDatabase(['ecommerce_owner', 'ecommerce_app', 'ecommerce_app_clone']);
    const outcome = await ensureDatabaseUsers(SPEC, clients(db, 'ecommerce_app_clone'));
    expect(outcome).toEqual({ created: [], existing: ['ecommerce_owner', 'ecommerce_app', 'ecommerce_app_clone'] });
    expect(db.sessions[1].sql).toEqual(OWNER_SESSION);
  });

  test('fails when the secret names the clone but the database lacks it (e.g. restored from an older snapshot), before changing anything', async () => {
    const db = new FakeDatabase(['ecommerce_owner', 'ecommerce_app']);
    await expect(ensureDatabaseUsers(SPEC, clients(db, 'ecommerce_app_clone'))).rejects.toThrow(
      /names ecommerce_app_clone \(rotation has run\) but the database lacks ecommerce_app_clone/,
    );
    expect(db.sessions[0].sql).toEqual(['SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])']);
    expect(db.sessions[0].ended).toBe(true);
  });

  test('fails when a secret names another user, without connecting', async () => {
    const db = new FakeDatabase([]);
    await expect(ensureDatabaseUsers({ ...SPEC, ownerUsername: 'someone_else' }, clients(db))).rejects.toThrow('the owner secret names user ecommerce_owner, expected someone_else');
    await expect(ensureDatabaseUsers(SPEC, clients(db, 'ecommerce_admin'))).rejects.toThrow('expected ecommerce_app or ecommerce_app_clone');
    expect(db.sessions).toEqual([]);
  });

  test('GIVEN a login refused while a rotation is in flight THEN it re-reads the secret and logs in again', async () => {
    const db = new FakeDatabase([]);
    db.refuseLogins = 1;
    const c = clients(db);
    await ensureDatabaseUsers(SPEC, c);
    expect(c.reads.filter((a) => a === 'arn:master')).toHaveLength(2);
    expect(db.sessions.map((s) => s.user)).toEqual(['ecommerce_admin', 'ecommerce_owner']);
  });

  test('GIVEN logins refused three times THEN it gives up with the database error', async () => {
    const db = new FakeDatabase([]);
    db.refuseLogins = 3;
    await expect(ensureDatabaseUsers(SPEC, clients(db))).rejects.toThrow('password authentication failed for user "ecommerce_admin"');
  });

  test('GIVEN a failing statement THEN the transaction is rolled back and the session closed', async () => {
    const db = new FakeDatabase([]);
    db.failOn = /^GRANT USAGE, CREATE/;
    await expect(ensureDatabaseUsers(SPEC, clients(db))).rejects.toThrow('permission denied');
    const [master] = db.sessions;
    expect(master.sql.at(-1)).toBe('ROLLBACK');
    expect(master.sql).not.toContain('COMMIT');
    expect(master.ended).toBe(true);
    expect(db.sessions).toHaveLength(1);
  });

  test('never sends or logs a plain password, in statements, parameters, logs or errors', async () => {
    const transcripts: string[] = [];
    for (const [roles, appUser] of [[[], 'ecommerce_app'], [['ecommerce_owner', 'ecommerce_app'], 'ecommerce_app'], [['ecommerce_owner'], 'ecommerce_app_clone']] as const) {
      const db = new FakeDatabase([...roles]);
      const error = await ensureDatabaseUsers(SPEC, clients(db, appUser)).then(() => '', (e: Error) => e.message);
      transcripts.push(...db.sessions.flatMap((s) => [...s.sql, JSON.stringify(s.values)]), ...db.logs, error);
    }
    expect(transcripts.join('\n')).toContain('CREATE ROLE');
    for (const password of Object.values(PASSWORDS)) expect(transcripts.join('\n')).not.toContain(password);
  });

  test('the verifier in CREATE ROLE is the SCRAM-SHA-256 verifier of the secret password', async () => {
    const db = new FakeDatabase([]);
    await ensureDatabaseUsers(SPEC, clients(db));
    const statement = db.sessions[0].sql.find((s) => s.startsWith('CREATE ROLE "ecommerce_app"'))!;
    const salt = Buffer.from(SCRAM.exec(statement)![2], 'base64');
    expect(statement).toBe(`CREATE ROLE "ecommerce_app" WITH LOGIN PASSWORD '${scramSha256Verifier(PASSWORDS.app, salt)}'`);
  });
});

describe('scramSha256Verifier', () => {
  test('GIVEN the salt PostgreSQL 15 chose THEN it equals the verifier PostgreSQL stored for the same password', () => {
    // `CREATE ROLE vector_user LOGIN PASSWORD 'Pencil-Pa55word'` on PostgreSQL 15.18, then pg_authid.rolpassword.
    const stored = 'SCRAM-SHA-256$4096:L0WpocqOQ1AqHlHpXMsj6A==$O/gKY8kWneBNaa0zDcNsYlXYibQ+5sjtsRRWk1h5u2E=:6DkgZljtfBpoorYL3KgLl+m3bH7+lrDpTmy/FYBVCKQ=';
    expect(scramSha256Verifier('Pencil-Pa55word', Buffer.from('L0WpocqOQ1AqHlHpXMsj6A==', 'base64'))).toBe(stored);
  });

  test('uses a fresh random salt each time', () => {
    expect(scramSha256Verifier('Pencil-Pa55word')).not.toBe(scramSha256Verifier('Pencil-Pa55word'));
  });

  test('refuses passwords PostgreSQL would SASLprep differently', () => {
    expect(() => scramSha256Verifier('pässword')).toThrow(/printable ASCII/);
    expect(() => scramSha256Verifier('')).toThrow(/printable ASCII/);
  });
});

describe('Custom::DatabaseUsers request', () => {
  const event = (type: 'Create' | 'Update' | 'Delete', props: Record<string, unknown>) =>
    ({
      RequestType: type,
      ResourceType: 'Custom::DatabaseUsers',
      PhysicalResourceId: 'database-users:ecommerce',
      ResourceProperties: { ServiceToken: 'arn:fn', ...props },
    }) as unknown as CloudFormationCustomResourceEvent;
  const props = {
    DatabaseName: 'ecommerce',
    MasterSecretArn: 'arn:master',
    OwnerSecretArn: 'arn:owner',
    AppSecretArn: 'arn:app',
    OwnerUsername: 'ecommerce_owner',
    AppUsername: 'ecommerce_app',
    Revision: '1',
  };

  test('parses every property and names a missing one', () => {
    expect(parseSpec(props)).toEqual(SPEC);
    expect(() => parseSpec({ ...props, AppSecretArn: undefined })).toThrow('property AppSecretArn must be a non-empty string');
  });

  test('GIVEN Create THEN it ensures the users and returns a stable physical ID', async () => {
    const db = new FakeDatabase([]);
    const result = await handleDatabaseUsers(event('Create', props), clients(db));
    expect(result).toEqual({ physicalResourceId: 'database-users:ecommerce', data: { Created: 'ecommerce_owner,ecommerce_app' } });
  });

  test('GIVEN Delete THEN it keeps the users (they own the data) and touches nothing', async () => {
    const db = new FakeDatabase([]);
    const c = clients(db);
    const result = await handleDatabaseUsers(event('Delete', props), c);
    expect(result).toEqual({ physicalResourceId: 'database-users:ecommerce' });
    expect(db.sessions).toEqual([]);
    expect(c.reads).toEqual([]);
  });
});
