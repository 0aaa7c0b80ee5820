import * as s3 from 'aws-cdk-lib/aws-s3';
import { ENVIRONMENTS } from '../../config';
import { buildApp } from '../../lib/app';
import { TEST_CONTEXT } from './support';

describe('cdk-nag AwsSolutions and PCI DSS 3.2.1', () => {
  test('GIVEN every environment WHEN synthesized THEN there is no unacknowledged finding', () => {
    const { app } = buildApp({ context: TEST_CONTEXT });
    expect(() => app.synth()).not.toThrow();
  });

  test('fails synth on an unacknowledged finding', () => {
    const { app, stages } = buildApp({ environments: [ENVIRONMENTS.dev], context: TEST_CONTEXT });
    new s3.Bucket(stages.dev.stateless, 'CarelessBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1[^0-9][\s\S]*Dev\/Stateless\/CarelessBucket/);
  });
});
