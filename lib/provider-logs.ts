import { Duration, type IAspect, CfnResource, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';

/**
 * ServiceTimeout for CDK's own custom resources: their provider functions time out after 15 minutes
 * (CustomResourceProviderBase and LogRetention default), and CDK's response wrapper does not answer
 * when the function times out, so CloudFormation would wait the default hour. 20 minutes bounds that
 * wait above the function's own limit. ServiceTimeout must be 1–3600 s:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-customresource.html
 */
export const CDK_PROVIDER_SERVICE_TIMEOUT = Duration.minutes(20);

export interface CdkProviderDefaultsProps {
  /** Retention of the log groups created for functions that have none. */
  readonly retention: logs.RetentionDays;
  /** Key of those log groups (its policy must let CloudWatch Logs use it, as EnvironmentKey's does). */
  readonly encryptionKey: kms.IKey;
  /** @default RemovalPolicy.DESTROY - the logs of a provider go with its stack */
  readonly removalPolicy?: RemovalPolicy;
}

/** The template properties of a CfnResource created with `new CfnResource(…, { properties })`. */
function rawProperties(resource: CfnResource): Record<string, unknown> {
  return ((resource as unknown as { _cfnProperties?: Record<string, unknown> })._cfnProperties ?? {}) as Record<string, unknown>;
}

/**
 * The custom resource types CDK's own constructs bring in (autoDeleteObjects, restrictDefaultSecurityGroup, log
 * retention). Only these get a default ServiceTimeout: the project's own custom resources must set theirs, and the
 * deploy-invariant pack's CustomResourceServiceTimeout rule fails synth when one does not.
 */
export const CDK_CUSTOM_RESOURCE_TYPES: readonly string[] = ['Custom::S3AutoDeleteObjects', 'Custom::VpcRestrictDefaultSG', 'Custom::LogRetention'];

/**
 * Bounds what CDK's own providers would otherwise leave unbounded, for every construct of the stack it
 * is applied to (so also providers a future construct brings in):
 *
 * - Logs: CDK's singleton provider functions (Custom::S3AutoDeleteObjects from `autoDeleteObjects`,
 *   Custom::VpcRestrictDefaultSG from `restrictDefaultSecurityGroup`, Custom::LogRetention, …) are raw
 *   `AWS::Lambda::Function` resources without a log group, and no CDK option gives them one. Lambda then
 *   creates `/aws/lambda/<name>` on the first invocation, with no retention and outside the stack. Each
 *   such function (and any `lambda.Function` without `logGroup`) gets a log group of its own with the
 *   environment's retention and key, attached through `LoggingConfig.LogGroup`
 *   (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html). The function
 *   references the group, so the group exists before the function, hence before any custom resource it
 *   serves runs. A generated name rather than `/aws/lambda/<name>`: a function that already ran has
 *   that group outside the stack, and creating it again would fail the deploy.
 *   The providers' roles carry AWSLambdaBasicExecutionRole (logs:CreateLogStream/PutLogEvents on any group).
 * - ServiceTimeout: a custom resource of CDK's own (CDK_CUSTOM_RESOURCE_TYPES) without one gets
 *   CDK_PROVIDER_SERVICE_TIMEOUT. The project's own custom resources set theirs (lib/traffic-resources.ts).
 */
export class CdkProviderDefaults implements IAspect {
  constructor(private readonly props: CdkProviderDefaultsProps) {}

  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    if (node.cfnResourceType === 'AWS::Lambda::Function') this.giveLogGroup(node);
    else if (CDK_CUSTOM_RESOURCE_TYPES.includes(node.cfnResourceType) && rawProperties(node).ServiceTimeout === undefined) {
      // A string, as CustomResource renders its serviceTimeout.
      node.addPropertyOverride('ServiceTimeout', String(CDK_PROVIDER_SERVICE_TIMEOUT.toSeconds()));
    }
  }

  private giveLogGroup(fn: CfnResource): void {
    const id = `${fn.node.id}Logs`;
    if (fn.node.scope?.node.tryFindChild(id)) return;
    if (fn instanceof lambda.CfnFunction) {
      const config = fn.loggingConfig;
      // A token (IResolvable) is left alone: it is not ours to reinterpret.
      if (Token.isUnresolved(config) || (config as lambda.CfnFunction.LoggingConfigProperty | undefined)?.logGroup) return;
      fn.loggingConfig = { ...(config as lambda.CfnFunction.LoggingConfigProperty | undefined), logGroup: this.logGroup(fn, id).logGroupName };
    } else {
      const config = rawProperties(fn).LoggingConfig as { LogGroup?: unknown } | undefined;
      if (config?.LogGroup) return;
      fn.addPropertyOverride('LoggingConfig.LogGroup', this.logGroup(fn, id).logGroupName);
    }
  }

  private logGroup(fn: CfnResource, id: string): logs.LogGroup {
    return new logs.LogGroup(fn.node.scope!, id, {
      retention: this.props.retention,
      encryptionKey: this.props.encryptionKey,
      removalPolicy: this.props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
  }
}
