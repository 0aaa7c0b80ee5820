/**
 * Crash detection and the watched bakes as synthesized for production: the rule on the cluster's crash-like task
 * stops, the crash Lambda (settings, role, failure handling), and the release state machine's bake loops with their
 * history and timeout budget.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../config';
import { HISTORY_EVENTS_LIMIT, stateMachineTimeoutSeconds, worstCaseHistoryEvents } from '../../lambda/release/policy';
import { EventPatternSize } from '../../lib/nag/rules/EventPatternSize';
import { NagRuleCompliance } from 'cdk-nag';
import { CfnResource } from 'aws-cdk-lib';
import { definitionFromTemplate } from '../release/rehearsal';
import { resourcesOf, synthEnvironment } from './support';

const synth = synthEnvironment('production');
const stack = synth.stage.stateless;
const template = synth.stateless;
const fnId = stack.getLogicalId(stack.crashDetection.handler.function.node.defaultChild as CfnResource);
const roleId = stack.getLogicalId(stack.crashDetection.handler.role.node.defaultChild as CfnResource);
const crashConfig = ENVIRONMENTS.production.monitoring.crash;

test('the rule matches crash-like STOPPED service tasks of this cluster only and invokes the crash Lambda with retries', () => {
  const [[, rule]] = resourcesOf(template, 'AWS::Events::Rule').filter(([id]) => id.startsWith('CrashDetectionOnTaskStopped'));
  expect(rule.Properties.EventPattern).toEqual({
    source: ['aws.ecs'],
    'detail-type': ['ECS Task State Change'],
    detail: {
      clusterArn: [{ 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Arn'] }],
      lastStatus: ['STOPPED'],
      group: [{ prefix: 'service:' }],
      $or: [{ stopCode: ['EssentialContainerExited', 'TaskFailedToStart'] }, { stoppedReason: [{ prefix: 'Task failed' }] }],
    },
  });
  expect(rule.Properties.Targets).toEqual([
    expect.objectContaining({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 600 } }),
  ]);
  // Within EventBridge's 2,048-character pattern quota (the deploy-invariant rule passes on it).
  expect(EventPatternSize(stack.crashDetection.rule.node.defaultChild as CfnResource)).toBe(NagRuleCompliance.COMPLIANT);
});

test('the crash Lambda gets its thresholds from config, the rollback budget as timeout, and failed async invocations go to the topic', () => {
  const fn = template.toJSON().Resources[fnId];
  expect(fn.Properties.Timeout).toBe(120);
  expect(fn.Properties.Environment.Variables).toMatchObject({
    CRASH_TASKS: String(crashConfig.tasks),
    CRASH_WINDOW_SECONDS: String(crashConfig.windowSeconds),
    RELEASE_STATE_MACHINE_ARN: { Ref: expect.stringMatching(/^ReleaseStateMachine/) },
  });
  template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
    FunctionName: { Ref: fnId },
    MaximumRetryAttempts: 2,
    DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
  });
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'Errors',
    Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
    AlarmActions: [Match.anyValue()],
  });
});

test("the crash Lambda's role is the rollback's: traffic control, the topic, and the release state machine's executions", () => {
  const statements = resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
  const actions = new Set(statements.flatMap((s) => [s.Action].flat()));
  for (const a of ['states:ListExecutions', 'states:StopExecution', 'sns:Publish', 'elasticloadbalancing:ModifyRule', 'ecs:UpdateService', 'dynamodb:UpdateItem']) expect(actions).toContain(a);
  const stop = statements.find((s) => [s.Action].flat().includes('states:StopExecution'))!;
  expect(JSON.stringify(stop.Resource)).toContain(':execution:');
  expect(actions).not.toContain('dynamodb:DeleteTable');
});

describe('the watched bakes of the release state machine', () => {
  const definition = definitionFromTemplate(template);
  const policy = ENVIRONMENTS.production.release;

  test.each([
    ['Bake', policy.bakeSeconds, 'Gate'],
    ['FinalBake', policy.finalBakeSeconds, 'FinalGate'],
    ['RollbackWindow', policy.rollbackWindowSeconds, 'WindowGate'],
  ])('%s of %d s: start the clock, wait, watch (failures to SafeState), done → %s', (id, seconds, next) => {
    const s = definition.States;
    expect(s[id]).toMatchObject({ Type: 'Pass', ResultPath: '$.watch', Next: `${id}Wait` });
    expect(s[id].Parameters).toEqual({ 'since.$': '$$.State.EnteredTime', seconds, percent: ENVIRONMENTS.production.monitoring.unhealthyTargetsPercent, polls: crashConfig.unhealthyPolls, strikes: 0 });
    expect(s[`${id}Wait`]).toEqual({ Type: 'Wait', Seconds: crashConfig.pollSeconds, Next: `${id}Watch` });
    const watch = s[`${id}Watch`];
    expect(watch).toMatchObject({ Type: 'Task', ResultPath: '$.watch', TimeoutSeconds: 120, Next: `${id}Done?` });
    expect(watch.Parameters).toEqual({ step: 'watch', 'release.$': '$.release', 'watch.$': '$.watch' });
    expect(watch.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'SafeState' })]);
    expect(s[`${id}Done?`]).toEqual({ Type: 'Choice', Choices: [{ Variable: '$.watch.done', BooleanEquals: true, Next: next }], Default: `${id}Wait` });
  });

  test('the overall timeout counts one poll past every bake', () => {
    expect(definition.TimeoutSeconds).toBe(stateMachineTimeoutSeconds(policy));
  });

  test.each(Object.keys(ENVIRONMENTS))('%s: the longest execution stays far below the 25,000 history events', (name) => {
    const c = ENVIRONMENTS[name as keyof typeof ENVIRONMENTS];
    expect(worstCaseHistoryEvents(c.release, c.monitoring.crash.pollSeconds)).toBeLessThan(HISTORY_EVENTS_LIMIT / 4);
  });
});
