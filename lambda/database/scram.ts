/**
 * A PostgreSQL SCRAM-SHA-256 password verifier, computed here so that the plain password never travels in a
 * SQL statement: `CREATE ROLE … PASSWORD '<verifier>'` stores the verifier as is, and a server that logs the
 * statement (log_statement = ddl) logs only the verifier. Same format as libpq's PQencryptPasswordConn.
 * https://www.postgresql.org/docs/current/auth-password.html , RFC 5802 / RFC 7677
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default `scram_iterations`. */
export const SCRAM_ITERATIONS = 4096;

/**
 * PostgreSQL runs the password through SASLprep, which leaves printable ASCII unchanged; Secrets Manager's
 * generated passwords are printable ASCII. Anything else is refused rather than hashed differently from the server.
 */
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  if (!PRINTABLE_ASCII.test(password)) throw new Error('password must be non-empty printable ASCII (no SASLprep in this verifier)');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
