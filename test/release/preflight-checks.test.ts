/** The release's image and certificate checks (lambda/release/preflight-checks.ts) with aws-sdk-client-mock. */
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import {
  imageIdOf,
  preflightChecks,
  type PreflightCheckSettings,
  preflightCheckSettingsFromEnv,
  type PreflightChecksContext,
  severitiesAtOrAbove,
} from '../../lambda/release/preflight-checks';
import { createPreflightChecksHandler } from '../../lambda/release/preflight-checks-handler';
import type { ReleaseState } from '../../lambda/release/steps';
import { logger } from '../../lambda/traffic';

logger.setLogLevel('SILENT');
const NOW = new Date('2026-05-01T00:00:00Z');
const DIGEST = `sha256:${'a'.repeat(64)}`;
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/c1';
const release = {
  owner: 'arn:exec',
  environment: 'staging',
  actor: 'test',
  services: ['frontend', 'backend'],
  stable: 'blue',
  candidate: 'green',
  fromVersion: 'frontend 1.0.0, backend 1.0.0',
  toVersion: `frontend 1.1.0, backend ${DIGEST}`,
} as unknown as ReleaseState;

const ecr = mockClient(ECRClient);
const acm = mockClient(ACMClient);
const ddb = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);
const err = (name: string) => Object.assign(new Error(name), { name });
const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);

function ctx(settings: Partial<PreflightCheckSettings> = {}): PreflightChecksContext {
  return {
    clients: { dynamodb: new DynamoDBClient({}) },
    ecr: new ECRClient({}),
    acm: new ACMClient({}),
    release: { sns: new SNSClient({}) },
    topology: { environment: 'staging', ledgerTableName: 'ledger', notificationTopicArn: 'arn:aws:sns:us-east-1:123456789012:t' } as never,
    settings: { repositories: { frontend: 'shop-frontend', backend: 'shop-backend' }, certificateArns: [CERT], ...settings },
    retry: { sleep: async () => undefined },
    now: () => NOW,
  };
}

beforeEach(() => {
  for (const m of [ecr, acm, ddb, sns]) m.reset();
  ddb.on(PutItemCommand).resolves({});
  sns.on(PublishCommand).resolves({});
  ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{}] });
  acm.on(DescribeCertificateCommand).resolves({ Certificate: { DomainName: 'example.com', Status: 'ISSUED', NotAfter: days(90) } });
});

test('passes with every image present and the certificate valid: asks ECR by tag and by digest, records preflight-checked', async () => {
  expect(await preflightChecks(ctx(), release)).toBe(release);
  expect(ecr.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input)).toEqual([
    { repositoryName: 'shop-frontend', imageIds: [{ imageTag: '1.1.0' }] },
    { repositoryName: 'shop-backend', imageIds: [{ imageDigest: DIGEST }] },
  ]);
  expect(ecr.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(0);
  const item = ddb.commandCalls(PutItemCommand)[0].args[0].input.Item!;
  expect(item.action.S).toBe('release:preflight-checked');
  expect(item.reason.S).toMatch(/shop-frontend:1\.1\.0 present; shop-backend@sha256:a+ present; example\.com valid 90 days/);
});

test('refuses naming every missing image and every bad certificate at once', async () => {
  ecr.on(DescribeImagesCommand, { repositoryName: 'shop-frontend' }).rejects(err('ImageNotFoundException'));
  ecr.on(DescribeImagesCommand, { repositoryName: 'shop-backend' }).rejects(err('RepositoryNotFoundException'));
  acm.on(DescribeCertificateCommand).resolves({ Certificate: { DomainName: 'example.com', Status: 'ISSUED', NotAfter: days(10), RenewalSummary: { RenewalStatus: 'PENDING_VALIDATION' } as never } });
  const e = await preflightChecks(ctx(), release).catch((x) => x);
  expect(e.name).toBe('PreflightRefused');
  expect(e.message).toContain('image shop-frontend:1.1.0 of frontend is not in its ECR repository shop-frontend');
  expect(e.message).toContain('the ECR repository shop-backend of backend does not exist');
  expect(e.message).toMatch(/certificate example\.com \(arn:aws:acm:.*c1\) expires 2026-05-11T00:00:00\.000Z, in 10\.0 days \(needs more than 14\); renew it: renewal PENDING_VALIDATION/);
  expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
});

test('refuses a certificate that is not ISSUED', async () => {
  acm.on(DescribeCertificateCommand).resolves({ Certificate: { DomainName: 'example.com', Status: 'PENDING_VALIDATION' } });
  await expect(preflightChecks(ctx(), release)).rejects.toThrow(/certificate example\.com .* is PENDING_VALIDATION, not ISSUED/);
});

