/**
 * The policy resolver (test/support/iam-resolve.ts) on a hand-written template: zipping, derived ARNs, joins,
 * Fn::Select/Fn::Split, literals, unresolvable references, and collecting a role's statements.
 */
import { CfnResolver, roleStatements, UNRESOLVED } from '../support/iam-resolve';

const template = {
  Resources: {
    Lock: { Type: 'AWS::DynamoDB::GlobalTable', Properties: {} },
    Cluster: { Type: 'AWS::ECS::Cluster', Properties: {} },
    Svc: { Type: 'AWS::ECS::Service', Properties: { Cluster: { Ref: 'Cluster' } } },
    Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: {} },
    Role: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyName: 'inline', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'a:Inline', Resource: '*' }] } }] } },
    Policy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'a:Attached', Resource: '*' }] } } },
    OtherPolicy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Other' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } } },
    Managed: { Type: 'AWS::IAM::Role', Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] } },
  },
};
const scope = { partition: 'aws', region: 'us-east-1', account: '123456789012' };
const resolver = () =>
  new CfnResolver({ template, scope, literals: [['333333333333', '123456789012']] }).zip(
    { lock: { Ref: 'Lock' }, cluster: { Ref: 'Cluster' }, service: { 'Fn::GetAtt': ['Svc', 'Name'] }, alarms: [{ Ref: 'Alarm' }, { Ref: 'Missing' }], n: 1 },
    { lock: 'production-lock', cluster: 'production-cluster', service: 'frontend-blue', alarms: ['production-5xx'], n: 1 },
  );

test('zipped values resolve, and ARNs derive from them by their documented formats', () => {
  const r = resolver();
  expect(r.resolve({ Ref: 'Lock' })).toBe('production-lock');
  expect(r.resolve({ 'Fn::GetAtt': ['Lock', 'Arn'] })).toBe('arn:aws:dynamodb:us-east-1:123456789012:table/production-lock');
  expect(r.resolve({ 'Fn::GetAtt': ['Cluster', 'Arn'] })).toBe('arn:aws:ecs:us-east-1:123456789012:cluster/production-cluster');
  expect(r.resolve({ Ref: 'Svc' })).toBe('arn:aws:ecs:us-east-1:123456789012:service/production-cluster/frontend-blue');
  expect(r.resolve({ 'Fn::GetAtt': ['Alarm', 'Arn'] })).toBe('arn:aws:cloudwatch:us-east-1:123456789012:alarm:production-5xx');
});

test('pseudo parameters, joins, literals of the synthesized account', () => {
  const r = resolver();
  expect(r.resolve({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':task/', { Ref: 'Cluster' }, '/*']] })).toBe(
    'arn:aws:ecs:us-east-1:123456789012:task/production-cluster/*',
  );
  expect(r.resolve('arn:aws:rds:us-east-1:333333333333:snapshot:release-production-*')).toBe('arn:aws:rds:us-east-1:123456789012:snapshot:release-production-*');
});

test('Fn::Select of Fn::Split, and an out-of-range index marked as a failing deploy', () => {
  const r = resolver().bind({ Ref: 'Machine' }, 'arn:aws:states:us-east-1:123456789012:stateMachine:release');
  expect(r.resolve({ 'Fn::Select': [1, { 'Fn::Split': [':stateMachine:', { Ref: 'Machine' }] }] })).toBe('release');
  const bad = r.resolveString({ 'Fn::Select': [1, { 'Fn::Split': [':stateMachine/', { Ref: 'Machine' }] }] });
  expect(bad.startsWith(UNRESOLVED)).toBe(true);
  expect(bad).toContain('CloudFormation fails the deploy');
});

test('what the emulator run does not know stays unresolved and names the reference; a reference to no resource throws', () => {
  const r = resolver();
  expect(r.resolve({ Ref: 'Role' })).toBe(`${UNRESOLVED}: Ref Role (AWS::IAM::Role)⟩`);
  expect(r.resolve({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Role', 'Arn'] }, '/*']] })).toBe(`${UNRESOLVED}: Fn::GetAtt Role.Arn (AWS::IAM::Role)⟩/*`);
  expect(() => r.resolve({ Ref: 'Missing' })).toThrow(/no resource Missing/);
});

test('binding the same expression to two values is an error: the topologies do not line up', () => {
  expect(() => resolver().bind({ Ref: 'Lock' }, 'another-lock')).toThrow(/do not line up/);
});

test('a statement resolves Action, Resource and Condition values', () => {
  const r = resolver();
  expect(
    r.statement({ Effect: 'Allow', Action: ['ecs:RunTask'], Resource: { Ref: 'Svc' }, Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': ['Cluster', 'Arn'] } } } }),
  ).toEqual({
    Effect: 'Allow',
    Action: ['ecs:RunTask'],
    Resource: 'arn:aws:ecs:us-east-1:123456789012:service/production-cluster/frontend-blue',
    Condition: { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:us-east-1:123456789012:cluster/production-cluster' } },
  });
});

test("a role's statements: its inline policies and the policies attached to it, nobody else's; managed policies throw", () => {
  expect(roleStatements(template, 'Role').map((s) => s.Action)).toEqual(['a:Inline', 'a:Attached']);
  expect(() => roleStatements(template, 'Managed')).toThrow(/managed policies/);
  expect(() => roleStatements(template, 'Lock')).toThrow(/not an AWS::IAM::Role/);
});
