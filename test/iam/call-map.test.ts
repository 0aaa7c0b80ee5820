/**
 * The IAM call map (test/support/iam-calls.ts): one recorded SDK call → the actions, resources and context keys it is
 * authorized as. An unmapped command must fail, so a new call cannot slip past the IAM check.
 */
import { authorizationsOf, UnmappedCommand } from '../support/iam-calls';

const S = { partition: 'aws', region: 'us-east-1', account: '123456789012' };
const A = (client: string, command: string, input: object, output?: object, facts = {}) => authorizationsOf({ client, command, input, output }, S, facts);
const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:123456789012:cluster/production-cluster';

test('ELBv2 ModifyRule is authorized on the rule; DescribeRules on * (no resource-level permissions)', () => {
  const rule = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/alb/1/2/3';
  expect(A('elbv2', 'ModifyRule', { RuleArn: rule, Actions: [] })).toEqual([{ action: 'elasticloadbalancing:ModifyRule', resource: rule }]);
  expect(A('elbv2', 'DescribeRules', { RuleArns: [rule] })).toEqual([{ action: 'elasticloadbalancing:DescribeRules', resource: '*' }]);
  expect(A('elbv2', 'SetRulePriorities', { RulePriorities: [{ RuleArn: rule, Priority: 1 }] })).toEqual([{ action: 'elasticloadbalancing:SetRulePriorities', resource: rule }]);
});

test('ECS UpdateService / DescribeServices: the service ARN from cluster + name, with the ecs:cluster condition key', () => {
  expect(A('ecs', 'UpdateService', { cluster: 'production-cluster', service: 'production-frontend-blue', desiredCount: 0 })).toEqual([
    {
      action: 'ecs:UpdateService',
      resource: 'arn:aws:ecs:us-east-1:123456789012:service/production-cluster/production-frontend-blue',
      context: { 'ecs:cluster': CLUSTER_ARN },
    },
  ]);
  expect(A('ecs', 'DescribeServices', { cluster: CLUSTER_ARN, services: ['a', 'arn:aws:ecs:us-east-1:123456789012:service/production-cluster/b'] }).map((x) => x.resource)).toEqual([
    'arn:aws:ecs:us-east-1:123456789012:service/production-cluster/a',
    'arn:aws:ecs:us-east-1:123456789012:service/production-cluster/b',
  ]);
});

test('ECS RunTask: the task definition with ecs:cluster, and iam:PassRole for the roles it hands to ECS', () => {
  const td = 'arn:aws:ecs:us-east-1:123456789012:task-definition/backend-green:3';
  const role = 'arn:aws:iam::123456789012:role/backend-green-task';
  const override = 'arn:aws:iam::123456789012:role/override';
  const out = A('ecs', 'RunTask', { cluster: 'production-cluster', taskDefinition: 'backend-green', overrides: { taskRoleArn: override } }, { tasks: [{ taskDefinitionArn: td }] }, {
    rolesOf: (arn: string) => (arn === td ? [role] : []),
  });
  expect(out).toEqual([
    { action: 'ecs:RunTask', resource: td, context: { 'ecs:cluster': CLUSTER_ARN } },
    { action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }, note: 'role passed by RunTask' },
    { action: 'iam:PassRole', resource: override, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }, note: 'role passed by RunTask' },
  ]);
});

test('DynamoDB PutItem on the table; TransactWriteItems as each item\'s action on its table', () => {
  expect(A('dynamodb', 'PutItem', { TableName: 'lock', Item: {} })).toEqual([{ action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/lock' }]);
  expect(
    A('dynamodb', 'TransactWriteItems', {
      TransactItems: [{ Put: { TableName: 'ledger' } }, { Update: { TableName: 'lock' } }, { Delete: { TableName: 'lock' } }, { ConditionCheck: { TableName: 'lock' } }],
    }),
  ).toEqual([
    { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/ledger' },
    { action: 'dynamodb:UpdateItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/lock' },
    { action: 'dynamodb:DeleteItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/lock' },
    { action: 'dynamodb:ConditionCheckItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/lock' },
  ]);
  expect(A('dynamodb', 'Query', { TableName: 'ledger', IndexName: 'byActor' })[0].resource).toBe('arn:aws:dynamodb:us-east-1:123456789012:table/ledger/index/byActor');
});

test('CloudWatch DescribeAlarms per alarm named (else *), PutMetricData with the namespace condition key', () => {
  expect(A('cloudwatch', 'DescribeAlarms', { AlarmNames: ['a', 'b'] }).map((x) => x.resource)).toEqual([
    'arn:aws:cloudwatch:us-east-1:123456789012:alarm:a',
    'arn:aws:cloudwatch:us-east-1:123456789012:alarm:b',
  ]);
  expect(A('cloudwatch', 'DescribeAlarms', {})).toEqual([{ action: 'cloudwatch:DescribeAlarms', resource: '*' }]);
  expect(A('cloudwatch', 'PutMetricData', { Namespace: 'SafeReleases', MetricData: [] })).toEqual([
    { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'SafeReleases' } },
  ]);
});

test('SNS Publish on the topic, plus KMS on the topic\'s key when it is encrypted', () => {
  const topic = 'arn:aws:sns:us-east-1:123456789012:releases';
  expect(A('sns', 'Publish', { TopicArn: topic, Message: 'm' })).toEqual([{ action: 'sns:Publish', resource: topic }]);
  const key = 'arn:aws:kms:us-east-1:123456789012:key/k';
  expect(A('sns', 'Publish', { TopicArn: topic, Message: 'm' }, undefined, { encryptionKeyOf: (a: string) => (a === topic ? key : undefined) }).map((x) => x.action)).toEqual([
    'sns:Publish',
    'kms:GenerateDataKey',
    'kms:Decrypt',
  ]);
});

test('RDS CreateDBSnapshot on the instance and the snapshot, tags on create as rds:AddTagsToResource', () => {
  expect(A('rds', 'CreateDBSnapshot', { DBInstanceIdentifier: 'db', DBSnapshotIdentifier: 'release-x', Tags: [{ Key: 'k', Value: 'v' }] })).toEqual([
    { action: 'rds:CreateDBSnapshot', resource: 'arn:aws:rds:us-east-1:123456789012:db:db' },
    { action: 'rds:CreateDBSnapshot', resource: 'arn:aws:rds:us-east-1:123456789012:snapshot:release-x' },
    { action: 'rds:AddTagsToResource', resource: 'arn:aws:rds:us-east-1:123456789012:snapshot:release-x', note: 'tags on create' },
  ]);
});

test('Step Functions StopExecution on the execution, ListExecutions on the state machine', () => {
  const exec = 'arn:aws:states:us-east-1:123456789012:execution:release:e1';
  expect(A('sfn', 'StopExecution', { executionArn: exec })).toEqual([{ action: 'states:StopExecution', resource: exec }]);
  expect(A('sfn', 'ListExecutions', { stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:release' })[0].action).toBe('states:ListExecutions');
});

test('an unmapped command fails, naming the client and command', () => {
  expect(() => A('ecs', 'DeleteService', { service: 's' })).toThrow(UnmappedCommand);
  expect(() => A('s3', 'PutObject', {})).toThrow(/no IAM mapping for s3 PutObject/);
});
