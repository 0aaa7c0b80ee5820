/**
 * Test harness: one local moto server per test file, bound to 127.0.0.1 only.
 *
 *   const moto = await startMoto();   // beforeAll
 *   await moto.reset();               // beforeEach
 *   await moto.stop();                // afterAll
 *
 * Clients point at `moto.endpoint` with region us-east-1 and dummy credentials passed in client
 * config (`moto.clientConfig`), so tests never depend on the caller's AWS environment.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { ensureVenv } from './venv';

export { ensureVenv };

// The SDK's Node 20 end-of-support notice is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const MOTO_HOST = '127.0.0.1';
export const MOTO_REGION = 'us-east-1';
export const DUMMY_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  readonly clientConfig: {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Asks the kernel for a free port on 127.0.0.1 by binding port 0, then releases it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, MOTO_HOST, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswers(endpoint: string, proc: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`moto_server exited with code ${proc.exitCode}:\n${log()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startMoto(options: { timeoutMs?: number } = {}): Promise<MotoServer> {
  const bin = ensureVenv();
  const port = await freePort();
  const endpoint = `http://${MOTO_HOST}:${port}`;
  let output = '';
  const proc = spawn(path.join(bin, 'moto_server'), ['-H', MOTO_HOST, '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false' },
  });
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  try {
    await waitUntilAnswers(endpoint, proc, options.timeoutMs ?? 30000, () => output);
  } catch (e) {
    proc.kill('SIGTERM');
    throw e;
  }
  let stopped = false;
  return {
    endpoint,
    port,
    clientConfig: { region: MOTO_REGION, endpoint, credentials: { ...DUMMY_CREDENTIALS } },
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
    },
    async stop() {
      if (stopped || proc.exitCode !== null) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
        }, 3000);
        proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
}
