/**
 * Benchmark of guarded, verified, coordinated shifts against a local moto server.
 *
 *   npx tsx scripts/bench-traffic.ts
 *
 * Starts moto (127.0.0.1, free port), builds the integration fixture, takes the release lock, runs 15 shifts
 * alternating green 10% / 0% (each with guards, ModifyRule on both rules, read-back verify and a ledger entry) and
 * prints `{"shiftMedianMs": <median>, "runs": 15}` as its last line.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { acquireLock, createClients, destroyClients, logger, releaseLock, shift, TrafficContext } from '../lambda/traffic';
import { buildFixture } from '../test/support/fixture';
import { startMoto } from '../test/support/moto';
import { median } from './lib/stats';

const RUNS = 15;


async function bench(): Promise<void> {
  logger.setLogLevel('ERROR');
  const moto = await startMoto();
  const clients = createClients(moto.clientConfig);
  try {
    const fx = await buildFixture(moto.clientConfig);
    const ctx: TrafficContext = { clients, topology: fx.topology };
    const owner = `bench:${process.pid}`;
    await acquireLock(ctx, owner);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const percent = i % 2 === 0 ? 10 : 0;
      const started = process.hrtime.bigint();
      const r = await shift(ctx, { target: { to: 'green', percent }, owner, actor: 'bench', reason: `bench run ${i + 1}` });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (!r.changed) throw new Error(`run ${i + 1} did not change the weights`);
      times.push(ms);
      process.stderr.write(`run ${i + 1}: green ${percent}% in ${ms.toFixed(1)} ms\n`);
    }
    await releaseLock(ctx, owner);
    process.stdout.write(`${JSON.stringify({ shiftMedianMs: Math.round(median(times) * 10) / 10, runs: RUNS })}\n`);
  } finally {
    destroyClients(clients);
    await moto.stop();
  }
}

bench().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
