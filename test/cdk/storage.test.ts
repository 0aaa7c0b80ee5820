/** Storage details found by the pre-production review of issue 8. */
import { ENVIRONMENTS } from '../../config';
import { synthEnvironment } from './support';

const { stateful } = synthEnvironment('production');

test('THEN every read replica has gp3 storage like its primary (CDK defaults replicas to gp2)', () => {
  const instances = Object.values(stateful.findResources('AWS::RDS::DBInstance')) as any[];
  expect(instances).toHaveLength(1 + ENVIRONMENTS.production.database.readReplicas);
  for (const i of instances) expect(i.Properties.StorageType).toBe('gp3');
});

test('THEN versioned log buckets expire old versions too, so the retention is real', () => {
  const buckets = (Object.values(stateful.findResources('AWS::S3::Bucket')) as any[]).filter((b) => b.Properties.VersioningConfiguration?.Status === 'Enabled');
  expect(buckets.length).toBeGreaterThanOrEqual(3);
  for (const b of buckets) {
    expect(b.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ ExpirationInDays: ENVIRONMENTS.production.logRetentionDays, NoncurrentVersionExpiration: { NoncurrentDays: ENVIRONMENTS.production.logRetentionDays } })]),
    );
  }
});
