import * as s3 from 'aws-cdk-lib/aws-s3';
import cdkJson from '../../cdk.json';
import { buildApp } from '../../lib/app';

describe('cdk-nag AwsSolutions and PCI DSS 3.2.1', () => {
  test('GIVEN every environment WHEN synthesized THEN there is no unacknowledged finding', () => {
    const { app } = buildApp({ context: cdkJson.context });
    expect(() => app.synth()).not.toThrow();
  });

  test('fails synth on an unacknowledged finding', () => {
    const { app, stages } = buildApp({ environments: undefined, context: cdkJson.context });
    new s3.Bucket(stages.dev.stateless, 'CarelessBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1[^0-9][\s\S]*Dev\/Stateless\/CarelessBucket/);
  });
});
