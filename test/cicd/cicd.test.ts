/**
 * The GitHub Actions deploy role (lib/deploy-role.ts) on its own: who may assume it, and exactly what it may do, with
 * the ARNs resolved (the synthesized stack against the release CLI: test/iam/deploy-role-cli.moto.test.ts). Then the
 * notification topic's Slack channel (lib/notifications.ts, config `monitoring.slack`), on its own. One file, so the
 * unit suite loads aws-cdk-lib once for both.
 */
import { App, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Notifications } from '../../lib/notifications';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { BOOTSTRAP_ROLES, GitHubDeployRole, type GitHubDeployRoleProps, RELEASE_CLI_ACTIONS } from '../../lib/deploy-role';
import { TEST_CONTEXT } from '../cdk/support';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Release-abc`;
const TABLE = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/Lock-xyz`;
const LEDGER = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/staging-ledger`;
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;

function build(props: Partial<GitHubDeployRoleProps> = {}, qualifier?: string): { stack: Stack; template: Template; role: GitHubDeployRole } {
  const app = new App({ context: TEST_CONTEXT });
  const stack = new Stack(app, 'Cicd', {
    env: { account: ACCOUNT, region: REGION },
    ...(qualifier ? { synthesizer: new DefaultStackSynthesizer({ qualifier }) } : {}),
  });
  const role = new GitHubDeployRole(stack, 'Deploy', {
    githubRepository: 'example-org/shop',
    githubEnvironment: 'staging',
    releaseStateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Machine', MACHINE),
    lockTable: dynamodb.TableV2.fromTableAttributes(stack, 'Lock', { tableArn: TABLE, encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY) }),
    ledgerTable: dynamodb.TableV2.fromTableAttributes(stack, 'Ledger', { tableArn: LEDGER, encryptionKey: kms.Key.fromKeyArn(stack, 'LedgerKey', KEY) }),
    releaseStackName: 'Staging-Stateless',
    ...props,
  });
  return { stack, template: Template.fromStack(stack), role };
}

/** The role's policy statements, each as { actions (sorted), resources, condition }. */
function statements(template: Template): { actions: string[]; resources: unknown[]; condition?: unknown }[] {
  const [policy] = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
  return policy.Properties.PolicyDocument.Statement.map((s: any) => ({
    actions: [s.Action].flat().sort(),
    resources: [s.Resource].flat(),
    ...(s.Condition ? { condition: s.Condition } : {}),
  }));
}

describe('GitHubDeployRole', () => {
  const { template } = build({ createOidcProvider: true });

  test('creates GitHub\'s OIDC provider for the sts.amazonaws.com audience when asked', () => {
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] });
  });

  test('is trusted only by the repository\'s jobs in its GitHub environment, with GitHub\'s audience', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { Ref: Match.stringLikeRegexp('GitHubOidcProvider') } },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': 'repo:example-org/shop:environment:staging',
              },
            },
          },
        ],
      },
      MaxSessionDuration: 6 * 3600,
    });
  });

  test('grants exactly the bootstrap roles and the release CLI\'s calls, on this environment\'s resources', () => {
    const boot = (r: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-${r}-role-${ACCOUNT}-${REGION}`;
    expect(statements(template)).toEqual([
      { actions: ['sts:AssumeRole'], resources: BOOTSTRAP_ROLES.map(boot) },
      { actions: ['cloudformation:DescribeStacks'], resources: [`arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Staging-Stateless/*`] },
      { actions: ['dynamodb:GetItem'], resources: [TABLE] },
      { actions: ['dynamodb:Query'], resources: [LEDGER] },
      { actions: ['states:ListExecutions', 'states:StartExecution'], resources: [MACHINE] },
      { actions: ['states:DescribeExecution', 'states:GetExecutionHistory'], resources: [`arn:aws:states:${REGION}:${ACCOUNT}:execution:Release-abc:*`] },
      { actions: ['elasticloadbalancing:DescribeRules'], resources: ['*'] },
      { actions: ['kms:Decrypt'], resources: [KEY], condition: { StringEquals: { 'kms:ViaService': `dynamodb.${REGION}.amazonaws.com` } } },
    ]);
    // Nothing a person's commands need (abort, approve, unlock) and nothing that writes.
    const all = statements(template).flatMap((s) => s.actions);
    expect(all).toEqual(expect.not.arrayContaining(['states:StopExecution', 'states:SendTaskSuccess', 'dynamodb:PutItem', 'dynamodb:DeleteItem']));
    expect(new Set(all.filter((a) => !a.startsWith('sts:') && !a.startsWith('kms:')))).toEqual(new Set(Object.values(RELEASE_CLI_ACTIONS).flat()));
  });

  test('uses the stack synthesizer\'s bootstrap qualifier', () => {
    const [assume] = statements(build({}, 'team42').template);
    expect(assume.resources).toEqual(BOOTSTRAP_ROLES.map((r) => `arn:aws:iam::${ACCOUNT}:role/cdk-team42-${r}-role-${ACCOUNT}-${REGION}`));
  });

  test('uses the account\'s existing provider, by its ARN, when told not to create one', () => {
    const { template: t } = build({ createOidcProvider: false });
    t.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` } })] },
    });
  });
});

// The Slack channel of the notification topic.
function buildNotifications(slack?: { workspaceId: string; channelId: string }): Template {
  const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Prod-Stateless', { env: { account: '123456789012', region: 'eu-west-1' } });
  new Notifications(stack, 'Notifications', { environment: 'prod', encryptionKey: new kms.Key(stack, 'Key'), slack });
  return Template.fromStack(stack);
}

describe('Notifications with a Slack channel', () => {
  const t = buildNotifications({ workspaceId: 'T012AB3C4D5', channelId: 'C0123ABCDEF' });
  const policyId = Object.keys(t.findResources('AWS::IAM::ManagedPolicy'))[0];

  test('subscribes the channel to the topic, named after its stack and region', () => {
    t.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      ConfigurationName: 'Prod-Stateless-eu-west-1',
      SlackWorkspaceId: 'T012AB3C4D5',
      SlackChannelId: 'C0123ABCDEF',
      SnsTopicArns: [{ Ref: Match.stringLikeRegexp('NotificationsTopic') }],
    });
  });

  test('bounds the channel by one minimal policy, its role\'s and its guardrail (never AdministratorAccess)', () => {
    t.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData', 'cloudwatch:GetMetricWidgetImage'], Resource: '*' }] },
    });
    t.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', { GuardrailPolicies: [{ Ref: policyId }] });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'chatbot.amazonaws.com' } })] },
      ManagedPolicyArns: [{ Ref: policyId }],
    });
    expect(Object.keys(t.findResources('AWS::IAM::Policy'))).toEqual([]);
  });
});

test('Notifications without a Slack channel create no Chatbot configuration and no role', () => {
  const t = buildNotifications();
  t.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
  t.resourceCountIs('AWS::IAM::Role', 0);
});
