/**
 * The handler bundles as Lambda runs them: built by the same function the HandlerFunction construct uses
 * (lib/bundles.ts), checked for size, and the switch bundle run in a plain Node process
 * against moto — which proves the credential alias (environment credentials only) and the ESM `require` banner work in
 * the real bundle, not just in the TypeScript sources the other tests load.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { bundleHandlers, bundleName, HANDLER_ENTRIES, type HandlerEntry } from '../../lib/bundles';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { COLORS } from '../../lambda/shared/topology';
import { readLedger } from '../../lambda/traffic';
import { SERVICES } from '../support/services';
import { buildFixture, Fixture } from '../support/fixture';
import { DUMMY_CREDENTIALS, MOTO_REGION, MotoServer, startMoto } from '../support/moto';

const ROOT = path.resolve(__dirname, '..', '..');
const KB = 1024;

/** The target for every handler bundle (minified); every handler meets it. */
export const BUNDLE_TARGET_BYTES = 400 * KB;

const HANDLERS = HANDLER_ENTRIES;

interface Built {
  readonly entry: HandlerEntry;
  readonly outfile: string;
  readonly bytes: number;
  /** Source files that ended up in this bundle. */
  readonly inputs: string[];
}

let dir: string;
let built: Record<string, Built>;
let moto: MotoServer;
let fx: Fixture;

/** The very build HandlerFunction deploys (lib/bundles.ts), split per handler. */
function bundleAll(): Record<string, Built> {
  const { metafile } = bundleHandlers(dir);
  return Object.fromEntries(
    HANDLERS.map((entry) => {
      const outfile = path.join(dir, bundleName(entry), 'index.mjs');
      const output = metafile.outputs[path.relative(ROOT, outfile)];
      return [entry, { entry, outfile, bytes: output.bytes, inputs: Object.keys(output.inputs) }];
    }),
  );
}

/** Imports a bundle in a fresh Node process with a Lambda-like environment and invokes its handler once. */
async function invokeInChild(b: Built, env: Record<string, string>, event: unknown): Promise<{ result: unknown; initMs: number }> {
  const runner = path.join(dir, `run-${path.basename(b.outfile)}`);
  writeFileSync(
    runner,
    [
      `const t0 = performance.now();`,
      `const m = await import(${JSON.stringify(b.outfile)});`,
      `const initMs = performance.now() - t0;`,
      `const result = await m.handler(${JSON.stringify(event)});`,
      `process.stdout.write(JSON.stringify({ result, initMs }));`,
    ].join('\n'),
  );
  const { stdout } = await promisify(execFile)(process.execPath, [runner], {
    cwd: dir,
    // Only what Lambda would give: no credentials file, profile or caller's AWS environment leaks in.
    env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    timeout: 30000,
  });
  return JSON.parse(stdout) as { result: unknown; initMs: number };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'bundles-'));
  built = bundleAll();
  moto = await startMoto();
  fx = await buildFixture(moto.clientConfig);
}, 120000);

