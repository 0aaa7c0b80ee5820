/** Template assertions on a small stack with ReleaseStateMachine: least privilege, timeouts, logging, definition shape. */
import { Match } from 'aws-cdk-lib/assertions';
import { stateMachineTimeoutSeconds, TASK_TIMEOUT_SECONDS } from '../../lambda/release/policy';
import { definitionFromTemplate } from './rehearsal';
import { buildReleaseTestStack, TEST_POLICY } from './stack';

const { template } = buildReleaseTestStack(TEST_POLICY);
const definition = definitionFromTemplate(template);
const json = template.toJSON();

function roleStatements(rolePrefix: string): any[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
  const role = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith(rolePrefix))!;
  return policies.filter((p) => p.Properties.Roles.some((r: any) => r.Ref === role)).flatMap((p) => p.Properties.PolicyDocument.Statement);
}
const handlerStatements = () => roleStatements('ReleaseHandlerRole');
const backupStatements = () => roleStatements('ReleaseBackupHandlerRole');
const judgeStatements = () => roleStatements('ReleaseJudgeHandlerRole');
const actionsOf = (s: any): string[] => [].concat(s.Action);
const statementsWith = (action: string, statements = handlerStatements()) => statements.filter((s) => actionsOf(s).includes(action));
const logicalIds = (type: string, prefix = '') => Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));

test('ModifyRule is granted on the rules of the production listener only (one statement for any number of services)', () => {
  const [s, ...more] = statementsWith('elasticloadbalancing:ModifyRule');
  expect(more).toEqual([]);
  const pattern = JSON.stringify(s.Resource);
  expect(pattern).toContain(':listener-rule/');
  expect(pattern).toMatch(/"Ref":"AlbHttp[0-9A-F]{8}"/);
  expect(pattern).not.toContain('"*"');
});

