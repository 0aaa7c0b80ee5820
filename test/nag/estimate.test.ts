import { CfnOutput, CfnResource, Fn, ReferenceStrength, Stack } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { jsonLength, render, renderIdentity, renderString } from '../../lib/nag/estimate';
import { LONGEST_REGION, PARTITION, UNKNOWN_LENGTH } from '../../lib/nag/formats';
import { newApp, newStack, synthesizedModel } from './support';

const resolve = (stack: Stack, value: unknown) => stack.resolve(value);

describe('the size estimator (lib/nag/estimate.ts)', () => {
  test('a generated name is <stackName>-<logicalId>-<13 chars> cut to the type\'s limit; the ARN has the longest partition and region', () => {
    const stack = newStack();
    const topic = new sns.CfnTopic(stack, 'Topic');
    const model = synthesizedModel(stack);
    expect(renderString(resolve(stack, topic.ref), model)).toBe(`arn:${PARTITION}:sns:${LONGEST_REGION}:123456789012:Test-Topic-XXXXXXXXXXXXX`);
  });

  test('identity mode renders the stack\'s own region, to compare references with what is written out', () => {
    const stack = newStack();
    const model = synthesizedModel(stack);
    expect(renderString({ 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' }, model)).toBe(`logs.${LONGEST_REGION}.amazonaws.com`);
    expect(renderIdentity({ 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' }, model)).toBe('logs.us-east-1.amazonaws.com');
  });

  test('a target group name is cut to 32 characters, a given name is kept', () => {
    const stack = newStack(newApp(), 'AVeryLongStackNameThatAloneExceedsTheLimit');
    const generated = new elbv2.CfnTargetGroup(stack, 'Generated');
    const named = new elbv2.CfnTargetGroup(stack, 'Named', { name: 'tg' });
    const model = synthesizedModel(stack);
    const fullName = (tg: elbv2.CfnTargetGroup) => renderString(resolve(stack, tg.attrTargetGroupFullName), model);
    expect(fullName(generated)).toBe(`targetgroup/${'AVeryLongStackNameThatAloneExceedsTheLimit'.slice(0, 32)}/0000000000000000`);
    expect(fullName(named)).toBe('targetgroup/tg/0000000000000000');
  });

  test('an environment-agnostic stack renders the longest region even in identity mode', () => {
    const stack = new Stack(newApp(), 'Agnostic');
    const model = synthesizedModel(stack);
    expect(renderIdentity({ Ref: 'AWS::Region' }, model)).toBe(LONGEST_REGION);
    expect(renderString({ Ref: 'AWS::AccountId' }, model)).toHaveLength(12);
  });

  test('Fn::Join, Fn::Sub, Fn::Select and Fn::Split are evaluated', () => {
    const stack = newStack();
    const vpc = new ec2.CfnVPC(stack, 'Vpc', { cidrBlock: '10.0.0.0/16' });
    const model = synthesizedModel(stack);
    expect(renderString(resolve(stack, Fn.join('/', ['a', vpc.ref])), model)).toBe('a/vpc-00000000000000000');
    expect(renderString({ 'Fn::Sub': ['${AWS::StackName}-${X}-${!Literal}', { X: 'y' }] }, model)).toBe('Test-y-${Literal}');
    expect(renderString(resolve(stack, Fn.select(1, Fn.split(':', 'a:b:c'))), model)).toBe('b');
  });

  test('a cross-stack reference (Fn::GetStackOutput) is rendered in the producing stack', () => {
    const app = newApp();
    const producer = newStack(app, 'Producer');
    const consumer = newStack(app, 'Consumer');
    const topic = new sns.Topic(producer, 'Topic');
    // The app's default is strong (cdk.json); a weak reference is what renders Fn::GetStackOutput.
    (topic.node.defaultChild as CfnResource).applyCrossStackReferenceStrength(ReferenceStrength.WEAK);
    new CfnResource(consumer, 'Uses', { type: 'AWS::SSM::Parameter', properties: { Type: 'String', Value: topic.topicArn } });
    const model = synthesizedModel(consumer);
    const value = model.resource('Uses')!.Properties!.Value;
    expect(value).toHaveProperty(['Fn::GetStackOutput']);
    expect(renderString(value, model)).toMatch(/^arn:aws-us-gov:sns:ap-southeast-2:123456789012:Producer-TopicBFC7AF6E-X{13}$/);
  });

  test('an import (Fn::ImportValue) is rendered from the exporting stack', () => {
    const app = newApp();
    const producer = newStack(app, 'Producer');
    const consumer = newStack(app, 'Consumer');
    const topic = new sns.CfnTopic(producer, 'Topic');
    new CfnOutput(producer, 'TopicArn', { value: topic.ref, exportName: 'topic-arn' });
    const model = synthesizedModel(consumer);
    expect(renderString(resolve(consumer, Fn.importValue('topic-arn')), model)).toMatch(/^arn:aws-us-gov:sns:ap-southeast-2:123456789012:Producer-Topic-X{13}$/);
  });

  test('an unknown attribute or export is estimated at the documented default and reported', () => {
    const stack = newStack();
    const custom = new CfnResource(stack, 'Custom', { type: 'Custom::Thing', properties: { ServiceToken: 'arn' } });
    const model = synthesizedModel(stack);
    const unknowns: string[] = [];
    expect(renderString(resolve(stack, custom.getAtt('Whatever')), model, unknowns)).toHaveLength(UNKNOWN_LENGTH);
    expect(renderString(resolve(stack, Fn.importValue('missing')), model, unknowns)).toHaveLength(UNKNOWN_LENGTH);
    expect(unknowns).toEqual(['Custom::Thing.Whatever', 'Fn::ImportValue missing']);
  });

  test('Fn::If takes the longer branch; AWS::NoValue removes the key', () => {
    const stack = newStack();
    const model = synthesizedModel(stack);
    expect(renderString({ 'Fn::If': ['C', 'short', 'the longer one'] }, model)).toBe('the longer one');
    expect(render({ A: { Ref: 'AWS::NoValue' }, B: 'b' }, model)).toEqual({ B: 'b' });
  });

  test('jsonLength is the byte length of the JSON, escapes included', () => {
    const stack = newStack();
    const model = synthesizedModel(stack);
    expect(jsonLength({ K: '"v"' }, model)).toBe(JSON.stringify({ K: '"v"' }).length);
  });
});
