/**
 * Every Lambda function of every stack logs to a log group with a retention, and every custom resource has a
 * ServiceTimeout above the worst case of the function that answers it — including CDK's own providers
 * (Custom::S3AutoDeleteObjects, Custom::VpcRestrictDefaultSG, LogRetention), through CdkProviderDefaults.
 */
import { App, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Aspects } from 'aws-cdk-lib';
import { ENVIRONMENTS, type EnvironmentName } from '../../config';
import { CDK_PROVIDER_SERVICE_TIMEOUT, CdkProviderDefaults } from '../../lib/provider-logs';
import { TRAFFIC_RESOURCE_SERVICE_TIMEOUT, TRAFFIC_RESOURCE_TIMEOUT } from '../../lib/traffic-resources';
import { resourcesOf, synthEnvironment } from './support';

const NAMES = Object.keys(ENVIRONMENTS) as EnvironmentName[];
const stacksOf = (name: EnvironmentName) => {
  const { stateful, stateless } = synthEnvironment(name);
  return [
    ['Stateful', stateful],
    ['Stateless', stateless],
  ] as const;
};

/** The logical ID of the function a custom resource's ServiceToken points at (`Fn::GetAtt [id, Arn]`). */
function serviceFunction(serviceToken: unknown): string {
  const getAtt = (serviceToken as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (!getAtt || getAtt[1] !== 'Arn') throw new Error(`ServiceToken is not a function of the stack: ${JSON.stringify(serviceToken)}`);
  return getAtt[0];
}

describe.each(NAMES)('GIVEN the %s environment', (name) => {
  const retention = ENVIRONMENTS[name].logRetentionDays;

  test.each(['Stateful', 'Stateless'] as const)(
    'WHEN synthesized THEN every Lambda function of the %s stack (CDK providers included) logs to an encrypted log group of the stack with the environment\'s retention',
    (which) => {
      const template = stacksOf(name).find(([n]) => n === which)![1];
      const groups = template.findResources('AWS::Logs::LogGroup');
      for (const [id, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
        const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref;
        expect({ id, logGroup: ref }).toEqual({ id, logGroup: expect.any(String) });
        expect({ id, retention: groups[ref].Properties.RetentionInDays, encrypted: !!groups[ref].Properties.KmsKeyId }).toEqual({ id, retention, encrypted: true });
      }
    },
  );

  test('WHEN synthesized THEN every custom resource has a ServiceTimeout of 1–3600 s above the timeout of the function that answers it', () => {
    let seen = 0;
    for (const [, template] of stacksOf(name)) {
      const functions = template.findResources('AWS::Lambda::Function');
      for (const [id, r] of Object.entries(template.toJSON().Resources as Record<string, any>)) {
        if (!(r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource')) continue;
        seen++;
        // CDK renders it as a string, as CloudFormation accepts for integer properties.
        const timeout = Number(r.Properties.ServiceTimeout);
        const fnTimeout = functions[serviceFunction(r.Properties.ServiceToken)].Properties.Timeout;
        expect({ id, timeout, inRange: timeout >= 1 && timeout <= 3600, aboveFunction: timeout > fnTimeout }).toEqual({
          id,
          timeout: expect.any(Number),
          inRange: true,
          aboveFunction: true,
        });
      }
    }
    expect(seen).toBeGreaterThanOrEqual(6);
  });
});

describe('GIVEN the traffic custom resources', () => {
  const { stateless } = synthEnvironment('production');

  test('THEN each waits 10 minutes at most: more than 3 attempts of the 60 s function plus Lambda\'s 1 + 2 min async retry waits', () => {
    for (const type of ['Custom::WeightedListenerRule', 'Custom::LiveImageGuard', 'Custom::ServiceCounts']) {
      const found = resourcesOf(stateless, type);
      expect(found.length).toBeGreaterThan(0);
      for (const [, r] of found) expect(r.Properties.ServiceTimeout).toBe('600');
    }
    expect(TRAFFIC_RESOURCE_SERVICE_TIMEOUT.toSeconds()).toBeGreaterThan(3 * TRAFFIC_RESOURCE_TIMEOUT.toSeconds() + 180);
    stateless.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Traffic custom resources'), Timeout: 60 });
  });

  test('THEN the image guard receives the cluster and may list its services and read their task definitions', () => {
    const [[, guard]] = resourcesOf(stateless, 'Custom::LiveImageGuard');
    const clusterRef = guard.Properties.ClusterName;
    expect(clusterRef).toEqual({ Ref: expect.stringMatching(/^Cluster/) });
    const [[, policy]] = resourcesOf(stateless, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('TrafficResourcesHandlerRole'));
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }>;
    const allowing = (action: string) => statements.filter((st) => ([] as string[]).concat(st.Action).includes(action));
    expect(allowing('ecs:ListServices')).toEqual([
      expect.objectContaining({ Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [clusterRef.Ref, 'Arn'] } } } }),
    ]);
    expect(allowing('ecs:DescribeTaskDefinition')).toEqual([expect.objectContaining({ Resource: '*' })]);
    expect(allowing('ecs:DescribeServices').length).toBeGreaterThan(0);
  });
});

