import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { DescribeRulesCommand, ModifyRuleCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PublishCommand } from '@aws-sdk/client-sns';
import { notificationText } from '../../lambda/shared/headline';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { handleAlarmEvent, InvalidAlarmEvent, RollbackFailed, RollbackIncomplete } from '../../lambda/rollback';
import { item, plain } from '../support/dynamo';
import { EVENT_TIME, EXEC_ARN, event, throttled, topology, world, writes } from './helpers';

let w: ReturnType<typeof world>;
afterEach(() => w?.restore());

const ALL_BLUE = { frontend: [100, 0], backend: [100, 0] };
const CANARY = { frontend: [90, 10], backend: [90, 10] };
const ccf = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', $metadata: {} });
const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
const published = () => w.sns.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('GIVEN a green canary at 10% with a running release', () => {
  test('WHEN a green alarm fires THEN the weight writes come first, then claim, stop, scale, ledger+marker, notification', async () => {
    w = world();
    const out = await handleAlarmEvent(w.ctx, event('green-5xx', { datapoints: [12, 17] }));
    expect(out).toMatchObject({
      status: 'rolled-back',
      failedColor: 'green',
      stableColor: 'blue',
      trafficChanged: true,
      stoppedExecutions: [EXEC_ARN],
      ledgerSk: '2030-01-01T00:05:00.000Z#r4nd',
    });
    expect(writes(w.order)).toEqual([
      'ModifyRule',
      'ModifyRule',
      'UpdateItem', // claim
      'DeleteItem', // the release's lock revoked (the fence) before
      'StopExecution',
      'RegisterScalableTarget',
      'UpdateService',
      'UpdateService',
      'PutItem', // the core's `scale` ledger entry
      'TransactWriteItems', // the one `rollback` ledger entry + marker done + the notification to send
      'Publish',
      'UpdateItem', // marker: notified
    ]);
    expect(w.state.weights).toEqual(ALL_BLUE);
    expect(w.state.desired).toMatchObject({ 'fe-green': 0, 'be-green': 0, 'fe-blue': 2, 'be-blue': 2 });
    expect(w.sfn.commandCalls(ListExecutionsCommand)[0].args[0].input).toEqual({ stateMachineArn: w.ctx.releaseStateMachineArn, statusFilter: 'RUNNING' });
    expect(w.sfn.commandCalls(StopExecutionCommand)[0].args[0].input).toEqual({
      executionArn: EXEC_ARN,
      error: 'AlarmRollback',
      cause: expect.stringContaining('Rollback alarm green-5xx (green) of dev went to ALARM'),
    });
    const tx = plain(w.ddb.commandCalls(TransactWriteItemsCommand)[0].args[0].input).TransactItems;
    expect(tx[0].Put!.Item).toMatchObject({
      action: 'rollback',
      actor: 'rollback-lambda',
      weightsBefore: { frontend: { blue: 90, green: 10 }, backend: { blue: 90, green: 10 } },
      weightsAfter: { frontend: { blue: 100, green: 0 }, backend: { blue: 100, green: 0 } },
      detail: expect.objectContaining({ alarmName: 'green-5xx', metrics: expect.objectContaining({ recentDatapoints: [12, 17] }) }),
    });
    expect(tx[1].Update).toMatchObject({ Key: { pk: 'dev#rollback#green' }, ExpressionAttributeValues: expect.objectContaining({ ':owner': 'rollback:test' }) });
    const [msg] = published();
    expect(msg.TopicArn).toBe(topology.notificationTopicArn);
    // The first line at a glance (lambda/shared/headline.ts): subject, first line of the text, Slack's title.
    expect(msg.Subject).toBe('[dev] Automatic rollback: alarm green-5xx | frontend, backend | green -> blue');
    expect(msg.MessageStructure).toBe('json');
    expect(notificationText(msg.Message!).split('\n')[0]).toBe(msg.Subject);
    expect(JSON.parse(JSON.parse(msg.Message!).https)).toMatchObject({ version: '1.0', source: 'custom', content: { textType: 'client-markdown', title: msg.Subject } });
    expect(msg.Message).toContain('Metric values:  recent datapoints 12, 17; threshold 5');
    expect(msg.Message).toContain('Weights before: frontend blue 90 / green 10, backend blue 90 / green 10');
    expect(w.metrics).toEqual([expect.objectContaining({ Environment: 'dev', RollbackCompleted: 1 })]);
  });

  test('WHEN the second green alarm (green-latency) fires THEN green is the failed color too', async () => {
    w = world();
    expect(await handleAlarmEvent(w.ctx, event('green-latency'))).toMatchObject({ status: 'rolled-back', failedColor: 'green' });
  });

  test('WHEN the first ModifyRule is throttled THEN it is retried and the rollback completes', async () => {
    w = world();
    let first = true;
    const state = w.state;
    w.elbv2.on(ModifyRuleCommand).callsFake((input: { RuleArn: string; Actions: { ForwardConfig: { TargetGroups: { Weight: number }[] } }[] }) => {
      w.order.push('ModifyRule');
      if (first) {
        first = false;
        throw throttled();
      }
      const svc = input.RuleArn.endsWith('frontend') ? 'frontend' : 'backend';
      state.weights[svc] = [input.Actions[0].ForwardConfig.TargetGroups[0].Weight, input.Actions[0].ForwardConfig.TargetGroups[1].Weight];
      return {};
    });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out.status).toBe('rolled-back');
    expect(w.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(3);
    expect(w.state.weights).toEqual(ALL_BLUE);
  });

  test('WHEN ModifyRule keeps failing THEN it fails loudly: RollbackFailed metric, notification, thrown error, nothing else done', async () => {
    w = world();
    w.elbv2.on(ModifyRuleCommand).rejects(throttled());
    const err = await handleAlarmEvent(w.ctx, event()).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailed);
    expect(err.message).toContain('green may still carry traffic');
    // Both services at once, 5 attempts each, in two passes (the second from a fresh read): 2 × 5 × 2.
    expect(w.elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(20);
    expect(w.metrics).toEqual([expect.objectContaining({ Environment: 'dev', RollbackFailed: 1 })]);
    expect(w.metrics[0]._aws).toEqual({
      Timestamp: expect.any(Number),
      CloudWatchMetrics: [{ Namespace: 'SafeReleases', Dimensions: [['Environment']], Metrics: [{ Name: 'RollbackFailed', Unit: 'Count' }] }],
    });
    expect(published()).toEqual([expect.objectContaining({ Subject: expect.stringMatching(/^\[dev\] ROLLBACK FAILED: alarm green-5xx \| .*green failing$/) })]);
    expect(published()[0].Message).toContain('Action needed: move traffic to blue by hand now');
    for (const c of ['UpdateItem', 'StopExecution', 'UpdateService', 'TransactWriteItems']) expect(w.order).not.toContain(c);
  });

  test('WHEN the first reads keep failing (DescribeRules denied) THEN it fails loudly as RollbackFailed, not as the raw SDK error', async () => {
    w = world();
    w.elbv2.on(DescribeRulesCommand).rejects(denied());
    const err = await handleAlarmEvent(w.ctx, event()).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailed);
    expect(err.name).toBe('RollbackFailed');
    expect(err.message).toContain('the current state could not be read');
    expect(w.metrics).toEqual([expect.objectContaining({ Environment: 'dev', RollbackFailed: 1 })]);
    expect(published()).toEqual([expect.objectContaining({ Subject: expect.stringMatching(/^\[dev\] ROLLBACK FAILED: alarm green-5xx \| .*green failing$/) })]);
    expect(w.order).not.toContain('ModifyRule');
  });

  test('WHEN stopping the release fails THEN the failed color is still scaled down, and it fails loudly as RollbackIncomplete', async () => {
    w = world();
    w.sfn.on(StopExecutionCommand).rejects(denied());
    const err = await handleAlarmEvent(w.ctx, event()).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackIncomplete);
    expect(err.failedSteps).toEqual(['stop release execution']);
    expect(w.state.weights).toEqual(ALL_BLUE);
    expect(w.state.desired).toMatchObject({ 'fe-green': 0, 'be-green': 0 });
    expect(w.order).not.toContain('TransactWriteItems');
    expect(w.metrics).toEqual([expect.objectContaining({ RollbackIncomplete: 1 })]);
    const updates = w.ddb.commandCalls(UpdateItemCommand).map((c) => plain(c.args[0].input).ExpressionAttributeValues);
    expect(updates[1]).toMatchObject({ ':failed': 'failed', ':owner': 'rollback:test' });
    const puts = w.ddb.commandCalls(PutItemCommand).map((c) => plain(c.args[0].input).Item);
    expect(puts.map((i) => i.action)).toEqual(['scale', 'rollback-failed']);
    expect(published()[0].Subject).toBe('[dev] Rollback incomplete: alarm green-5xx | frontend, backend | green -> blue');
  });

  test('WHEN the notification cannot be published after a completed rollback THEN RollbackIncomplete(notify) is thrown', async () => {
    w = world();
    w.sns.on(PublishCommand).rejects(denied());
    await expect(handleAlarmEvent(w.ctx, event())).rejects.toMatchObject({ name: 'RollbackIncomplete', failedSteps: ['notify'] });
    expect(w.order).toContain('TransactWriteItems');
    expect(w.metrics).toEqual([expect.objectContaining({ RollbackIncomplete: 1 })]);
  });

  test('WHEN no release state machine is configured THEN nothing is listed or stopped and the rollback completes', async () => {
    w = world();
    const out = await handleAlarmEvent({ ...w.ctx, releaseStateMachineArn: undefined }, event());
    expect(out).toMatchObject({ status: 'rolled-back', stoppedExecutions: [] });
    expect(w.order).not.toContain('ListExecutions');
    expect(published()[0].Message).toContain('no release state machine configured');
  });

  test('WHEN the topology has no notification topic THEN the rollback completes without publishing', async () => {
    w = world();
    const out = await handleAlarmEvent({ ...w.ctx, topology: { ...topology, notificationTopicArn: undefined } }, event());
    expect(out.status).toBe('rolled-back');
    expect(w.order).not.toContain('Publish');
  });
});

