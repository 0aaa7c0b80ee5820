/**
 * Rehearsal of an automated rollback, on a local moto server (no AWS account needed):
 *
 *   npm run rehearse        (npx tsx scripts/rehearse.ts)
 *
 * 1. builds a blue/green environment (ALB rules, ECS services, scalable targets, alarms, lock and ledger tables, SNS
 *    topic, release state machine),
 * 2. releases green as a 10% canary (release execution started, release lock taken, verified shift),
 * 3. injects a failure: green's 5xx rollback alarm goes to ALARM (SetAlarmState, as CloudWatch would),
 * 4. builds the EventBridge "CloudWatch Alarm State Change" event and invokes the real rollback Lambda handler
 *    (lambda/rollback/handler.ts, its SDK clients pointed at moto with AWS_ENDPOINT_URL),
 * 5. prints the final status (the CLI's status table), the ledger and the notification, and checks the story's
 *    expectations. Exits 0 when every expectation holds, 1 otherwise. Always stops moto.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { formatStatus } from '../cli/format';
import { serviceNamesOf } from '../lambda/shared/topology';
import { acquireLock, createClients, destroyClients, LedgerEntry, logger, readLedger, readState, shift } from '../lambda/traffic';
import { MotoServer, startMoto } from '../test/support/moto';
import { alarmStateChangeEvent, buildReleaseFixture, publishedNotifications, setAlarmState } from '../test/support/release';

const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (n: number, title: string) => say(`\n=== ${n}. ${title}`);
const indent = (text: string) => text.split('\n').map((l) => `    ${l}`).join('\n');

function ledgerTable(entries: LedgerEntry[]): string {
  const rows = [['TIME', 'ACTION', 'ACTOR', 'REASON']];
  for (const e of [...entries].reverse()) rows.push([e.time, e.action, e.actor, e.reason.length > 90 ? `${e.reason.slice(0, 87)}...` : e.reason]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

async function rehearse(moto: MotoServer): Promise<boolean> {
  const cfg = moto.clientConfig;
  const clients = createClients(cfg);
  try {
    step(1, 'Environment built on a local moto server (no AWS account)');
    const fx = await buildReleaseFixture(cfg, { environment: 'rehearsal' });
    const ctx = { clients, topology: fx.topology };
    say(`    environment ${fx.topology.environment}: ALB rules for ${serviceNamesOf(fx.topology).join(' and ')}, blue ${fx.versions.blue} and green ${fx.versions.green} on ECS`);
    say(`    rollback alarms: blue ${fx.topology.rollbackAlarmNames.blue.join(', ')}; green ${fx.topology.rollbackAlarmNames.green.join(', ')}`);
    say(`    notifications: ${fx.notificationTopicArn}`);
    say(`    release state machine: ${fx.stateMachineArn}`);

    step(2, 'Release of green: canary at 10%');
    const executionArn = await fx.startRelease('release-green-1');
    say(`    release execution started: ${executionArn}`);
    const owner = `release:${executionArn.split(':').pop()}`;
    await acquireLock(ctx, owner);
    say(`    release lock taken by ${owner}`);
    const canary = await shift(ctx, { target: { to: 'green', percent: 10 }, owner, actor: 'release', reason: 'canary step 1: 10%' });
    say(`    shifted and verified: ${serviceNamesOf(fx.topology).map((s) => `${s} blue ${canary.weightsAfter[s]!.blue} / green ${canary.weightsAfter[s]!.green}`).join(', ')}`);

    step(3, 'Injected failure: green starts answering 5xx');
    const alarmName = fx.topology.rollbackAlarmNames.green[0];
    await setAlarmState(cfg, alarmName, 'ALARM', [42, 57]);
    say(`    CloudWatch alarm ${alarmName} -> ALARM (42 and 57 errors per minute, threshold 5)`);

    step(4, 'EventBridge delivers "CloudWatch Alarm State Change" to the rollback Lambda');
    const event = alarmStateChangeEvent({ alarmName, datapoints: [42, 57] });
    say(indent(JSON.stringify({ source: event.source, 'detail-type': event['detail-type'], resources: event.resources, detail: { alarmName, state: { value: event.detail.state.value, reason: event.detail.state.reason } } }, null, 2)));
    // The real handler, as Lambda would run it: environment variables, default credential chain, module-scope clients.
    Object.assign(process.env, {
      AWS_REGION: cfg.region,
      AWS_ENDPOINT_URL: cfg.endpoint,
      AWS_ACCESS_KEY_ID: cfg.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cfg.credentials.secretAccessKey,
      // buildReleaseFixture stored the topology in the lock table, as Custom::TopologyDocument does at deploy time.
      TOPOLOGY_TABLE: fx.topology.lockTableName,
      RELEASE_STATE_MACHINE_ARN: fx.stateMachineArn,
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    const { handler } = await import('../lambda/rollback/handler');
    say('    (the metric line below is the Lambda\'s Embedded Metric Format log line)');
    const started = Date.now();
    const out = await handler(event, { awsRequestId: 'rehearsal-1' });
    say(`    rollback Lambda returned "${out.status}" in ${Date.now() - started} ms` + (out.status === 'rolled-back' ? ` (traffic safe after ${out.timeToSafeMs} ms)` : `: ${out.reason}`));

    step(5, 'Automatic rollback: final status');
    const state = await readState(ctx);
    say(indent(formatStatus(state, fx.topology.environment)));
    say(`    (the release lock stays with the stopped release until its lease ends; the rollback never needed it)`);
    const ledger = await readLedger(ctx, 50);
    say('\n    ledger:');
    say(indent(ledgerTable(ledger)));
    const sent = (await publishedNotifications(moto.endpoint)).filter((n) => n.topicArn === fx.notificationTopicArn);
    say('\n    notification:');
    for (const n of sent) say(indent(`Subject: ${n.subject}\n${n.message}`));

    const ids = serviceNamesOf(fx.topology).map((s) => `service/${fx.topology.clusterName}/${fx.topology.services[s].colors.green.serviceName}`);
    const targets = (await clients.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: ids }))).ScalableTargets ?? [];
    const checks: [string, boolean][] = [
      ['the rollback Lambda rolled back', out.status === 'rolled-back'],
      ['all traffic back on blue on every rule (read back)', serviceNamesOf(fx.topology).every((s) => state.services[s].weights.blue > 0 && state.services[s].weights.green === 0)],
      ['green scaled to 0 on every service', serviceNamesOf(fx.topology).every((s) => state.services[s].colors.green.desiredCount === 0)],
      ['blue still running', serviceNamesOf(fx.topology).every((s) => state.services[s].colors.blue.desiredCount > 0)],
      ["green's scalable targets at min 0 / max 0", targets.length === serviceNamesOf(fx.topology).length && targets.every((t) => t.MinCapacity === 0 && t.MaxCapacity === 0)],
      ['the release execution was stopped', (await fx.executionStatus(executionArn)) === 'ABORTED'],
      ['exactly one rollback ledger entry', ledger.filter((e) => e.action === 'rollback').length === 1],
      ['one notification naming the alarm', sent.length === 1 && sent[0].message.includes(alarmName)],
    ];
    say('\n=== Expectations');
    for (const [what, ok] of checks) say(`    ${ok ? 'PASS' : 'FAIL'}  ${what}`);
    return checks.every(([, ok]) => ok);
  } finally {
    destroyClients(clients);
  }
}

async function main(): Promise<number> {
  logger.setLogLevel('ERROR');
  say('Rehearsal: a canary release of green fails and is rolled back automatically');
  const moto = await startMoto();
  try {
    const ok = await rehearse(moto);
    say(ok ? '\nRehearsal passed: traffic is back on blue.' : '\nRehearsal FAILED: see the expectations above.');
    return ok ? 0 : 1;
  } finally {
    await moto.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`rehearsal failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
