/**
 * Synth of all three environments with ten services each, as `npm run synth` does it (cdk.json's feature flags, Lambda
 * bundling, every cdk-nag pack), median of several runs, each in its own process. Target: <= 10 s (issue 10).
 * Last line: { synthTenServicesMs, runs }.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import cdkJson from '../cdk.json';
import { ENVIRONMENTS } from '../config';
import { buildApp } from '../lib/app';
import { withServices } from './lib/more-services';
import { median } from './lib/stats';

const RUNS = 3;

if (process.argv[2] === '--once') {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ten-services-'));
  const start = process.hrtime.bigint();
  const { app } = buildApp({ environments: Object.values(ENVIRONMENTS).map((c) => withServices(c, 10)), context: cdkJson.context, outdir });
  app.synth();
  console.log(Number(process.hrtime.bigint() - start) / 1e6);
  fs.rmSync(outdir, { recursive: true, force: true });
} else {
  const runs = Array.from({ length: RUNS }, () => {
    const r = spawnSync('npx', ['tsx', __filename, '--once'], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`synth of ten services failed:\n${r.stderr.slice(-2000)}`);
    return Math.round(Number(r.stdout.trim().split('\n').pop()));
  });
  console.log(JSON.stringify({ synthTenServicesMs: median(runs), runs }));
}