describe('idempotency', () => {
  test('WHEN a rollback of green completed after the event fired THEN the event is a duplicate and nothing is written', async () => {
    w = world({ weights: ALL_BLUE as never, desired: { blue: 2, green: 0 }, marker: { state: 'done', completedAtMs: EVENT_TIME.getTime() + 1, completedAt: 'x' } });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('already handled') });
    expect(writes(w.order)).toEqual([]);
  });

  test('WHEN another invocation holds the claim THEN traffic is verified on blue and nothing else is done', async () => {
    w = world();
    w.ddb.on(UpdateItemCommand).rejects(ccf());
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out.status).toBe('duplicate');
    expect(w.state.weights).toEqual(ALL_BLUE);
    expect(writes(w.order)).toEqual(['ModifyRule', 'ModifyRule']);
  });

  test('WHEN green is already without traffic and scaled to 0 after a completed rollback THEN a later alarm is a no-op', async () => {
    w = world({ weights: ALL_BLUE as never, desired: { blue: 2, green: 0 }, marker: { state: 'done', completedAtMs: EVENT_TIME.getTime() - 1000 } });
    const out = await handleAlarmEvent(w.ctx, event('green-latency'));
    expect(out).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('already rolled back') });
    expect(writes(w.order)).toEqual([]);
  });

  test('WHEN an earlier attempt failed after moving traffic THEN the retry completes the remaining steps', async () => {
    w = world({ weights: ALL_BLUE as never, desired: { blue: 2, green: 0 }, marker: { state: 'failed', owner: 'rollback:earlier' } });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'rolled-back', trafficChanged: false });
    expect(writes(w.order)).toEqual(['UpdateItem', 'DeleteItem', 'StopExecution', 'RegisterScalableTarget', 'UpdateService', 'UpdateService', 'PutItem', 'TransactWriteItems', 'Publish', 'UpdateItem']);
  });

  test('WHEN the claim was taken over before recording THEN this invocation writes no rollback entry', async () => {
    w = world();
    w.ddb.on(TransactWriteItemsCommand).rejects(
      Object.assign(new Error('cancelled'), { name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }], $metadata: {} }),
    );
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('taken over') });
    expect(w.order).not.toContain('Publish');
  });

  test('WHEN the recording transaction conflicts with a concurrent write THEN it is retried', async () => {
    w = world();
    w.ddb
      .on(TransactWriteItemsCommand)
      .rejectsOnce(Object.assign(new Error('conflict'), { name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'TransactionConflict' }], $metadata: {} }))
      .resolves({});
    expect((await handleAlarmEvent(w.ctx, event())).status).toBe('rolled-back');
    expect(w.ddb.commandCalls(TransactWriteItemsCommand)).toHaveLength(2);
  });
});

