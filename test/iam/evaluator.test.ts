/**
 * The small IAM evaluator (test/support/iam-policy.ts) on its own: Allow/Deny, action and ARN wildcards, conditions.
 */
import { arnMatch, evaluate, globMatch, type Statement } from '../support/iam-policy';

const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/production-release-lock';
const allow = (Action: Statement['Action'], Resource: Statement['Resource'], Condition?: Statement['Condition']): Statement => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});

describe('GIVEN actions', () => {
  test('exact and wildcard actions match case-insensitively; another service does not', () => {
    expect(evaluate([allow('dynamodb:PutItem', TABLE)], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('allowed');
    expect(evaluate([allow('DynamoDB:putitem', TABLE)], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('allowed');
    expect(evaluate([allow('dynamodb:*Item', TABLE)], { action: 'dynamodb:UpdateItem', resource: TABLE }).decision).toBe('allowed');
    expect(evaluate([allow('kms:GenerateDataKey*', '*')], { action: 'kms:GenerateDataKey', resource: 'arn:aws:kms:us-east-1:1:key/k' }).decision).toBe('allowed');
    expect(evaluate([allow('dynamodb:Get?tem', TABLE)], { action: 'dynamodb:GetItem', resource: TABLE }).decision).toBe('allowed');
    expect(evaluate([allow('dynamodb:PutItem', TABLE)], { action: 'dynamodb:DeleteItem', resource: TABLE }).decision).toBe('implicitDeny');
    expect(evaluate([allow('s3:PutItem', TABLE)], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('implicitDeny');
  });

  test('NotAction allows every other action', () => {
    const s: Statement = { Effect: 'Allow', NotAction: 'dynamodb:DeleteItem', Resource: '*' };
    expect(evaluate([s], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('allowed');
    expect(evaluate([s], { action: 'dynamodb:DeleteItem', resource: TABLE }).decision).toBe('implicitDeny');
  });
});

describe('GIVEN resources', () => {
  test('`*` matches any resource, including the `*` of actions without resource-level permissions', () => {
    expect(evaluate([allow('dynamodb:PutItem', '*')], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('allowed');
    expect(evaluate([allow('ecs:DescribeTaskDefinition', '*')], { action: 'ecs:DescribeTaskDefinition', resource: '*' }).decision).toBe('allowed');
  });

  test('a scoped resource does not allow an action checked against `*`', () => {
    expect(evaluate([allow('cloudwatch:DescribeAlarms', 'arn:aws:cloudwatch:us-east-1:1:alarm:a')], { action: 'cloudwatch:DescribeAlarms', resource: '*' }).decision).toBe(
      'implicitDeny',
    );
  });

  test('another table is denied (mis-scoped); a prefix wildcard in the resource part matches; the index sub-resource is separate', () => {
    expect(evaluate([allow('dynamodb:PutItem', `${TABLE}-other`)], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('implicitDeny');
    expect(evaluate([allow('dynamodb:PutItem', 'arn:aws:dynamodb:us-east-1:123456789012:table/production-*')], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe(
      'allowed',
    );
    expect(evaluate([allow('dynamodb:Query', TABLE)], { action: 'dynamodb:Query', resource: `${TABLE}/index/byOwner` }).decision).toBe('implicitDeny');
  });

  test('ARN parts match one by one: a wildcard does not stand for the account part, the resource part keeps its colons', () => {
    expect(arnMatch('arn:aws:rds:us-east-1:*:snapshot:rds:*', 'arn:aws:rds:us-east-1:123456789012:snapshot:rds:db-2026-01-01')).toBe(true);
    expect(arnMatch('arn:aws:rds:us-east-1:333333333333:snapshot:*', 'arn:aws:rds:us-east-1:123456789012:snapshot:x')).toBe(false);
    expect(arnMatch('arn:aws:states:us-east-1:1:execution:release:*', 'arn:aws:states:us-east-1:1:execution:release:exec-1')).toBe(true);
    expect(arnMatch('arn:aws:states:us-east-1:1:execution:release:*', 'arn:aws:states:us-east-1:1:execution:other:exec-1')).toBe(false);
    expect(arnMatch('arn:aws:ecs:*', 'arn:aws:ecs:us-east-1:1:service/c/s')).toBe(false); // fewer parts: no match
  });

  test('NotResource allows every other resource', () => {
    const s: Statement = { Effect: 'Allow', Action: 'dynamodb:PutItem', NotResource: TABLE };
    expect(evaluate([s], { action: 'dynamodb:PutItem', resource: `${TABLE}-2` }).decision).toBe('allowed');
    expect(evaluate([s], { action: 'dynamodb:PutItem', resource: TABLE }).decision).toBe('implicitDeny');
  });
});

describe('GIVEN Allow and Deny', () => {
  test('an explicit Deny wins over an Allow and is reported', () => {
    const deny: Statement = { Effect: 'Deny', Action: 'dynamodb:*', Resource: TABLE };
    const result = evaluate([allow('dynamodb:PutItem', '*'), deny], { action: 'dynamodb:PutItem', resource: TABLE });
    expect(result).toEqual({ decision: 'explicitDeny', matched: [deny] });
  });

  test('no statement: implicit deny with nothing matched', () => {
    expect(evaluate([], { action: 'sns:Publish', resource: 'arn:aws:sns:us-east-1:1:t' })).toEqual({ decision: 'implicitDeny', matched: [] });
  });
});

describe('GIVEN conditions', () => {
  const put = (namespace?: string) => ({ action: 'cloudwatch:PutMetricData', resource: '*', ...(namespace ? { context: { 'cloudwatch:namespace': namespace } } : {}) });
  const metric = allow('cloudwatch:PutMetricData', '*', { StringEquals: { 'cloudwatch:namespace': 'SafeReleases' } });

  test('StringEquals: the right namespace is allowed, another or none is not; key names are case-insensitive', () => {
    expect(evaluate([metric], put('SafeReleases')).decision).toBe('allowed');
    expect(evaluate([metric], put('Other')).decision).toBe('implicitDeny');
    expect(evaluate([metric], put()).decision).toBe('implicitDeny');
    expect(evaluate([metric], { ...put(), context: { 'CloudWatch:Namespace': 'SafeReleases' } }).decision).toBe('allowed');
  });

  test('StringLike, StringNotEquals (a missing key satisfies a negated operator), IfExists', () => {
    expect(evaluate([allow('iam:CreateServiceLinkedRole', '*', { StringLike: { 'iam:AWSServiceName': 'ecs.*.amazonaws.com' } })], {
      action: 'iam:CreateServiceLinkedRole',
      resource: 'arn:aws:iam::1:role/x',
      context: { 'iam:AWSServiceName': 'ecs.application-autoscaling.amazonaws.com' },
    }).decision).toBe('allowed');
    const notOther = allow('cloudwatch:PutMetricData', '*', { StringNotEquals: { 'cloudwatch:namespace': 'Other' } });
    expect(evaluate([notOther], put('SafeReleases')).decision).toBe('allowed');
    expect(evaluate([notOther], put('Other')).decision).toBe('implicitDeny');
    expect(evaluate([notOther], put()).decision).toBe('allowed');
    const ifExists = allow('cloudwatch:PutMetricData', '*', { StringEqualsIfExists: { 'cloudwatch:namespace': 'SafeReleases' } });
    expect(evaluate([ifExists], put()).decision).toBe('allowed');
    expect(evaluate([ifExists], put('Other')).decision).toBe('implicitDeny');
  });

  test('ArnEquals / ArnLike on ecs:cluster, and values of a key are ORed, blocks ANDed', () => {
    const cluster = 'arn:aws:ecs:us-east-1:1:cluster/production';
    const runTask = allow('ecs:RunTask', '*', { ArnEquals: { 'ecs:cluster': [cluster, 'arn:aws:ecs:us-east-1:1:cluster/other'] } });
    const req = (c: string) => ({ action: 'ecs:RunTask', resource: 'arn:aws:ecs:us-east-1:1:task-definition/t:1', context: { 'ecs:cluster': c } });
    expect(evaluate([runTask], req(cluster)).decision).toBe('allowed');
    expect(evaluate([runTask], req('arn:aws:ecs:us-east-1:1:cluster/staging')).decision).toBe('implicitDeny');
    expect(evaluate([allow('ecs:RunTask', '*', { ArnLike: { 'ecs:cluster': 'arn:aws:ecs:*:1:cluster/prod*' } })], req(cluster)).decision).toBe('allowed');
    const both = allow('ecs:RunTask', '*', { ArnEquals: { 'ecs:cluster': cluster }, StringEquals: { 'aws:RequestedRegion': 'us-east-1' } });
    expect(evaluate([both], req(cluster)).decision).toBe('implicitDeny');
    expect(evaluate([both], { ...req(cluster), context: { 'ecs:cluster': cluster, 'aws:RequestedRegion': 'us-east-1' } }).decision).toBe('allowed');
  });

  test('an unsupported operator or a policy variable throws rather than guess', () => {
    expect(() => evaluate([allow('s3:GetObject', '*', { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01' } })], { action: 's3:GetObject', resource: '*' })).toThrow(
      /DateGreaterThan is not supported/,
    );
    expect(() => evaluate([allow('s3:GetObject', 'arn:aws:s3:::b/${aws:username}/*')], { action: 's3:GetObject', resource: 'arn:aws:s3:::b/x/y' })).toThrow(/policy variables/);
  });
});

test('globMatch escapes regular-expression characters', () => {
  expect(globMatch('a.b+(c)', 'a.b+(c)')).toBe(true);
  expect(globMatch('a.b', 'axb')).toBe(false);
});