test('UpdateService is granted on the services of the cluster only, never on *', () => {
  const [s] = statementsWith('ecs:UpdateService');
  expect(s.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecs:us-east-1:123456789012:service/', { Ref: expect.stringMatching(/^Cluster/) }, '/*']] });
});

test('wildcard resources only for actions without resource-level permissions; RunTask pinned to the cluster', () => {
  const star = handlerStatements().filter((s) => s.Resource === '*').flatMap(actionsOf).sort();
  expect(star).toEqual(
    [
      'application-autoscaling:RegisterScalableTarget',
      'cloudwatch:DescribeAlarms',
      'cloudwatch:PutMetricData',
      'ec2:AssignPrivateIpAddresses',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:UnassignPrivateIpAddresses',
      'ecs:DescribeTaskDefinition',
      'ecs:ListTasks',
      'elasticloadbalancing:DescribeRules',
      'elasticloadbalancing:DescribeTargetHealth',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ].sort(),
  );
  const [run] = statementsWith('ecs:RunTask');
  expect(run.Condition).toEqual({ ArnEquals: { 'ecs:cluster': expect.anything() } });
  expect(run.Resource).toHaveLength(2);
  const [pass] = statementsWith('iam:PassRole');
  expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  // Read-only, as the traffic core's other callers have it: the rollback alarm list grows with every service.
  expect(statementsWith('dynamodb:DeleteItem')).toHaveLength(1);
  expect(statementsWith('sns:Publish')).toHaveLength(1);
  // Nothing the release does not call.
  for (const a of ['elasticloadbalancing:*', 'ecs:*', 'dynamodb:*', 'rds:*', 'states:*', 'ecs:DeleteService', 'rds:DeleteDBInstance']) {
    expect(statementsWith(a)).toEqual([]);
  }
});

test('only the backup function may call RDS; it gets the RDS calls, the topology read, the ledger entry and the notification, nothing else', () => {
  expect(handlerStatements().flatMap(actionsOf).filter((a) => a.startsWith('rds:'))).toEqual([]);
  const backup = backupStatements();
  expect(statementsWith('rds:CreateDBSnapshot', backup)[0].Resource).toHaveLength(2);
  expect(JSON.stringify(statementsWith('rds:DescribeDBInstances', backup)[0].Resource)).toContain(':db:');
  const services = new Set(backup.flatMap(actionsOf).map((a) => a.split(':')[0]));
  expect([...services].filter((s) => !['dynamodb', 'ec2', 'kms', 'logs', 'rds', 'sns', 'xray'].includes(s))).toEqual([]);
  expect(backup.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
  expect(JSON.stringify(statementsWith('dynamodb:GetItem', backup)[0].Resource)).toContain('Lock');
  for (const a of ['elasticloadbalancing:ModifyRule', 'ecs:UpdateService', 'ecs:RunTask', 'dynamodb:DeleteItem', 'cloudwatch:DescribeAlarms']) {
    expect(statementsWith(a, backup)).toEqual([]);
  }
});

test('the Backup Task invokes the backup function, the Judge Task the judge function; every other Task the release function', () => {
  const fns = Object.keys(template.findResources('AWS::Lambda::Function'));
  const backupFn = fns.find((id) => id.startsWith('ReleaseBackupHandlerFunction'))!;
  const judgeFn = fns.find((id) => id.startsWith('ReleaseJudgeHandlerFunction'))!;
  const releaseFn = fns.find((id) => id.startsWith('ReleaseHandlerFunction'))!;
  expect(definition.States.Backup.Resource).toBe(`arn:aws:lambda:us-east-1:123456789012:function:${backupFn}`);
  expect(definition.States.Judge.Resource).toBe(`arn:aws:lambda:us-east-1:123456789012:function:${judgeFn}`);
  const others = Object.entries(definition.States).filter(([name, s]) => s.Type === 'Task' && name !== 'Backup' && name !== 'Judge');
  for (const [name, s] of others) expect([name, JSON.stringify(s)]).toEqual([name, expect.stringContaining(`function:${releaseFn}`)]);
});

test('every Task has TimeoutSeconds, retries transient Lambda errors and (except SafeState, HoldState and Finish) catches into SafeState', () => {
  const tasks = Object.entries(definition.States).filter(([, s]) => s.Type === 'Task');
  expect(tasks.length).toBeGreaterThanOrEqual(12);
  for (const [name, s] of tasks) {
    expect([name, typeof s.TimeoutSeconds]).toEqual([name, 'number']);
    expect([name, s.Retry?.length > 0]).toEqual([name, true]);
    const toSafe = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'SafeState' };
    const toHold = { ErrorEquals: ['ReleaseHeld', 'OperatorOverride'], ResultPath: '$.error', Next: 'HoldState' };
    if (name === 'SafeState') expect(s.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.safeError', Next: 'SafeStateFailed' }]);
    else if (name === 'HoldState') expect(s.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.holdError', Next: 'HoldFailed' }]);
    // Finish never rolls back: an operator's change holds, anything else ends in FinishIncomplete.
    else if (name === 'Finish') expect(s.Catch).toEqual([toHold, { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FinishIncomplete' }]);
    // Catchers run in order: ReleaseHeld (an alarm of the stable color) and OperatorOverride (someone else moved the
    // weights) must reach HoldState before States.ALL rolls back.
    else if (['Shift', 'Gate', 'Judge', 'FinalGate', 'WindowGate'].includes(name)) expect([name, s.Catch]).toEqual([name, [toHold, toSafe]]);
    else expect([name, s.Catch]).toEqual([name, [toSafe]]);
  }
});

test('fails-first: a SafeStateFailed (already reported by the step) is never retried, so it is reported once; a Lambda crash of the safe state is', () => {
  const retry: { ErrorEquals: string[]; MaxAttempts: number }[] = definition.States.SafeState.Retry;
  const own = retry.findIndex((r) => r.ErrorEquals.includes('SafeStateFailed'));
  const all = retry.findIndex((r) => r.ErrorEquals.includes('States.ALL'));
  // Retriers are evaluated in order: the first match decides.
  expect(retry[own]).toEqual({ ErrorEquals: ['SafeStateFailed'], MaxAttempts: 0 });
  expect(own).toBeLessThan(all);
  expect(retry[all]).toMatchObject({ MaxAttempts: 3 });
  expect(definition.States.HoldState.Next).toBe('ReleaseHeld');
  expect(definition.States.ReleaseHeld).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  expect(definition.States.Shift.TimeoutSeconds).toBe(TASK_TIMEOUT_SECONDS);
  expect(definition.States.SafeState.Next).toBe('ReleaseFailed');
});

// Regression (failure-safe §2): a failure after Finish scaled the old color to 0 went to SafeState, which sent all
// traffic back to that color and scaled the new one to 0: both colors at 0 tasks.
test('Finish never reaches SafeState: no path from Finish leads to a rollback', () => {
  const catches = (definition.States.Finish.Catch ?? []).map((c: any) => c.Next);
  expect(catches).not.toContain('SafeState');
  expect(definition.States.FinishIncomplete).toEqual(expect.objectContaining({ Type: 'Fail', Error: 'FinishIncomplete', CausePath: '$.error.Cause' }));
  expect(definition.States.Finish.Next).toBe('Released');
});

test('Bake → Gate → Judge → ExtendBake?: an inconclusive judge with extensions left bakes again, else on to approval or the next shift', () => {
  const { States } = definition;
  expect(States.Bake.Next).toBe('Gate');
  expect(States.Gate.Next).toBe('Judge');
  expect(States.Judge).toMatchObject({ Type: 'Task', ResultPath: '$.release', Parameters: { step: 'judge', 'release.$': '$.release' }, Next: 'ExtendBake?' });
  expect(States['ExtendBake?']).toEqual({
    Type: 'Choice',
    Comment: expect.any(String),
    Choices: [{ Variable: '$.release.extend', BooleanEquals: true, Next: 'Bake' }],
    Default: 'ApprovalNeeded?',
  });
  expect(States['ApprovalNeeded?']).toMatchObject({ Choices: [{ Variable: '$.release.awaitApproval', BooleanEquals: true, Next: 'Approval' }], Default: 'Shift' });
  // The final and window gates at 100% are not judged (no stable load to compare): straight on.
  expect(States.FinalGate.Next).toBe('RollbackWindow');
  expect(States.WindowGate.Next).toBe('Finish');
  // Without approval the Choice goes straight to the next shift.
  const lean = definitionFromTemplate(buildReleaseTestStack({ ...TEST_POLICY, approvalAfterFirstStep: false }).template);
  expect(lean.States['ExtendBake?']).toMatchObject({ Choices: [{ Variable: '$.release.extend', BooleanEquals: true, Next: 'Bake' }], Default: 'Shift' });
});

test('only the judge function may call GetMetricData (on *: no resource-level permissions); it gets the topology read, the ledger entry and the notification, nothing else', () => {
  const judge = judgeStatements();
  const [metrics, ...more] = statementsWith('cloudwatch:GetMetricData', judge);
  expect(more).toEqual([]);
  expect(metrics).toMatchObject({ Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' });
  expect(statementsWith('cloudwatch:GetMetricData')).toEqual([]);
  expect(statementsWith('cloudwatch:GetMetricData', backupStatements())).toEqual([]);
  const services = new Set(judge.flatMap(actionsOf).map((a) => a.split(':')[0]));
  expect([...services].filter((s) => !['cloudwatch', 'dynamodb', 'ec2', 'kms', 'logs', 'sns', 'xray'].includes(s))).toEqual([]);
  expect(judge.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
  expect(JSON.stringify(statementsWith('dynamodb:GetItem', judge)[0].Resource)).toContain('Lock');
  expect(JSON.stringify(statementsWith('dynamodb:PutItem', judge)[0].Resource)).toContain('Ledger');
  expect(JSON.stringify(statementsWith('dynamodb:PutItem', judge)[0].Resource)).not.toContain('Lock');
  expect(statementsWith('sns:Publish', judge)).toHaveLength(1);
  for (const a of ['elasticloadbalancing:ModifyRule', 'ecs:UpdateService', 'cloudwatch:DescribeAlarms', 'cloudwatch:PutMetricData', 'dynamodb:DeleteItem', 'dynamodb:Query']) {
    expect(statementsWith(a, judge)).toEqual([]);
  }
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Description?.includes('judge')) as any;
  expect(Object.keys(fn.Properties.Environment.Variables).sort()).toEqual(['POWERTOOLS_SERVICE_NAME', 'RELEASE_POLICY', 'TOPOLOGY_TABLE', 'TOPOLOGY_VERSION']);
  expect(JSON.parse(fn.Properties.Environment.Variables.RELEASE_POLICY).judge).toEqual(TEST_POLICY.judge);
});

test('an alarm on ReleaseSafeStateFailed (Sum >= 1 in 1 min) notifies the topic', () => {
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => a.Properties.MetricName === 'ReleaseSafeStateFailed') as any[];
  expect(alarms).toHaveLength(1);
  expect(alarms[0].Properties).toMatchObject({
    Namespace: 'SafeReleases',
    Statistic: 'Sum',
    Period: 60,
    Threshold: 1,
    EvaluationPeriods: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
    Dimensions: [{ Name: 'Environment', Value: expect.any(String) }],
  });
  expect(JSON.stringify(alarms[0].Properties.AlarmActions)).toContain(logicalIds('AWS::SNS::Topic')[0]);
});

test('the release handler may Query the ledger (completed releases, downgrade check) and nothing more on it', () => {
  const query = statementsWith('dynamodb:Query');
  expect(query).toHaveLength(1);
  expect(JSON.stringify(query[0].Resource)).toContain('Ledger');
  expect(JSON.stringify(query[0].Resource)).not.toContain('Lock');
});

test('the state machine has an overall timeout, ALL logging to an encrypted log group and X-Ray tracing', () => {
  expect(definition.TimeoutSeconds).toBe(stateMachineTimeoutSeconds(TEST_POLICY));
  template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
    StateMachineType: 'STANDARD',
    TracingConfiguration: { Enabled: true },
    LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [Match.anyValue()] },
  });
  const logGroup = json.Resources[logicalIds('AWS::Logs::LogGroup', 'ReleaseLogs')[0]];
  expect(logGroup.Properties.KmsKeyId).toBeDefined();
});

test('waits come from the policy and the approval waits for a task token with the approval timeout', () => {
  expect(definition.States.Bake.Seconds).toBe(TEST_POLICY.bakeSeconds);
  expect(definition.States.FinalBake.Seconds).toBe(TEST_POLICY.finalBakeSeconds);
  expect(definition.States.RollbackWindow.Seconds).toBe(TEST_POLICY.rollbackWindowSeconds);
  const approval = definition.States.Approval;
  expect(approval.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
  expect(approval.HeartbeatSeconds).toBe(TEST_POLICY.approvalTimeoutSeconds);
  expect(approval.Parameters.Payload['token.$']).toBe('$$.Task.Token');
});

test('the handler gets its wiring as environment variables', () => {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Environment?.Variables?.LOCK_TTL_SECONDS) as any;
  const vars = fn.Properties.Environment.Variables;
  expect(JSON.parse(vars.RELEASE_POLICY)).toEqual(TEST_POLICY);
  expect(Object.keys(vars)).toEqual(
    expect.arrayContaining(['TOPOLOGY_TABLE', 'TOPOLOGY_VERSION', 'MIGRATION_TASK_DEFINITIONS', 'MIGRATION_CONTAINER_NAME', 'MIGRATION_SUBNETS', 'MIGRATION_SECURITY_GROUPS', 'LOCK_TTL_SECONDS']),
  );
  expect(Object.keys(vars)).not.toEqual(
    // Comparison alarm names grow with the services: they are in the stored topology, not the 4 KB environment.
    expect.arrayContaining(['COMPARISON_ALARM_NAMES']),
  );
  expect(vars.LOCK_TTL_SECONDS).toBe(String(stateMachineTimeoutSeconds(TEST_POLICY)));
  expect(vars.DATABASE_INSTANCE_ID).toBeUndefined();
  const backup = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Environment?.Variables?.DATABASE_INSTANCE_ID) as any;
  expect(Object.keys(backup.Properties.Environment.Variables).sort()).toEqual(['DATABASE_INSTANCE_ID', 'POWERTOOLS_SERVICE_NAME', 'TOPOLOGY_TABLE', 'TOPOLOGY_VERSION']);
});

// Regression (#15): FAILED was missing, so an execution whose safe state did not run kept the lock until its lease ended.
test('an execution that times out, is stopped or fails triggers the clean-up step', () => {
  template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { source: ['aws.states'], detail: { status: ['TIMED_OUT', 'ABORTED', 'FAILED'] } },
    Targets: [Match.objectLike({ InputTransformer: Match.objectLike({ InputTemplate: Match.stringLikeRegexp('"step":"abandoned"') }) })],
  });
});

test('without backup and migration in the policy those states are absent; the policy is checked against the props', () => {
  const leanTemplate = buildReleaseTestStack({ ...TEST_POLICY, backupBeforeRelease: false, migrationCommand: undefined, approvalAfterFirstStep: false }).template;
  const lean = definitionFromTemplate(leanTemplate);
  expect(Object.keys(lean.States)).not.toEqual(expect.arrayContaining(['Backup']));
  expect(lean.States.Backup).toBeUndefined();
  expect(lean.States.StartMigration).toBeUndefined();
  expect(lean.States.Approval).toBeUndefined();
  expect(lean.States.Preflight.Next).toBe('ScaleUp');
  expect(logicalIds('AWS::Lambda::Function', 'ReleaseBackupHandler')).toHaveLength(1);
  expect(Object.keys(leanTemplate.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('ReleaseBackupHandler'))).toEqual([]);

});