describe('which color is stable', () => {
  test('GIVEN a release of blue at 10% after green carried all traffic WHEN a blue alarm fires THEN traffic goes back to green', async () => {
    w = world({
      weights: { frontend: [10, 90], backend: [10, 90] },
      ledger: [{ sk: 's1', action: 'shift', weightsBefore: { frontend: { blue: 0, green: 100 }, backend: { blue: 0, green: 100 } }, weightsAfter: { frontend: { blue: 10, green: 90 }, backend: { blue: 10, green: 90 } } }],
    });
    const out = await handleAlarmEvent(w.ctx, event('blue-5xx'));
    expect(out).toMatchObject({ status: 'rolled-back', failedColor: 'blue', stableColor: 'green' });
    expect(w.state.weights).toEqual({ frontend: [0, 100], backend: [0, 100] });
    expect(w.state.desired).toMatchObject({ 'fe-blue': 0, 'be-blue': 0, 'fe-green': 2 });
  });

  test('GIVEN a green canary at 50% (a tie) WHEN a green alarm fires THEN traffic goes back to blue, the color of the ledger', async () => {
    w = world({ weights: { frontend: [50, 50], backend: [50, 50] } });
    expect(await handleAlarmEvent(w.ctx, event('green-5xx'))).toMatchObject({ status: 'rolled-back', stableColor: 'blue' });
  });

  test('GIVEN a green canary at 75% WHEN a green alarm fires THEN traffic goes back to blue although green is live', async () => {
    w = world({ weights: { frontend: [25, 75], backend: [25, 75] } });
    expect(await handleAlarmEvent(w.ctx, event('green-5xx'))).toMatchObject({ status: 'rolled-back', stableColor: 'blue' });
    expect(w.state.weights).toEqual(ALL_BLUE);
  });

  test('GIVEN no ledger history and no release WHEN both colors carry traffic THEN nothing moves and it fails loudly instead of guessing from the weights', async () => {
    w = world({ weights: { frontend: [25, 75], backend: [25, 75] }, ledger: [] });
    const err = await handleAlarmEvent(w.ctx, event('green-5xx')).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailed);
    expect(err.name).toBe('RollbackFailed');
    expect(err.message).toContain('cannot tell which color is stable');
    expect(w.order).not.toContain('ModifyRule');
    expect(w.metrics).toEqual([expect.objectContaining({ RollbackFailed: 1 })]);
    expect(published()[0].Subject).toContain('ROLLBACK FAILED');
  });

  test('GIVEN the ledger cannot be read and no release WHEN both colors carry traffic THEN nothing moves, loudly', async () => {
    w = world();
    w.ddb.on(QueryCommand).rejects(denied());
    const err = await handleAlarmEvent(w.ctx, event('green-5xx')).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailed);
    expect(err.message).toContain('the ledger could not be read');
    expect(w.order).not.toContain('ModifyRule');
  });

  test('GIVEN the ledger cannot be read WHEN a release is in progress THEN its record names the stable color and the rollback happens', async () => {
    w = world({ release: { executionArn: EXEC_ARN, status: 'running', stable: 'blue', candidate: 'green' } });
    w.ddb.on(QueryCommand).rejects(denied());
    const out = await handleAlarmEvent(w.ctx, event('green-5xx'));
    expect(out).toMatchObject({ status: 'rolled-back', stableColor: 'blue' });
    expect(w.state.weights).toEqual(ALL_BLUE);
  });

  test('GIVEN the release began long ago (its start is not on the first ledger page) WHEN the new color alarms in the final bake (100 % on it) THEN the release record makes it a rollback, not a notify-only', async () => {
    const page = Array.from({ length: 50 }, (_, i) => ({
      pk: 'dev',
      sk: `2030-01-01T00:0${Math.floor(i / 10)}:${String(i % 10).padStart(2, '0')}.000Z#x`,
      action: 'release:gate-passed',
    }));
    w = world({
      weights: { frontend: [0, 100], backend: [0, 100] },
      ledger: page as never,
      release: { executionArn: EXEC_ARN, status: 'running', stable: 'blue', candidate: 'green' },
    });
    const out = await handleAlarmEvent(w.ctx, event('green-5xx'));
    expect(out).toMatchObject({ status: 'rolled-back', failedColor: 'green', stableColor: 'blue', trafficChanged: true });
    expect(w.state.weights).toEqual(ALL_BLUE);
    expect(w.state.desired).toMatchObject({ 'fe-green': 0, 'be-green': 0, 'fe-blue': 2, 'be-blue': 2 });
  });

  test('GIVEN a record left running by an execution that no longer holds the lock WHEN the live color alarms THEN the stale record is not believed', async () => {
    w = world({ weights: { frontend: [0, 100], backend: [0, 100] }, release: { executionArn: EXEC_ARN, status: 'running', stable: 'blue', candidate: 'green' } });
    // The lock is gone (released or revoked): the record is stale.
    w.ddb.on(GetItemCommand).callsFake((input: { Key: { pk: { S: string } } }) =>
      input.Key.pk.S.endsWith('#release') ? { Item: item({ pk: input.Key.pk.S, executionArn: EXEC_ARN, status: 'running', stable: 'blue', candidate: 'green' }) } : {},
    );
    const out = await handleAlarmEvent(w.ctx, event('green-5xx'));
    expect(out).toMatchObject({ status: 'notify-only', reason: expect.stringContaining('green carries all traffic') });
    expect(w.order).not.toContain('ModifyRule');
  });

  test('GIVEN a release in progress WHEN its STABLE color alarms THEN only a notification (the new color is not proven)', async () => {
    w = world({ weights: { frontend: [0, 100], backend: [0, 100] }, release: { executionArn: EXEC_ARN, status: 'running', stable: 'blue', candidate: 'green' } });
    const out = await handleAlarmEvent(w.ctx, event('blue-5xx'));
    expect(out).toMatchObject({ status: 'notify-only', reason: expect.stringContaining('stable color of the release in progress') });
    expect(w.order).not.toContain('ModifyRule');
  });
});

