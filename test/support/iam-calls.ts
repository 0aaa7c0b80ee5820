/**
 * The IAM call map: what one recorded SDK call (test/support/instrument.ts) is authorized as, per the Service
 * Authorization Reference — the IAM action(s), the resource ARN each is checked against and the request's context
 * keys. Derived from the call's input (and its output where the input does not name the resource).
 *
 *   authorizationsOf(call, { partition: 'aws', region: 'us-east-1', account: '123456789012' })
 *     → [{ action: 'ecs:UpdateService', resource: 'arn:aws:ecs:us-east-1:123456789012:service/c/s', context: { 'ecs:cluster': … } }]
 *
 * A command missing from the map throws UnmappedCommand: a new call cannot slip past the IAM check unexamined.
 * Actions without resource-level permissions are checked against `*` (only a `Resource: "*"` statement allows them).
 */
import type { AuthorizationRequest } from './iam-policy';
import type { RecordedCall } from './instrument';

export interface ArnScope {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

export interface Authorization extends AuthorizationRequest {
  /** Why this action is checked (an implied action, e.g. iam:PassRole for RunTask). */
  readonly note?: string;
}

export class UnmappedCommand extends Error {
  constructor(call: Pick<RecordedCall, 'client' | 'command'>) {
    super(
      `no IAM mapping for ${call.client} ${call.command}: add it to test/support/iam-calls.ts (action, resource and condition keys per ` +
        'https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)',
    );
    this.name = 'UnmappedCommand';
  }
}

/**
 * What a call's input does not say but its authorization depends on: facts about the resources of the run
 * (from the synthesized app and the fixture).
 */
export interface CallFacts {
  /** The KMS key ARN a resource is encrypted with (an SNS topic), by the resource's ARN. */
  readonly encryptionKeyOf?: (resourceArn: string) => string | undefined;
  /** The IAM roles a task definition hands to ECS (task role, execution role), by task definition ARN. */
  readonly rolesOf?: (taskDefinitionArn: string) => readonly string[];
}

type Input = Record<string, any>;
type Mapper = (input: Input, scope: ArnScope, output: Input | undefined, facts: CallFacts) => Authorization[];

const arn = (s: ArnScope, service: string, resource: string, region = s.region) => `arn:${s.partition}:${service}:${region}:${s.account}:${resource}`;
const isArn = (v: string) => v.startsWith('arn:');

/** ECS takes a cluster as name or ARN; absent means the cluster named `default`. */
function clusterArn(s: ArnScope, cluster: string | undefined): string {
  const c = cluster ?? 'default';
  return isArn(c) ? c : arn(s, 'ecs', `cluster/${c}`);
}
const clusterName = (s: ArnScope, cluster: string | undefined) => clusterArn(s, cluster).split('/').pop()!;

/** ECS condition key on every cluster-scoped action. https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html */
const ecsContext = (s: ArnScope, cluster: string | undefined) => ({ 'ecs:cluster': clusterArn(s, cluster) });

function serviceArn(s: ArnScope, cluster: string | undefined, service: string): string {
  return isArn(service) ? service : arn(s, 'ecs', `service/${clusterName(s, cluster)}/${service}`);
}
function taskArn(s: ArnScope, cluster: string | undefined, task: string): string {
  return isArn(task) ? task : arn(s, 'ecs', `task/${clusterName(s, cluster)}/${task}`);
}

const tableArn = (s: ArnScope, table: string) => (isArn(table) ? table : arn(s, 'dynamodb', `table/${table}`));
const one = (action: string, resource: string, context?: AuthorizationRequest['context']): Authorization[] => [{ action, resource, ...(context ? { context } : {}) }];
const anyResource = (action: string): Mapper => () => one(action, '*');

/** DynamoDB single-item and query actions: the table (or its index). https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html */
const tableAction = (action: string): Mapper => (i, s) => one(action, i.IndexName ? `${tableArn(s, i.TableName)}/index/${i.IndexName}` : tableArn(s, i.TableName));

const TRANSACT_ACTIONS: Record<string, string> = { Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem', ConditionCheck: 'dynamodb:ConditionCheckItem' };

/** RDS resource ARNs. https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html */
const dbArn = (s: ArnScope, id: string) => (isArn(id) ? id : arn(s, 'rds', `db:${id}`));
const snapshotArn = (s: ArnScope, id: string) => (isArn(id) ? id : arn(s, 'rds', `snapshot:${id}`));

/** ECR repository ARN (resource type repository). https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html */
const repositoryArn = (s: ArnScope, name: string, registryId?: string) => `arn:${s.partition}:ecr:${s.region}:${registryId ?? s.account}:repository/${name}`;

export const CALL_MAP: Readonly<Record<string, Readonly<Record<string, Mapper>>>> = {
  ecr: {
    DescribeImages: (i, s) => one('ecr:DescribeImages', repositoryArn(s, i.repositoryName, i.registryId)),
    DescribeImageScanFindings: (i, s) => one('ecr:DescribeImageScanFindings', repositoryArn(s, i.repositoryName, i.registryId)),
  },
  acm: {
    // Resource type certificate. https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscertificatemanager.html
    DescribeCertificate: (i) => one('acm:DescribeCertificate', i.CertificateArn),
  },
  elbv2: {
    // No resource-level permissions for Describe*. https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html
    DescribeRules: anyResource('elasticloadbalancing:DescribeRules'),
    DescribeTargetHealth: anyResource('elasticloadbalancing:DescribeTargetHealth'),
    ModifyRule: (i) => one('elasticloadbalancing:ModifyRule', i.RuleArn),
    DeleteRule: (i) => one('elasticloadbalancing:DeleteRule', i.RuleArn),
    // The rule does not exist yet; CreateRule is authorized on the listener it is added to.
    CreateRule: (i) => one('elasticloadbalancing:CreateRule', i.ListenerArn),
    SetRulePriorities: (i) => (i.RulePriorities as { RuleArn: string }[]).map((p) => ({ action: 'elasticloadbalancing:SetRulePriorities', resource: p.RuleArn })),
  },
  ecs: {
    DescribeServices: (i, s) => (i.services as string[]).map((n) => ({ action: 'ecs:DescribeServices', resource: serviceArn(s, i.cluster, n), context: ecsContext(s, i.cluster) })),
    UpdateService: (i, s) => one('ecs:UpdateService', serviceArn(s, i.cluster, i.service), ecsContext(s, i.cluster)),
    DescribeTaskDefinition: anyResource('ecs:DescribeTaskDefinition'),
    ListTasks: (i, s) => one('ecs:ListTasks', '*', ecsContext(s, i.cluster)),
    // No resource type; scoped by the ecs:cluster condition key (Service Authorization Reference, Amazon ECS).
    ListServices: (i, s) => one('ecs:ListServices', '*', ecsContext(s, i.cluster)),
    DescribeTasks: (i, s) => (i.tasks as string[]).map((t) => ({ action: 'ecs:DescribeTasks', resource: taskArn(s, i.cluster, t), context: ecsContext(s, i.cluster) })),
    StopTask: (i, s) => one('ecs:StopTask', taskArn(s, i.cluster, i.task), ecsContext(s, i.cluster)),
    // RunTask is authorized on the task definition; the roles it hands to ECS (the task definition's task and
    // execution roles, or overrides) need iam:PassRole
    // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html#specify-task-iam-roles).
    RunTask: (i, s, o, f) => {
      const td = (o?.tasks?.[0]?.taskDefinitionArn as string | undefined) ?? (isArn(i.taskDefinition) ? i.taskDefinition : arn(s, 'ecs', `task-definition/${i.taskDefinition}`));
      const overrides = [i.overrides?.taskRoleArn, i.overrides?.executionRoleArn].filter((r): r is string => typeof r === 'string');
      const roles = [...new Set([...(f.rolesOf?.(td) ?? []), ...overrides])];
      return [
        { action: 'ecs:RunTask', resource: td, context: ecsContext(s, i.cluster) },
        ...roles.map((r) => ({ action: 'iam:PassRole', resource: r, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }, note: 'role passed by RunTask' })),
      ];
    },
  },
  autoscaling: {
    // Checked against `*`: the project grants these without a scalable-target ARN (none is known at synth).
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_applicationautoscaling.html
    RegisterScalableTarget: anyResource('application-autoscaling:RegisterScalableTarget'),
    DescribeScalableTargets: anyResource('application-autoscaling:DescribeScalableTargets'),
    DeregisterScalableTarget: anyResource('application-autoscaling:DeregisterScalableTarget'),
  },
  dynamodb: {
    GetItem: tableAction('dynamodb:GetItem'),
    PutItem: tableAction('dynamodb:PutItem'),
    UpdateItem: tableAction('dynamodb:UpdateItem'),
    DeleteItem: tableAction('dynamodb:DeleteItem'),
    Query: tableAction('dynamodb:Query'),
    // TransactWriteItems is authorized as its items' actions on their tables.
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
    TransactWriteItems: (i, s) =>
      (i.TransactItems as Record<string, { TableName: string }>[]).flatMap((item) =>
        Object.entries(item).map(([op, v]) => {
          const action = TRANSACT_ACTIONS[op];
          if (!action) throw new Error(`TransactWriteItems entry ${op} has no IAM mapping`);
          return { action, resource: tableArn(s, v.TableName) };
        }),
      ),
  },
  cloudwatch: {
    // DescribeAlarms is authorized per alarm named; without names it needs `*`.
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
    DescribeAlarms: (i, s) =>
      i.AlarmNames?.length ? (i.AlarmNames as string[]).map((n) => ({ action: 'cloudwatch:DescribeAlarms', resource: arn(s, 'cloudwatch', `alarm:${n}`) })) : one('cloudwatch:DescribeAlarms', '*'),
    // No resource; the namespace is the condition key that scopes it.
    PutMetricData: (i) => one('cloudwatch:PutMetricData', '*', { 'cloudwatch:namespace': i.Namespace }),
    // GetMetricData supports no resource-level permissions and no condition keys: `*`, whatever metrics it reads.
    GetMetricData: () => one('cloudwatch:GetMetricData', '*'),
  },
  sns: {
    // Publishing to an encrypted topic also needs kms:GenerateDataKey* and kms:Decrypt on its key, with the
    // publisher's credentials (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
    Publish: (i, _s, _o, f) => {
      const topic = (i.TopicArn ?? i.TargetArn) as string;
      const key = f.encryptionKeyOf?.(topic);
      return [
        { action: 'sns:Publish', resource: topic },
        ...(key ? ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({ action, resource: key, note: 'encrypted topic' })) : []),
      ];
    },
  },
  sfn: {
    ListExecutions: (i) => one('states:ListExecutions', i.stateMachineArn),
    StopExecution: (i) => one('states:StopExecution', i.executionArn),
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
    StartExecution: (i) => one('states:StartExecution', i.stateMachineArn),
    DescribeExecution: (i) => one('states:DescribeExecution', i.executionArn),
    GetExecutionHistory: (i) => one('states:GetExecutionHistory', i.executionArn),
  },
  cloudformation: {
    // Authorized on the stack's ARN, which ends with its ID; a name-only request is checked with a stand-in ID.
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
    DescribeStacks: (i, s) =>
      one('cloudformation:DescribeStacks', isArn(i.StackName ?? '') ? i.StackName : i.StackName ? arn(s, 'cloudformation', `stack/${i.StackName}/00000000-0000-0000-0000-000000000000`) : '*'),
  },
  sts: {
    // "No permissions are required": https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    GetCallerIdentity: () => [],
  },
  secretsmanager: {
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html (resource: Secret)
    GetSecretValue: (i) => one('secretsmanager:GetSecretValue', i.SecretId),
  },
  rds: {
    DescribeDBInstances: (i, s) => one('rds:DescribeDBInstances', i.DBInstanceIdentifier ? dbArn(s, i.DBInstanceIdentifier) : '*'),
    DescribeDBSnapshots: (i, s) => [
      ...(i.DBInstanceIdentifier ? one('rds:DescribeDBSnapshots', dbArn(s, i.DBInstanceIdentifier)) : []),
      ...(i.DBSnapshotIdentifier ? one('rds:DescribeDBSnapshots', snapshotArn(s, i.DBSnapshotIdentifier)) : []),
      ...(!i.DBInstanceIdentifier && !i.DBSnapshotIdentifier ? one('rds:DescribeDBSnapshots', '*') : []),
    ],
    // Authorized on the instance and on the new snapshot; tags given at creation are also authorized as
    // rds:AddTagsToResource (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/security_iam_id-based-policy-examples-grant-permissions-tags-on-create.html).
    CreateDBSnapshot: (i, s) => [
      { action: 'rds:CreateDBSnapshot', resource: dbArn(s, i.DBInstanceIdentifier) },
      { action: 'rds:CreateDBSnapshot', resource: snapshotArn(s, i.DBSnapshotIdentifier) },
      ...(i.Tags?.length ? [{ action: 'rds:AddTagsToResource', resource: snapshotArn(s, i.DBSnapshotIdentifier), note: 'tags on create' }] : []),
    ],
  },
};

/** The authorizations of one recorded call (`client`: the name it was recorded under, as in lambda/traffic/clients.ts). */
export function authorizationsOf(call: Pick<RecordedCall, 'client' | 'command' | 'input' | 'output'>, scope: ArnScope, facts: CallFacts = {}): Authorization[] {
  const mapper = CALL_MAP[call.client]?.[call.command];
  if (!mapper) throw new UnmappedCommand(call);
  return mapper((call.input ?? {}) as Input, scope, call.output as Input | undefined, facts);
}