test('with imageScan: refuses findings at or above the severity, naming them; lower ones pass', async () => {
  ecr.on(DescribeImageScanFindingsCommand, { repositoryName: 'shop-frontend' }).resolves({
    imageScanStatus: { status: 'COMPLETE' },
    imageScanFindings: { findingSeverityCounts: { CRITICAL: 1, HIGH: 2, LOW: 7 }, findings: [{ name: 'CVE-1', severity: 'CRITICAL' }, { name: 'CVE-2', severity: 'LOW' }] },
  });
  ecr.on(DescribeImageScanFindingsCommand, { repositoryName: 'shop-backend' }).resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: { MEDIUM: 3 } } });
  const e = await preflightChecks(ctx({ imageScan: { failOnSeverity: 'HIGH' } }), release).catch((x) => x);
  expect(e.message).toContain('image shop-frontend:1.1.0 of frontend has 1 CRITICAL, 2 HIGH finding(s) at or above HIGH (release.imageScan.failOnSeverity): CVE-1 (CRITICAL)');
  expect(e.message).not.toContain('of backend');
});

test('with imageScan: an unscanned or in-progress image passes (noted) unless requireScan', async () => {
  ecr.on(DescribeImageScanFindingsCommand, { repositoryName: 'shop-frontend' }).rejects(err('ScanNotFoundException'));
  ecr.on(DescribeImageScanFindingsCommand, { repositoryName: 'shop-backend' }).resolves({ imageScanStatus: { status: 'IN_PROGRESS' } });
  await preflightChecks(ctx({ imageScan: { failOnSeverity: 'HIGH' } }), release);
  expect(ddb.commandCalls(PutItemCommand)[0].args[0].input.Item!.reason.S).toMatch(/shop-frontend:1\.1\.0 present, NOT SCANNED; .*scan IN_PROGRESS/);
  const e = await preflightChecks(ctx({ imageScan: { failOnSeverity: 'HIGH', requireScan: true } }), release).catch((x) => x);
  expect(e.message).toMatch(/shop-frontend:1\.1\.0 of frontend has no scan .*aws ecr start-image-scan --repository-name shop-frontend --image-id imageTag=1\.1\.0/);
  expect(e.message).toMatch(/of backend: scan IN_PROGRESS, and release\.imageScan\.requireScan is set/);
});

test('a throttled ECR call is retried by the core; an unexpected error fails the step (the safe state ends the release)', async () => {
  ecr.on(DescribeImagesCommand, { repositoryName: 'shop-frontend' }).rejectsOnce(err('ThrottlingException')).resolves({ imageDetails: [{}] });
  await expect(preflightChecks(ctx(), release)).resolves.toBe(release);
  ecr.on(DescribeImagesCommand, { repositoryName: 'shop-frontend' }).rejects(err('AccessDeniedException'));
  await expect(preflightChecks(ctx(), release)).rejects.toThrow(/AccessDeniedException/);
});

test('helpers: image IDs, severity counts, settings from the environment (every problem at once)', () => {
  expect(imageIdOf('1.2.3')).toEqual({ imageTag: '1.2.3' });
  expect(imageIdOf(DIGEST)).toEqual({ imageDigest: DIGEST });
  expect(severitiesAtOrAbove({ CRITICAL: 0, HIGH: 1, MEDIUM: 4 }, 'MEDIUM')).toEqual(['1 HIGH', '4 MEDIUM']);
  expect(preflightCheckSettingsFromEnv({ IMAGE_REPOSITORIES: '{"a":"r"}', CERTIFICATE_ARNS: `${CERT}, ${CERT}2`, IMAGE_SCAN: '{"failOnSeverity":"LOW"}' })).toEqual({
    repositories: { a: 'r' },
    certificateArns: [CERT, `${CERT}2`],
    imageScan: { failOnSeverity: 'LOW' },
  });
  expect(() => preflightCheckSettingsFromEnv({ IMAGE_REPOSITORIES: 'x', IMAGE_SCAN: '{"failOnSeverity":"BAD"}' })).toThrow(/IMAGE_REPOSITORIES[\s\S]*CERTIFICATE_ARNS[\s\S]*IMAGE_SCAN/);
});

test('the handler runs step preflightChecks only and validates the release state', async () => {
  const handler = createPreflightChecksHandler({
    clients: { ecr: new ECRClient({}), acm: new ACMClient({}), dynamodb: new DynamoDBClient({}), sns: new SNSClient({}) },
    topology: () => ({ environment: 'staging' }) as never,
    settings: () => ctx().settings,
  });
  await expect(handler({ step: 'backup', release })).rejects.toThrow(/runs step preflightChecks only, got "backup"/);
  await expect(handler({ step: 'preflightChecks', release: { owner: 'x' } })).rejects.toMatchObject({ name: 'InvalidStepInput' });
});