describe('notify only, nothing moved', () => {
  const nothingMoved = () => {
    expect(writes(w.order)).toEqual(['Publish']);
    expect(published()[0].Subject).toContain('ACTION NEEDED');
    expect(published()[0].Message).toContain('traffic was NOT moved');
  };

  test('WHEN a blue (stable) alarm fires during a green canary THEN only a notification', async () => {
    w = world();
    const out = await handleAlarmEvent(w.ctx, event('blue-5xx'));
    expect(out).toMatchObject({ status: 'notify-only', failedColor: 'blue', stableColor: 'blue' });
    expect(w.state.weights).toEqual(CANARY);
    nothingMoved();
  });

  test('WHEN the alarm is on the color carrying all traffic THEN only a notification', async () => {
    w = world({ weights: ALL_BLUE as never });
    const out = await handleAlarmEvent(w.ctx, event('blue-5xx'));
    expect(out).toMatchObject({ status: 'notify-only', reason: expect.stringContaining('blue carries all traffic') });
    nothingMoved();
  });

  test('WHEN the stable color is scaled to 0 THEN only a notification', async () => {
    w = world({ desired: { blue: 0, green: 2 } });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'notify-only', reason: expect.stringContaining('the stable color blue is not running') });
    nothingMoved();
  });

  test('WHEN the stable color has no healthy targets THEN the health guard refuses and only a notification (and the refusal ledger entry)', async () => {
    w = world({ healthyTargets: 0 });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'notify-only', reason: expect.stringContaining('refused: frontend blue has no registered targets') });
    expect(writes(w.order)).toEqual(['PutItem', 'Publish']);
    expect(plain(w.ddb.commandCalls(PutItemCommand)[0].args[0].input).Item).toMatchObject({ action: 'refused' });
    expect(w.state.weights).toEqual(CANARY);
  });
});

