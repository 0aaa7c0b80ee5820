/**
 * The bootstrap's secret reader (lambda/database/secrets.ts) against moto's Secrets Manager with the real SDK client,
 * and parsing that names fields, never values.
 */
import { parseCredentials, secretReader } from '../../lambda/database/secrets';
import { DUMMY_CREDENTIALS, MOTO_REGION, type MotoServer, startMoto } from '../support/moto';

let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto();
}, 120000);

afterAll(async () => {
  await moto?.stop();
});

/** moto accepts any signature; the reader's own request is the one under test. */
async function createSecret(name: string, value: string): Promise<string> {
  const res = await fetch(moto.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.CreateSecret', authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0' },
    body: JSON.stringify({ Name: name, SecretString: value }),
  });
  expect(res.ok).toBe(true);
  return ((await res.json()) as { ARN: string }).ARN;
}

describe('secretReader', () => {
  test('GIVEN an RDS credentials secret THEN it returns username, password, host and port', async () => {
    const arn = await createSecret('db-app', JSON.stringify({ engine: 'postgres', username: 'ecommerce_app', password: 'pw-123', host: 'db.internal', port: 5433, dbname: 'ecommerce' }));
    const read = secretReader({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: DUMMY_CREDENTIALS });
    await expect(read(arn)).resolves.toEqual({ username: 'ecommerce_app', password: 'pw-123', host: 'db.internal', port: 5433 });
  });

  test('GIVEN an unknown secret THEN it fails naming the secret and the AWS error code', async () => {
    const read = secretReader({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: DUMMY_CREDENTIALS });
    await expect(read('arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf')).rejects.toThrow(/GetSecretValue .*missing-AbCdEf: ResourceNotFoundException/);
  });
});

describe('parseCredentials', () => {
  test('names the missing field and never a value', () => {
    const secret = JSON.stringify({ username: 'u', password: 'very-secret-value', port: 5433 });
    expect(() => parseCredentials('arn:x', secret)).toThrow('secret arn:x has no host');
    try {
      parseCredentials('arn:x', secret);
    } catch (e) {
      expect((e as Error).message).not.toContain('very-secret-value');
    }
    expect(() => parseCredentials('arn:x', JSON.stringify({ username: 'u', password: 'p', host: 'h', port: 'x' }))).toThrow('secret arn:x has no valid port');
    expect(() => parseCredentials('arn:x', 'not json')).toThrow('secret arn:x is not JSON');
  });

  test('accepts the port as a string (RDS attachments write a number, hand-made secrets often a string)', () => {
    expect(parseCredentials('arn:x', JSON.stringify({ username: 'u', password: 'p', host: 'h', port: '5433' })).port).toBe(5433);
  });
});
