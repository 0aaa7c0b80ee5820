/**
 * Reads a secret's AWSCURRENT value: one signed `GetSecretValue` call over HTTPS.
 *
 * The project pins no `@aws-sdk/client-secrets-manager`; this signs with the SDK's own SigV4 signer
 * (`@smithy/signature-v4`, installed with every pinned SDK client) and the Lambda's environment credentials.
 * Replace with `GetSecretValueCommand` once that client is a dependency.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { defaultProvider } from '../shared/lambda-credentials';
import type { DatabaseCredentials } from './users';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Data): Buffer =>
  typeof d === 'string' ? Buffer.from(d, 'utf8') : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);

/** SHA-256 (or HMAC-SHA-256 with a secret) in the shape the signer expects. */
class Sha256 {
  private hash;
  constructor(private readonly secret?: Data) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export interface SecretReaderOptions {
  readonly region: string;
  /** e.g. `https://secretsmanager.us-east-1.amazonaws.com` */
  readonly endpoint: string;
  /** @default the Lambda's environment credentials */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

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

export function secretReader(options: SecretReaderOptions): (secretArn: string) => Promise<DatabaseCredentials> {
  const url = new URL(options.endpoint);
  const signer = new SignatureV4({ service: 'secretsmanager', region: options.region, sha256: Sha256, credentials: options.credentials ?? defaultProvider() });
  return async (secretArn) => {
    const body = JSON.stringify({ SecretId: secretArn });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: '/',
      query: {},
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
      body,
    });
    // fetch sets Host itself (to the same value that was signed).
    const { host: _host, ...headers } = signed.headers;
    const res = await fetch(new URL('/', url), { method: 'POST', headers, body, signal: AbortSignal.timeout(10000) });
    const text = await res.text();
    if (!res.ok) {
      // The error body holds a type and message, never the secret value.
      throw new Error(`GetSecretValue ${secretArn}: HTTP ${res.status} ${text.slice(0, 300)}`);
    }
    const { SecretString } = JSON.parse(text) as { SecretString?: string };
    if (!SecretString) throw new Error(`secret ${secretArn} has no SecretString`);
    return parseCredentials(secretArn, SecretString);
  };
}