describe('events that change nothing', () => {
  test('WHEN the alarm is not a rollback alarm of the environment THEN ignored without any AWS call', async () => {
    w = world();
    const out = await handleAlarmEvent(w.ctx, event('prod-green-5xx'));
    expect(out).toMatchObject({ status: 'ignored', reason: expect.stringContaining('is not a rollback alarm of dev') });
    expect(w.order).toEqual([]);
  });

  test('WHEN the alarm went to OK THEN ignored without any AWS call', async () => {
    w = world();
    expect(await handleAlarmEvent(w.ctx, event('green-5xx', { state: 'OK' }))).toMatchObject({ status: 'ignored' });
    expect(w.order).toEqual([]);
  });

  test('WHEN an alarm is listed for both colors THEN ignored: the failed color is unknown', async () => {
    w = world();
    const both = { ...topology, rollbackAlarmNames: { blue: ['shared-5xx'], green: ['shared-5xx'] } };
    const out = await handleAlarmEvent({ ...w.ctx, topology: both }, event('shared-5xx'));
    expect(out).toMatchObject({ status: 'ignored', reason: expect.stringContaining('both colors') });
    expect(w.order).toEqual([]);
  });

  test('WHEN the event is malformed THEN it throws InvalidAlarmEvent without any AWS call', async () => {
    w = world();
    await expect(handleAlarmEvent(w.ctx, { source: 'aws.cloudwatch' })).rejects.toBeInstanceOf(InvalidAlarmEvent);
    expect(w.order).toEqual([]);
  });
});

