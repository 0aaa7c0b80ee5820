/**
 * The Custom::DatabaseUsers bundle as Lambda runs it (lib/bundles.ts options, pg bundled, pg-native left out):
 * imported in a plain Node process, it answers CloudFormation for a Delete and reports a failed Create
 * without leaking a password.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildSync } from 'esbuild';
import { HANDLER_ESBUILD_OPTIONS } from '../../lib/bundles';
import { DUMMY_CREDENTIALS, freePort, MOTO_REGION, type MotoServer, startMoto } from '../support/moto';

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;
let bundle: string;
let moto: MotoServer;
let server: Server;
let responses: Record<string, unknown>[] = [];
let responseUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'database-bundle-'));
  buildSync({ ...HANDLER_ESBUILD_OPTIONS, entryPoints: { 'database-handler/index': path.join(ROOT, 'lambda/database/handler.ts') }, outdir: dir, write: true });
  bundle = path.join(dir, 'database-handler', 'index.mjs');
  moto = await startMoto();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      responses.push(JSON.parse(body));
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
}, 120000);

afterAll(async () => {
  await moto?.stop();
  await new Promise((r) => server?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function invoke(event: Record<string, unknown>): Promise<{ stdout: string; stderr: string }> {
  const runner = path.join(dir, 'run.mjs');
  writeFileSync(runner, `const m = await import(${JSON.stringify(bundle)});\nawait m.handler(${JSON.stringify(event)});\n`);
  responses = [];
  return promisify(execFile)(process.execPath, [runner], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL: moto.endpoint,
    },
    timeout: 30000,
  });
}

async function createSecret(name: string, value: Record<string, unknown>): Promise<string> {
  const res = await fetch(moto.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.CreateSecret', authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0' },
    body: JSON.stringify({ Name: name, SecretString: JSON.stringify(value) }),
  });
  return ((await res.json()) as { ARN: string }).ARN;
}

const base = { StackId: 'stack', RequestId: 'req-1', LogicalResourceId: 'DatabaseUsers', ResourceType: 'Custom::DatabaseUsers' };

test('the bundle loads pg without pg-native and answers a Delete with SUCCESS, touching nothing', async () => {
  await invoke({
    ...base,
    RequestType: 'Delete',
    ResponseURL: responseUrl,
    PhysicalResourceId: 'database-users:ecommerce',
    ResourceProperties: { DatabaseName: 'ecommerce', MasterSecretArn: 'm', OwnerSecretArn: 'o', AppSecretArn: 'a', OwnerUsername: 'ecommerce_owner', AppUsername: 'ecommerce_app' },
  });
  expect(responses).toEqual([expect.objectContaining({ Status: 'SUCCESS', PhysicalResourceId: 'database-users:ecommerce' })]);
});

test('GIVEN a database that cannot be reached THEN Create reports FAILED and neither the response nor the logs hold a password', async () => {
  const port = await freePort(); // nothing listens there
  const secret = (username: string, password: string) => ({ engine: 'postgres', username, password, host: '127.0.0.1', port, dbname: 'ecommerce' });
  const [m, o, a] = await Promise.all([
    createSecret('bundle-master', secret('ecommerce_admin', 'Master-pw-bundle-1')),
    createSecret('bundle-owner', secret('ecommerce_owner', 'Owner-pw-bundle-2')),
    createSecret('bundle-app', secret('ecommerce_app', 'App-pw-bundle-3')),
  ]);
  const { stdout, stderr } = await invoke({
    ...base,
    RequestType: 'Create',
    ResponseURL: responseUrl,
    ResourceProperties: { DatabaseName: 'ecommerce', MasterSecretArn: m, OwnerSecretArn: o, AppSecretArn: a, OwnerUsername: 'ecommerce_owner', AppUsername: 'ecommerce_app' },
  });
  expect(responses).toEqual([expect.objectContaining({ Status: 'FAILED', PhysicalResourceId: 'failed-req-1', Reason: expect.stringMatching(/ECONNREFUSED/) })]);
  const everything = JSON.stringify(responses) + stdout + stderr;
  for (const pw of ['Master-pw-bundle-1', 'Owner-pw-bundle-2', 'App-pw-bundle-3']) expect(everything).not.toContain(pw);
});
