/**
 * Benchmark of the automated rollback against a local moto server.
 *
 *   npx tsx scripts/bench-rollback.ts
 *
 * Starts moto (127.0.0.1, free port). For each of 15 runs, untimed: resets moto, builds the release fixture, starts a
 * release execution, takes the release lock, shifts green to 10% and drives a green rollback alarm to ALARM. Timed:
 * the rollback core from the EventBridge event to traffic verified back on blue (the core's read-back of both rules).
 * Every SDK call is counted with a client middleware.
 *
 * Last line: {"rollbackMedianMs": <median>, "callsBeforeSafe": <AWS calls before traffic was verified on blue>,
 *             "roundTripsToSafe": <sequential AWS round trips before traffic was verified on blue (measured)>,
 *             "worstCaseToSafeMs": <computed from the request bounds and retry policy, one call hanging, cold start>,
 *             "firstWriteIsWeight": <the first write of every run was a ModifyRule>, "runs": 15}
 *
 * The fence's settle wait (4 s after revoking a stopped release's lock, before re-reading the weights) is set to 0
 * here: it is a deliberate wait after traffic is safe, and would only add 4 s to every "complete rollback" figure.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { handleAlarmEvent } from '../lambda/rollback';
import { acquireLock, destroyClients, logger, readRules, shift } from '../lambda/traffic';
import { createAllClients } from '../lambda/traffic/notification-clients';
import { timeToSafeBudget } from '../lambda/rollback/budget';
import { instrumentClients, isReadCommand, roundTrips } from '../test/support/instrument';
import { startMoto } from '../test/support/moto';
import { median } from './lib/stats';
import { alarmStateChangeEvent, buildReleaseFixture, setAlarmState } from '../test/support/release';

const RUNS = 15;


const round = (ms: number) => Math.round(ms * 10) / 10;

async function bench(): Promise<void> {
  logger.setLogLevel('ERROR');
  const moto = await startMoto();
  const clients = createAllClients(moto.clientConfig);
  const inst = instrumentClients(clients);
  try {
    const toSafe: number[] = [];
    const total: number[] = [];
    const callCounts: number[] = [];
    const tripCounts: number[] = [];
    let firstWriteIsWeight = true;
    for (let i = 0; i < RUNS; i++) {
      // Untimed reset: a fresh environment in a canary of green at 10%, the release running, green's alarm in ALARM.
      await moto.reset();
      const fx = await buildReleaseFixture(moto.clientConfig);
      await fx.startRelease();
      const setup = { clients, topology: fx.topology };
      await acquireLock(setup, 'release:bench');
      await shift(setup, { target: { to: 'green', percent: 10 }, owner: 'release:bench', actor: 'bench', reason: 'canary 10%' });
      const alarmName = fx.topology.rollbackAlarmNames.green[i % fx.topology.rollbackAlarmNames.green.length];
      await setAlarmState(moto.clientConfig, alarmName, 'ALARM');
      const event = alarmStateChangeEvent({ alarmName });
      inst.reset();

      let safeAt: bigint | undefined;
      let callsAtSafe = -1;
      const started = process.hrtime.bigint();
      const out = await handleAlarmEvent(
        {
          clients,
          topology: fx.topology,
          releaseStateMachineArn: fx.stateMachineArn,
          metricSink: () => undefined,
          fenceSettleMs: 0,
          onSafe: () => {
            safeAt = process.hrtime.bigint();
            callsAtSafe = inst.calls.length;
            tripCounts.push(roundTrips(inst.calls.slice(0, callsAtSafe)));
          },
        },
        event,
      );
      const ended = process.hrtime.bigint();
      if (out.status !== 'rolled-back') throw new Error(`run ${i + 1}: expected rolled-back, got ${out.status}: ${out.reason}`);
      if (safeAt === undefined) throw new Error(`run ${i + 1}: traffic was never verified on blue`);
      const rules = await readRules(setup);
      if (rules.frontend.weights.green !== 0 || rules.backend.weights.green !== 0) throw new Error(`run ${i + 1}: green still has traffic`);

      const firstWrite = inst.calls.find((c) => !isReadCommand(c.command));
      if (firstWrite?.command !== 'ModifyRule') firstWriteIsWeight = false;
      toSafe.push(Number(safeAt - started) / 1e6);
      total.push(Number(ended - started) / 1e6);
      callCounts.push(callsAtSafe);
      process.stderr.write(
        `run ${i + 1}: traffic on blue (verified) in ${toSafe[i].toFixed(1)} ms after ${callsAtSafe} calls; ` +
          `rollback complete in ${total[i].toFixed(1)} ms, ${inst.calls.length} calls; first write ${firstWrite?.command}\n`,
      );
    }
    process.stderr.write(`complete rollback (stop, scale, ledger, notify) median ${round(median(total))} ms\n`);
    if (new Set(callCounts).size !== 1) process.stderr.write(`calls before safe varied: ${callCounts.join(', ')} (reporting the maximum)\n`);
    process.stdout.write(
      `${JSON.stringify({
        rollbackMedianMs: round(median(toSafe)),
        callsBeforeSafe: Math.max(...callCounts),
        roundTripsToSafe: Math.max(...tripCounts),
        worstCaseToSafeMs: timeToSafeBudget().oneHangMs,
        firstWriteIsWeight,
        runs: RUNS,
      })}\n`,
    );
  } finally {
    inst.detach();
    destroyClients(clients);
    await moto.stop();
  }
}

bench().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