describe('partial failure and crashes (issue "Failure-safe", section 1)', () => {
  test('WHEN an invocation died after claiming and before recording (marker in-progress, same request id) THEN its retry records exactly one rollback and notifies', async () => {
    w = world({ weights: ALL_BLUE as never, desired: { blue: 2, green: 0 }, marker: { state: 'in-progress', owner: 'rollback:test', leaseExpiresAt: 9e9 } });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'rolled-back', trafficChanged: false });
    expect(w.order.filter((c) => c === 'TransactWriteItems')).toHaveLength(1);
    expect(published()).toHaveLength(1);
  });

  test('WHEN an invocation died after recording and before notifying THEN the retry publishes the stored notification, records nothing more', async () => {
    const stored = { kind: 'rolled-back', event: { alarmName: 'green-5xx', alarmArn: 'arn', state: 'ALARM', previousState: 'OK', time: EVENT_TIME.toISOString(), reason: 'r', metrics: {} }, failedColor: 'green', stableColor: 'blue', headline: 'Automatic rollback of dev', done: ['traffic moved'] };
    w = world({
      weights: ALL_BLUE as never,
      desired: { blue: 2, green: 0 },
      marker: { state: 'done', completedAtMs: EVENT_TIME.getTime() + 1, completedAt: 'x', ledgerSk: 'sk-1', notification: JSON.stringify(stored) },
    });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('its notification was sent now') });
    expect(writes(w.order)).toEqual(['Publish', 'UpdateItem']);
    expect(published()[0].Subject).toMatch(/^\[dev\] Automatic rollback: alarm green-5xx \| .*green -> blue$/);
  });

  test('the completing transaction stores the notification, and it is removed once published', async () => {
    w = world();
    await handleAlarmEvent(w.ctx, event());
    const tx = plain(w.ddb.commandCalls(TransactWriteItemsCommand)[0].args[0].input).TransactItems;
    expect(JSON.parse(tx[1].Update.ExpressionAttributeValues[':n'])).toMatchObject({ kind: 'rolled-back', failedColor: 'green' });
    const last = plain(w.ddb.commandCalls(UpdateItemCommand).at(-1)!.args[0].input);
    expect(last.UpdateExpression).toBe('SET notifiedAt = :at REMOVE notification');
  });

  test('fails WHEN a notify-only outcome cannot publish THEN it is loud (RollbackFailed, metric), not a success', async () => {
    w = world();
    w.sns.on(PublishCommand).rejects(denied());
    const err = await handleAlarmEvent(w.ctx, event('blue-5xx')).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailed);
    expect(err.message).toContain('The notification could not be published');
    expect(w.metrics).toEqual([expect.objectContaining({ RollbackFailed: 1, notification: 'failed' })]);
    expect(w.order).not.toContain('ModifyRule');
  });

  test('WHEN a stopped release\'s late write lands after the move THEN the same invocation moves it back and says so', async () => {
    w = world();
    // The release's last ModifyRule lands just as it is stopped.
    w.sfn.on(StopExecutionCommand).callsFake(() => {
      w.state.weights.frontend = [50, 50];
      return {};
    });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out.status).toBe('rolled-back');
    expect(w.state.weights).toEqual(ALL_BLUE);
    const tx = plain(w.ddb.commandCalls(TransactWriteItemsCommand)[0].args[0].input).TransactItems;
    expect(tx[0].Put.Item.detail.done).toContainEqual(expect.stringContaining('corrected a late write that put traffic back on green (frontend blue 50 / green 50)'));
  });

  test('the release lock of the stopped execution is revoked before StopExecution (the fence)', async () => {
    w = world();
    await handleAlarmEvent(w.ctx, event());
    expect(w.order.indexOf('DeleteItem')).toBeLessThan(w.order.indexOf('StopExecution'));
    expect(plain(w.ddb.commandCalls(DeleteItemCommand)[0].args[0].input).ExpressionAttributeValues).toEqual({ ':owner': EXEC_ARN });
  });

  test('WHEN the backend write is denied THEN the frontend stays on blue and RollbackFailed says what moved', async () => {
    w = world();
    w.elbv2.on(ModifyRuleCommand, { RuleArn: 'arn:rule/backend' }).rejects(denied());
    const err = await handleAlarmEvent(w.ctx, event()).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailed);
    expect(err.message).toContain('(backend not moved; frontend moved and kept)');
    expect(w.state.weights.frontend).toEqual([100, 0]);
    expect(w.state.weights.backend).toEqual([90, 10]);
  });
});

