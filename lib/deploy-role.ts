import { ArnFormat, DefaultStackSynthesizer, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { iam5ResourceFinding } from './nag';

/** GitHub Actions' OIDC issuer and the audience aws-actions/configure-aws-credentials asks for. */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/**
 * The CDK bootstrap roles `cdk deploy` assumes (`cdk bootstrap`'s template): it creates change sets with the deploy role,
 * uploads Lambda bundles with the file-publishing role and container images with the image-publishing role, and reads
 * context with the lookup role. CloudFormation itself runs with the bootstrap's execution role, which only the deploy
 * role passes. https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html
 */
export const BOOTSTRAP_ROLES = ['deploy', 'file-publishing', 'image-publishing', 'lookup'] as const;

/**
 * What the release CLI (cli/release.ts: `start`, `status`, and `ship`, which deploys and then starts) calls with the
 * pipeline's own credentials, by IAM action. `abort`, `approve` and `unlock` are a person's commands: not granted.
 * sts:GetCallerIdentity (cli/account.ts) needs no permission.
 */
export const RELEASE_CLI_ACTIONS = {
  /** Stack outputs of `<Stage>-Stateless`: the state machine ARN and the topology table. */
  stack: ['cloudformation:DescribeStacks'],
  /** The topology document, the lock and the release record: items of the lock table. */
  lockTable: ['dynamodb:GetItem'],
  /** `status` lists the judge's last verdicts and `report` sums up a release: a query of the ledger. */
  ledgerTable: ['dynamodb:Query'],
  /** Start a release, then follow it (`status` lists the last one). */
  stateMachine: ['states:StartExecution', 'states:ListExecutions'],
  executions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
  /** `status` prints the weights of every service's listener rule; no resource-level permissions. */
  anyResource: ['elasticloadbalancing:DescribeRules'],
} as const;

export interface GitHubDeployRoleProps {
  /** `owner/repository` whose workflow may assume the role. */
  readonly githubRepository: string;
  /** GitHub environment the deploy jobs run in: the only `sub` the role trusts is `repo:<repository>:environment:<this>`. */
  readonly githubEnvironment: string;
  /**
   * Create the account's GitHub OIDC provider here; false uses the one the account already has (an account has one
   * provider per URL). @default false
   */
  readonly createOidcProvider?: boolean;
  /** The environment's release state machine, which the pipeline starts and follows. */
  readonly releaseStateMachine: sfn.IStateMachine;
  /** The traffic-control lock table (topology document, lock, release record), read by the release CLI. */
  readonly lockTable: dynamodb.ITableV2;
  /** The ledger, read by `release status` (the judge's verdicts) and `release report`. */
  readonly ledgerTable: dynamodb.ITableV2;
  /** Name of the stack whose outputs the release CLI reads (`<Stage>-Stateless`). */
  readonly releaseStackName: string;
  /**
   * Longest session a workflow may ask for (`role-duration-seconds`): a deploy and the release it follows.
   * @default Duration.hours(6) - the production job's timeout (GitHub-hosted runners' maximum)
   */
  readonly maxSessionDuration?: Duration;
}

/**
 * The role a GitHub Actions workflow of one repository and one GitHub environment assumes with its OIDC token
 * (aws-actions/configure-aws-credentials): it may assume this account's CDK bootstrap roles (so `cdk deploy` works, with
 * what the bootstrap allows) and start and follow this environment's releases, nothing else.
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services
 */
export class GitHubDeployRole extends Construct {
  readonly role: iam.Role;
  /** The account's GitHub OIDC provider, created here or referenced by its ARN. */
  readonly oidcProviderArn: string;

  constructor(scope: Construct, id: string, props: GitHubDeployRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { partition, region, account } = stack;
    this.oidcProviderArn = props.createOidcProvider
      ? new iam.OidcProviderNative(this, 'GitHubOidcProvider', { url: `https://${GITHUB_OIDC_HOST}`, clientIds: [GITHUB_OIDC_AUDIENCE] }).oidcProviderArn
      : // The provider's ARN is its host name: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
        `arn:${partition}:iam::${account}:oidc-provider/${GITHUB_OIDC_HOST}`;

    this.role = new iam.Role(this, 'Role', {
      description: `GitHub Actions of ${props.githubRepository}, environment ${props.githubEnvironment}: cdk deploy and releases`,
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(6),
      // Both claims exactly: the audience GitHub's token carries for AWS, and the one subject of deploy jobs. A job
      // without `environment:` (a pull request's) gets another sub and is refused.
      assumedBy: new iam.WebIdentityPrincipal(this.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: `repo:${props.githubRepository}:environment:${props.githubEnvironment}`,
        },
      }),
    });

    const qualifier = bootstrapQualifier(stack);
    const bootstrapRoles = BOOTSTRAP_ROLES.map((r) => `arn:${partition}:iam::${account}:role/cdk-${qualifier}-${r}-role-${account}-${region}`);
    const add = (actions: readonly string[], resources: string[]) => this.role.addToPolicy(new iam.PolicyStatement({ actions: [...actions], resources }));
    add(['sts:AssumeRole'], bootstrapRoles);
    const releaseStack = `arn:${partition}:cloudformation:${region}:${account}:stack/${props.releaseStackName}/*`;
    add(RELEASE_CLI_ACTIONS.stack, [releaseStack]);
    add(RELEASE_CLI_ACTIONS.lockTable, [props.lockTable.tableArn]);
    add(RELEASE_CLI_ACTIONS.ledgerTable, [props.ledgerTable.tableArn]);
    add(RELEASE_CLI_ACTIONS.stateMachine, [props.releaseStateMachine.stateMachineArn]);
    const executions = executionArnPattern(props.releaseStateMachine.stateMachineArn, stack);
    add(RELEASE_CLI_ACTIONS.executions, [executions]);
    add(RELEASE_CLI_ACTIONS.anyResource, ['*']);
    // The tables are encrypted with the environment's key: GetItem and Query decrypt through DynamoDB only.
    const keys = [...new Set([props.lockTable.encryptionKey?.keyArn, props.ledgerTable.encryptionKey?.keyArn].filter((k): k is string => !!k))];
    if (keys.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: keys,
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com` } },
        }),
      );
    }

    Validations.of(this.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'elasticloadbalancing:DescribeRules (read-only; `npm run release -- status` prints the weights) supports no resource-level permissions',
      },
      { id: iam5ResourceFinding(this, releaseStack), reason: 'A stack ARN ends with the stack ID CloudFormation assigns at creation: the grant covers this one stack name' },
      { id: iam5ResourceFinding(this, executions), reason: 'Execution names are chosen at StartExecution: the grant covers executions of this one state machine' },
    );
  }
}

/** The stack synthesizer's bootstrap qualifier (`cdk bootstrap --qualifier`), CDK's default when it has none. */
export function bootstrapQualifier(stack: Stack): string {
  const synth = stack.synthesizer;
  return (synth instanceof DefaultStackSynthesizer ? synth.bootstrapQualifier : undefined) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
}

/**
 * `arn:…:states:…:stateMachine:<name>` → `arn:…:states:…:execution:<name>:*` (Step Functions' execution ARN).
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-state-machine-executions.html
 */
function executionArnPattern(stateMachineArn: string, stack: Stack): string {
  const name = stack.splitArn(stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  return stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}