describe('GIVEN CdkProviderDefaults on a stack of its own', () => {
  function synth() {
    const stack = new Stack(new App({ builtinCloudFormationValidation: false }), 'S');
    const encryptionKey = new kms.Key(stack, 'Key');
    Aspects.of(stack).add(new CdkProviderDefaults({ retention: logs.RetentionDays.ONE_MONTH, encryptionKey }));
    new s3.Bucket(stack, 'Bucket', { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true });
    new logs.LogRetention(stack, 'Retention', { logGroupName: '/x', retention: logs.RetentionDays.ONE_DAY });
    const code = lambda.Code.fromInline('exports.handler = async () => {}');
    const common = { code, handler: 'index.handler', runtime: lambda.Runtime.NODEJS_24_X };
    const own = new logs.LogGroup(stack, 'OwnLogs', { retention: logs.RetentionDays.ONE_WEEK });
    const withGroup = new lambda.Function(stack, 'WithGroup', { ...common, logGroup: own });
    const without = new lambda.Function(stack, 'Without', { ...common, loggingFormat: lambda.LoggingFormat.JSON });
    new CustomResource(stack, 'Explicit', { serviceToken: withGroup.functionArn, resourceType: 'Custom::Explicit', serviceTimeout: Duration.seconds(90) });
    new CustomResource(stack, 'Implicit', { serviceToken: without.functionArn, resourceType: 'Custom::Implicit' });
    return Template.fromStack(stack);
  }
  const template = synth();
  const groups = template.findResources('AWS::Logs::LogGroup');

  test('WHEN CDK providers (auto-delete objects, log retention) are in the stack THEN each function gets its own log group with the retention and key', () => {
    const providers = resourcesOf(template, 'AWS::Lambda::Function').filter(([id]) => /AutoDeleteObjects|LogRetention/.test(id));
    expect(providers).toHaveLength(2);
    const refs = providers.map(([, fn]) => fn.Properties.LoggingConfig.LogGroup.Ref);
    expect(new Set(refs).size).toBe(2);
    for (const ref of refs) expect(groups[ref].Properties).toMatchObject({ RetentionInDays: 30, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] } });
  });

  test('WHEN the auto-delete custom resource runs THEN its function already has its log group: the function references it', () => {
    const [[, cr]] = resourcesOf(template, 'Custom::S3AutoDeleteObjects');
    const fn = template.findResources('AWS::Lambda::Function')[serviceFunction(cr.Properties.ServiceToken)];
    expect(groups[fn.Properties.LoggingConfig.LogGroup.Ref]).toBeDefined();
  });

  test('WHEN a lambda.Function has a log group THEN it keeps it; WHEN it has none THEN it gets one and keeps its other logging settings', () => {
    const fns = Object.fromEntries(resourcesOf(template, 'AWS::Lambda::Function').map(([id, fn]) => [id.replace(/[0-9A-F]{8}$/, ''), fn.Properties.LoggingConfig]));
    expect(fns.WithGroup).toEqual({ LogGroup: { Ref: expect.stringMatching(/^OwnLogs/) } });
    expect(fns.Without).toEqual({ LogFormat: 'JSON', LogGroup: { Ref: expect.stringMatching(/^WithoutResourceLogs/) } });
    // OwnLogs, WithoutLogs and the two providers' groups: none added for WithGroup.
    expect(Object.keys(groups)).toHaveLength(4);
  });

  test("WHEN CDK's own custom resources have no ServiceTimeout THEN they get the CDK provider bound; the project's are left to the deploy-invariant pack", () => {
    template.hasResourceProperties('Custom::Explicit', { ServiceTimeout: '90' });
    // Not defaulted: a custom resource of the project without a bound must fail synth (CustomResourceServiceTimeout).
    template.hasResourceProperties('Custom::Implicit', { ServiceTimeout: Match.absent() });
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', { ServiceTimeout: String(CDK_PROVIDER_SERVICE_TIMEOUT.toSeconds()) });
    template.hasResourceProperties('Custom::LogRetention', { ServiceTimeout: '1200' });
  });
});
