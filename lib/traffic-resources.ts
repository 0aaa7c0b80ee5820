import { Arn, ArnFormat, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HandlerFunction } from './handler-function';
import { acknowledgeIam5Resource, iam5ResourceFinding } from './nag';

export interface TrafficResourceProviderProps {
  readonly vpc: ec2.IVpc;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/** Rule ARNs of a listener: `…:listener-rule/app/<lb>/<lb-id>/<listener-id>/*`. */
export function listenerRuleArnPattern(listener: elbv2.IApplicationListener): string {
  const [prefix, suffix] = [Fn.select(0, Fn.split(':listener/', listener.listenerArn)), Fn.select(1, Fn.split(':listener/', listener.listenerArn))];
  return Fn.join('', [prefix, ':listener-rule/', suffix, '/*']);
}

/**
 * ARNs of the ECS services of a cluster: `…:service/<cluster>/*`. One statement whatever the number of services (IAM's
 * 10,240-character inline policy quota, checked by the deploy-invariant pack), scoped to the environment's own cluster.
 */
export function clusterServiceArnPattern(cluster: ecs.ICluster): string {
  return Stack.of(cluster).formatArn({ service: 'ecs', resource: 'service', resourceName: `${cluster.clusterName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

/**
 * Lets `grantee` move weights and scale services of one environment: ModifyRule on the rules of its production
 * listener, UpdateService and DescribeServices on the services of its cluster. Patterns, not one ARN per service and
 * color: with ten services the listed ARNs exceed IAM's 10,240-character inline policy quota
 * (DeployInvariants-IamPolicySize). Used by traffic control (switch, rollback) and the release.
 */
export function grantTrafficWrites(grantee: iam.IGrantable & Construct, scope: { readonly productionListener: elbv2.IApplicationListener; readonly cluster: ecs.ICluster }): void {
  const rules = listenerRuleArnPattern(scope.productionListener);
  const services = clusterServiceArnPattern(scope.cluster);
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:ModifyRule'], resources: [rules] }));
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeServices', 'ecs:UpdateService'], resources: [services] }));
  for (const pattern of [rules, services]) {
    acknowledgeIam5Resource(grantee, pattern, 'Rules and services of this environment only: the rules of its one production listener, the services of its one cluster');
  }
}

/**
 * The handler's timeout. The handler answers FAILED by itself shortly before it
 * (lambda/custom-resources/handler.ts, RESPONSE_MARGIN_MS), so an invocation always answers within it.
 */
export const TRAFFIC_RESOURCE_TIMEOUT = Duration.seconds(60);

/**
 * How long CloudFormation waits for an answer before it fails the resource (ServiceTimeout, 1–3600 s,
 * default 3600 s: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-customresource.html).
 * Larger than the handler's worst case: CloudFormation invokes the function asynchronously, and Lambda
 * retries an invocation that ends in an error (e.g. the response upload failed) twice, about 1 and 2
 * minutes later (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html):
 * 3 × 60 s + 3 min = 6 min. 10 min leaves room for Lambda's queueing; a stuck resource fails the
 * deploy after 10 minutes instead of an hour.
 */
export const TRAFFIC_RESOURCE_SERVICE_TIMEOUT = Duration.minutes(10);

/**
 * The Lambda behind the traffic custom resources (weighted listener rules, the live image guard, the
 * starting service counts): what lets `cdk deploy` create traffic routing without ever owning weights
 * or counts afterwards. Grants are added per resource by the constructs that use it.
 */
export class TrafficResourceProvider extends Construct {
  readonly function: HandlerFunction;
  /** The `serviceTimeout` of every custom resource served by this provider. */
  readonly serviceTimeout: Duration = TRAFFIC_RESOURCE_SERVICE_TIMEOUT;

  constructor(scope: Construct, id: string, props: TrafficResourceProviderProps) {
    super(scope, id);
    this.function = new HandlerFunction(this, 'Handler', {
      entry: 'lambda/custom-resources/handler.ts',
      description: 'Traffic custom resources: weighted rules, live image guard, starting counts',
      vpc: props.vpc,
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      timeout: TRAFFIC_RESOURCE_TIMEOUT,
    });
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeRules'], resources: ['*'] }),
    );
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'elasticloadbalancing:DescribeRules, ecs:ListServices (limited to one cluster by condition), ecs:DescribeTaskDefinition, application-autoscaling Describe/Register/Deregister and Lambda VPC ENI actions support no resource-level permissions',
    });
  }

  get serviceToken(): string {
    return this.function.functionArn;
  }

  /** Create, modify, reprioritize and delete rules of this listener. */
  grantRules(listener: elbv2.IApplicationListener): void {
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:CreateRule'], resources: [listener.listenerArn] }));
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['elasticloadbalancing:CreateRule', 'elasticloadbalancing:ModifyRule', 'elasticloadbalancing:SetRulePriorities', 'elasticloadbalancing:DeleteRule'],
        resources: [listenerRuleArnPattern(listener)],
      }),
    );
    Validations.of(this).acknowledge({
      id: iam5ResourceFinding(this, listenerRuleArnPattern(listener)),
      reason: 'Rule ARNs are assigned at creation; the pattern is limited to rules of the one production listener',
    });
  }

  /**
   * Read which image version each service of the cluster runs (the live image guard: a change back to
   * it always passes). The services cannot be named: they wait for the guard through their task definitions.
   */
  grantImageGuard(cluster: ecs.ICluster): void {
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ecs:ListServices'], resources: ['*'], conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } } }),
    );
    const services = clusterServiceArnPattern(cluster);
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeServices'], resources: [services] }));
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }));
    Validations.of(this).acknowledge({
      id: iam5ResourceFinding(this, services),
      reason: "DescribeServices on this environment's cluster only; service ARNs cannot be named without a dependency cycle with the image guard",
    });
  }

  /**
   * Set the counts and scalable targets of the cluster's services, reading their desired counts. Scoped to the cluster rather than
   * to service ARNs: the task definitions wait for the live image guard, which runs on this function,
   * so the function's policy cannot depend on the services.
   */
  grantServiceCounts(cluster: ecs.ICluster): void {
    const services = clusterServiceArnPattern(cluster);
    // DescribeServices: an update that adds autoscaling registers a color's first scalable target
    // with the config's bounds only if the color is in service (desiredCount > 0).
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:UpdateService', 'ecs:DescribeServices'], resources: [services] }));
    Validations.of(this).acknowledge({
      id: iam5ResourceFinding(this, services),
      reason:
        "UpdateService (starting counts) and DescribeServices (whether a color is in service when autoscaling is added) on this environment's cluster only; service ARNs cannot be named without a dependency cycle with the image guard",
    });
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['application-autoscaling:RegisterScalableTarget', 'application-autoscaling:DescribeScalableTargets', 'application-autoscaling:DeregisterScalableTarget'],
        resources: ['*'],
      }),
    );
    grantAutoscalingServiceLinkedRole(this.function);
  }
}

/** Application Auto Scaling creates its ECS service-linked role on first registration. */
export function grantAutoscalingServiceLinkedRole(grantee: iam.IGrantable): void {
  const stack = Stack.of(grantee as unknown as Construct);
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['iam:CreateServiceLinkedRole'],
      resources: [
        Arn.format(
          { service: 'iam', region: '', resource: 'role', resourceName: 'aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService', arnFormat: ArnFormat.SLASH_RESOURCE_NAME },
          stack,
        ),
      ],
      conditions: { StringLike: { 'iam:AWSServiceName': 'ecs.application-autoscaling.amazonaws.com' } },
    }),
  );
}
