/**
 * Release bench: the wall time of the canary happy-path rehearsal (the synthesized release state machine run by
 * aws-local-stepfunctions with the real release and backup handlers against a local moto, waits shortened to 0 ms) and each environment's
 * time to full traffic under its policy. The LAST line of output is JSON:
 *
 *   {"rehearsalMs": n, "timeToFullTrafficSeconds": {"dev": n, "staging": n, "production": n}}
 *
 *   npx tsx scripts/bench-release.ts
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ENVIRONMENTS } from '../config';
import { timeToFullTraffic, worstCaseTimeToFullTraffic } from '../lambda/release/policy';
import { logger } from '../lambda/traffic';
import { startMoto } from '../test/support/moto';
import { buildReleaseEnvironment, startTestListener } from '../test/release/harness';
import { definitionFromTemplate, releaseFunctionIds, runRehearsal } from '../test/release/rehearsal';
import { synthEnvironment } from '../test/cdk/support';

async function main(): Promise<void> {
  logger.setLogLevel('ERROR');
  const production = synthEnvironment('production');
  const definition = definitionFromTemplate(production.stateless);
  const ids = releaseFunctionIds(production.stage);
  const [moto, listener] = await Promise.all([startMoto(), startTestListener()]);
  try {
    const env = await buildReleaseEnvironment(moto, listener);
    try {
      const run = await runRehearsal(definition, { actor: 'bench' }, { handlers: env.handlers(ids) });
      if (run.status !== 'SUCCEEDED') throw new Error(`rehearsal did not succeed: ${run.status} ${run.error}: ${run.cause}`);
      const timeToFullTrafficSeconds = {
        dev: timeToFullTraffic(ENVIRONMENTS.dev.release),
        staging: timeToFullTraffic(ENVIRONMENTS.staging.release),
        production: timeToFullTraffic(ENVIRONMENTS.production.release),
      };
      for (const [name, cfg] of Object.entries(ENVIRONMENTS)) {
        console.log(
          `${name.padEnd(10)} ${cfg.release.strategy.padEnd(10)} steps ${cfg.release.canarySteps.join('/')}: ` +
            `${timeToFullTraffic(cfg.release)} s of bakes to 100%, worst case ${worstCaseTimeToFullTraffic(cfg.release)} s incl. migration and stabilize timeouts and every judge extension`,
        );
      }
      console.log(`canary rehearsal: ${run.states.length} states in ${run.ms} ms`);
      console.log(JSON.stringify({ rehearsalMs: run.ms, timeToFullTrafficSeconds }));
    } finally {
      env.destroy();
    }
  } finally {
    await Promise.all([moto.stop(), listener.close()]);
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