describe('races with the release found in review', () => {
  test('fails WHEN the release\'s Finish scales the stable color to 0 after traffic moved to it THEN blue is restored, green is NOT scaled down, and it ends loud (RollbackIncomplete)', async () => {
    w = world();
    // Finish's scale-down of blue, checked before the rollback moved traffic, lands while the release is stopped.
    w.sfn.on(StopExecutionCommand).callsFake(() => {
      w.state.desired['fe-blue'] = 0;
      w.state.desired['be-blue'] = 0;
      return {};
    });
    const err = await handleAlarmEvent(w.ctx, event()).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackIncomplete);
    expect(err.failedSteps).toEqual(['keep blue running']);
    expect(w.state.weights).toEqual(ALL_BLUE);
    expect(w.state.desired).toMatchObject({ 'fe-blue': 2, 'be-blue': 2, 'fe-green': 2, 'be-green': 2 });
    expect(w.metrics).toEqual([expect.objectContaining({ RollbackIncomplete: 1 })]);
  });

  test('WHEN revoking the lock fails THEN the execution is still stopped, and the failure is reported', async () => {
    w = world();
    w.ddb.on(DeleteItemCommand).rejects(denied());
    const err = await handleAlarmEvent(w.ctx, event()).catch((e) => e);
    expect(w.sfn.commandCalls(StopExecutionCommand)).toHaveLength(1);
    expect(err).toBeInstanceOf(RollbackIncomplete);
    expect(err.message).toContain('revoking the lock of');
    expect(w.state.desired).toMatchObject({ 'fe-green': 0, 'be-green': 0 });
  });

  test('WHEN a late write lands after the first re-read (during the scale-down) THEN the last look before recording moves it back', async () => {
    w = world();
    w.ecs.on(UpdateServiceCommand).callsFake((input: { service: string; desiredCount: number }) => {
      w.state.desired[input.service] = input.desiredCount;
      w.state.weights.backend = [70, 30];
      return {};
    });
    const out = await handleAlarmEvent(w.ctx, event());
    expect(out.status).toBe('rolled-back');
    expect(w.state.weights).toEqual(ALL_BLUE);
  });

  test('a failure marker never replaces a done one (the recording landed though its confirmation failed)', async () => {
    w = world();
    w.sfn.on(StopExecutionCommand).rejects(denied());
    await handleAlarmEvent(w.ctx, event()).catch(() => undefined);
    const fail = w.ddb.commandCalls(UpdateItemCommand).map((c) => plain(c.args[0].input)).find((i) => i.UpdateExpression?.includes(':failed'));
    expect(fail!.ConditionExpression).toBe('#owner = :owner AND #state = :inProgress');
  });
});