afterAll(async () => {
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('handler bundles', () => {
  test.each(HANDLERS)('%s is at most 400 KB', (entry) => {
    expect(built[entry].bytes).toBeLessThanOrEqual(BUNDLE_TARGET_BYTES);
  });

  test('no bundle includes the DynamoDB document client (items are converted by lambda/traffic/dynamo-items.ts)', () => {
    for (const b of Object.values(built)) {
      expect(b.inputs.filter((i) => i.includes('@aws-sdk/lib-dynamodb/'))).toEqual([]);
    }
  });

  test('every bundle swaps the default credential chain for environment credentials', () => {
    for (const b of Object.values(built)) {
      const inputs = b.inputs;
      expect(inputs).toContain('lambda/shared/lambda-credentials.ts');
      expect(inputs.filter((i) => /credential-provider-(node|ini|sso|imds|process|web-identity)\//.test(i))).toEqual([]);
    }
  });

  test('only the judge bundle holds the judge and its query: the release bundle (at its size limit) has neither', () => {
    const judgeSources = ['lambda/release/judge.ts', 'lambda/release/judge-query.ts', 'lambda/release/judge-gate.ts'];
    expect(built['lambda/release/judge-handler.ts'].inputs).toEqual(expect.arrayContaining(judgeSources));
    for (const entry of HANDLERS.filter((e) => e !== 'lambda/release/judge-handler.ts')) {
      expect([entry, built[entry].inputs.filter((i) => judgeSources.includes(i))]).toEqual([entry, []]);
    }
  });

  test('the judge bundle runs in plain Node: a look at a 10% canary reads GetMetricData and records its verdict', async () => {
    const services = Object.keys(fx.topology.services);
    const release = {
      owner: 'arn:aws:states:us-east-1:123456789012:execution:Release:bundle',
      environment: fx.topology.environment,
      actor: 'bundle',
      strategy: 'canary',
      services,
      stable: 'blue',
      candidate: 'green',
      fromVersion: 'v1',
      toVersion: 'v2',
      steps: [10, 50, 100],
      stepIndex: 1,
      percent: 10,
      approval: false,
      awaitApproval: false,
      candidateCountsBefore: Object.fromEntries(services.map((s) => [s, 0])),
      scaledUp: true,
      startedAt: new Date(Date.now() - 20 * 60_000).toISOString(),
      shiftedAt: new Date(Date.now() - 10 * 60_000).toISOString(),
    };
    const policy = { bakeSeconds: 300, judge: { falseRollbackPercent: 1, errorRateMarginPoints: 0.1, latencyMarginPercent: 10, minRequests: 500, maxExtensions: 0, onInconclusive: 'pass' } };
    const { result } = await invokeInChild(
      built['lambda/release/judge-handler.ts'],
      {
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL: moto.endpoint,
        TOPOLOGY_TABLE: fx.topology.lockTableName,
        RELEASE_POLICY: JSON.stringify(policy),
        // The ledger entry is logged to stdout, where the runner reads the result.
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      { step: 'judge', release },
    );
    // No ALB metrics in moto: whatever the judge says (pass, or inconclusive decided at once by the policy: pass), the step goes on.
    expect(result).toMatchObject({ percent: 10, extend: false, judgeLooks: 1 });
    const dynamodb = new DynamoDBClient(moto.clientConfig);
    try {
      const [entry] = await readLedger({ clients: { dynamodb }, topology: fx.topology }, 5);
      expect(entry).toMatchObject({ action: 'release:judge-verdict', detail: { owner: release.owner, look: 1, maxLooks: 2, window: { minutes: expect.any(Number) } } });
      expect((entry.detail as { window: { minutes: number } }).window.minutes).toBeGreaterThanOrEqual(8);
    } finally {
      dynamodb.destroy();
    }
  }, 60000);

  test("every SDK client keeps only its package.json's version (the User-Agent's), not the rest of the file (lib/esbuild-worker.mjs)", () => {
    const rollback = readFileSync(built['lambda/rollback/handler.ts'].outfile, 'utf8');
    for (const client of ['client-ecs', 'client-sns', 'client-dynamodb']) {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@aws-sdk', client, 'package.json'), 'utf8'));
      expect(rollback).toContain(`{version:"${pkg.version}"}`);
      expect(rollback).not.toContain(pkg.description);
    }
  });

  test('the switch bundle runs in plain Node: status against moto returns the fixture weights', async () => {
    const { result, initMs } = await invokeInChild(
      built['lambda/switch/handler.ts'],
      {
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL: moto.endpoint,
        // The fixture stored its topology in the lock table, as Custom::TopologyDocument does at deploy time.
        TOPOLOGY_TABLE: fx.topology.lockTableName,
      },
      { command: 'status' },
    );
    const state = result as { environment: string; liveColor: string; services: Record<string, { weights: unknown; colors: Record<string, { version: string }> }> };
    expect(state.environment).toBe(fx.topology.environment);
    expect(state.liveColor).toBe('blue');
    for (const s of SERVICES) {
      expect(state.services[s].weights).toEqual({ blue: 100, green: 0 });
      for (const c of COLORS) expect(state.services[s].colors[c].version).toBe(fx.versions[c]);
    }
    // Module init (imports and client construction) of the real bundle; generous against noisy CI machines.
    expect(initMs).toBeLessThan(1000);
  }, 60000);
});
