import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type HandlerEntry, handlerBundleDir } from './bundles';

const ROOT = path.join(__dirname, '..');

/** The Lambda runtime every handler runs on; the bundle targets the same Node.js version. */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface HandlerFunctionProps {
  /** Handler source relative to the repository root, e.g. `lambda/switch/handler.ts`; exports `handler`. */
  readonly entry: HandlerEntry;
  readonly description: string;
  readonly vpc: ec2.IVpc;
  /** Key for the function's environment variables and log group. */
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly environment?: Readonly<Record<string, string>>;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
}

/**
 * A project handler: bundled by the local esbuild (never Docker) as minified, tree-shaken ESM (lib/bundles.ts),
 * on arm64 in the VPC's private subnets, with its own encrypted JSON log group and a role without
 * AWS managed policies. Callers grant it exactly what it calls; an acknowledgment on this construct
 * covers the function, its role and its policy.
 */
export class HandlerFunction extends Construct implements iam.IGrantable {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly grantPrincipal: iam.IPrincipal;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.encryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = (this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    }));
    this.grantPrincipal = role;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${props.description}: HTTPS to AWS APIs only`,
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');

    this.function = new lambda.Function(this, 'Function', {
      // Built once per synth for all handlers (lib/bundles.ts); a synth that skips bundling (the tests,
      // `cdk synth --exclusively`) takes the source folder instead, as NodejsFunction does.
      code: lambda.Code.fromAsset(
        Stack.of(this).bundlingRequired ? handlerBundleDir(props.entry) : path.join(ROOT, path.dirname(props.entry)),
      ),
      handler: 'index.handler',
      description: props.description,
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(60),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      environment: { ...props.environment, POWERTOOLS_SERVICE_NAME: id },
      environmentEncryption: props.encryptionKey,
      tracing: lambda.Tracing.ACTIVE,
    });
    logGroup.grantWrite(role);
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Lambda VPC ENI actions and X-Ray trace writes support no resource-level permissions',
    });
    // ENI management for a function in a VPC, without the managed AWSLambdaVPCAccessExecutionRole.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }),
    );
  }

  get functionArn(): string {
    return this.function.functionArn;
  }

  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.role.addToPrincipalPolicy(statement);
  }
}
