/**
 * The release's image and certificate checks (Task state PreflightChecks, right after Preflight, before anything is
 * scaled or moved): for every service of the release, the new color's image exists in the service's ECR repository
 * and, where `release.imageScan` is set, its scan has no finding at or above the configured severity; every
 * certificate of the load balancer is ISSUED and valid for more than 14 days. A refusal (PreflightRefused, one message
 * naming each image, finding or certificate) goes to the safe state: nothing moved, lock released, record failed.
 * Runs in its own Lambda (preflight-checks-handler.ts) so that only it bundles the ECR and ACM clients.
 */
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, type ECRClient, type ImageIdentifier } from '@aws-sdk/client-ecr';
import type { ImageScanPolicy, ScanSeverity } from '../../config/types';
import { call, nowOf } from '../traffic/context';
import { errorMessage } from '../traffic/errors';
import type { RecordContext } from './context';
import { PreflightRefused } from './errors';
import { record } from './record';
import { parseVersions } from './safety';
import type { ReleaseState } from './steps';

/** Severities in ECR's order, lowest first (config/types.ts SCAN_SEVERITIES; repeated to keep config out of the bundle). */
const SEVERITIES: readonly ScanSeverity[] = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/** A certificate must stay valid this many days more (ACM renews managed certificates 60 days before expiry). */
export const CERTIFICATE_MIN_DAYS = 14;

export interface PreflightCheckSettings {
  /** ECR repository name of each service (config `repositoryName`). */
  readonly repositories: Readonly<Record<string, string>>;
  /** ARNs of the load balancer's certificates. */
  readonly certificateArns: readonly string[];
  /** @default - scan findings not checked */
  readonly imageScan?: ImageScanPolicy;
}

export type PreflightChecksContext = RecordContext & {
  readonly ecr: ECRClient;
  readonly acm: ACMClient;
  readonly settings: PreflightCheckSettings;
};

/** Reads the handler's wiring from environment variables (IMAGE_REPOSITORIES, CERTIFICATE_ARNS, IMAGE_SCAN). */
export function preflightCheckSettingsFromEnv(env: Record<string, string | undefined> = process.env): PreflightCheckSettings {
  const problems: string[] = [];
  let repositories: Record<string, string> = {};
  try {
    repositories = JSON.parse(env.IMAGE_REPOSITORIES ?? '') as Record<string, string>;
    if (typeof repositories !== 'object' || repositories === null || Object.values(repositories).some((r) => typeof r !== 'string' || r === '')) throw new Error('not an object of names');
  } catch (e) {
    problems.push(`IMAGE_REPOSITORIES must be {"<service>": "<repository name>"}: ${errorMessage(e)}`);
  }
  const certificateArns = (env.CERTIFICATE_ARNS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (certificateArns.length === 0) problems.push('CERTIFICATE_ARNS must list the load balancer certificates (comma-separated)');
  let imageScan: ImageScanPolicy | undefined;
  if (env.IMAGE_SCAN) {
    try {
      imageScan = JSON.parse(env.IMAGE_SCAN) as ImageScanPolicy;
      if (!SEVERITIES.includes(imageScan.failOnSeverity)) throw new Error(`failOnSeverity ${JSON.stringify(imageScan.failOnSeverity)} is not a severity`);
    } catch (e) {
      problems.push(`IMAGE_SCAN must be {"failOnSeverity": "HIGH"}: ${errorMessage(e)}`);
    }
  }
  if (problems.length > 0) throw new Error(`preflight checks handler configuration is invalid:\n  - ${problems.join('\n  - ')}`);
  return { repositories, certificateArns, ...(imageScan ? { imageScan } : {}) };
}

/** `sha256:…` is a digest, anything else a tag (lambda/traffic/state.ts imageVersion reads them from the task definitions). */
export function imageIdOf(version: string): ImageIdentifier {
  return /^sha256:[0-9a-f]{64}$/.test(version) ? { imageDigest: version } : { imageTag: version };
}

/** The severities at or above `threshold` with a count > 0, highest first. */
export function severitiesAtOrAbove(counts: Readonly<Record<string, number>> | undefined, threshold: ScanSeverity): string[] {
  const from = SEVERITIES.indexOf(threshold);
  return SEVERITIES.slice(from)
    .reverse()
    .filter((s) => (counts?.[s] ?? 0) > 0)
    .map((s) => `${counts![s]} ${s}`);
}

const nameOf = (e: unknown) => (e as { name?: string })?.name;

/** What is wrong with one service's new image (empty when it may be released), plus a note for the record. */
async function checkImage(ctx: PreflightChecksContext, service: string, version: string | undefined): Promise<{ problems: string[]; note: string }> {
  const repositoryName = ctx.settings.repositories[service];
  if (!repositoryName) return { problems: [`${service}: no ECR repository known for it (IMAGE_REPOSITORIES); deploy the stack again`], note: '' };
  if (!version || version === 'unknown') return { problems: [`${service}: the new color's image version is unknown (its task definition could not be read)`], note: '' };
  const image = `${repositoryName}:${version}`.replace(':sha256:', '@sha256:');
  const imageId = imageIdOf(version);
  try {
    const out = await call(ctx, 'ecr:DescribeImages', () => ctx.ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [imageId] })));
    if ((out.imageDetails ?? []).length === 0) return { problems: [`image ${image} of ${service} is not in its ECR repository`], note: '' };
  } catch (e) {
    if (nameOf(e) === 'ImageNotFoundException') return { problems: [`image ${image} of ${service} is not in its ECR repository ${repositoryName}: push it, or deploy the version that was pushed`], note: '' };
    if (nameOf(e) === 'RepositoryNotFoundException') return { problems: [`the ECR repository ${repositoryName} of ${service} does not exist`], note: '' };
    throw e;
  }
  const policy = ctx.settings.imageScan;
  if (!policy) return { problems: [], note: `${image} present` };
  let scan;
  try {
    scan = await call(ctx, 'ecr:DescribeImageScanFindings', () => ctx.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName, imageId, maxResults: 100 })));
  } catch (e) {
    // No scan of this image: scanning is off for the repository (or the registry), or the image was pushed before it
    // was turned on. https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html
    if (nameOf(e) !== 'ScanNotFoundException') throw e;
    return policy.requireScan
      ? { problems: [`image ${image} of ${service} has no scan (scanning off for ${repositoryName}?) and release.imageScan.requireScan is set: scan it (aws ecr start-image-scan --repository-name ${repositoryName} --image-id ${Object.entries(imageId).map(([k, v]) => `${k}=${v}`).join(',')})`], note: '' }
      : { problems: [], note: `${image} present, NOT SCANNED` };
  }
  const status = scan.imageScanStatus?.status;
  if (status !== 'COMPLETE' && status !== 'ACTIVE') {
    // IN_PROGRESS, PENDING, FAILED, UNSUPPORTED_IMAGE, …: no verdict to judge. Waiting here would hold the lock for an
    // unknown time; requireScan makes it a refusal (start the release again once the scan is done).
    const why = `scan ${status ?? 'status unknown'}${scan.imageScanStatus?.description ? ` (${scan.imageScanStatus.description})` : ''}`;
    return policy.requireScan ? { problems: [`image ${image} of ${service}: ${why}, and release.imageScan.requireScan is set`], note: '' } : { problems: [], note: `${image} present, ${why}` };
  }
  const over = severitiesAtOrAbove(scan.imageScanFindings?.findingSeverityCounts, policy.failOnSeverity);
  if (over.length === 0) return { problems: [], note: `${image} scanned, nothing at or above ${policy.failOnSeverity}` };
  const at = SEVERITIES.indexOf(policy.failOnSeverity);
  const named = [...(scan.imageScanFindings?.findings ?? []), ...(scan.imageScanFindings?.enhancedFindings ?? []).map((f) => ({ name: f.title, severity: f.severity }))]
    .filter((f) => SEVERITIES.indexOf(f.severity as ScanSeverity) >= at)
    .slice(0, 5)
    .map((f) => `${f.name} (${f.severity})`);
  return {
    problems: [`image ${image} of ${service} has ${over.join(', ')} finding(s) at or above ${policy.failOnSeverity} (release.imageScan.failOnSeverity)${named.length ? `: ${named.join(', ')}` : ''}`],
    note: '',
  };
}

async function checkCertificate(ctx: PreflightChecksContext, arn: string): Promise<{ problems: string[]; note: string }> {
  const c = (await call(ctx, 'acm:DescribeCertificate', () => ctx.acm.send(new DescribeCertificateCommand({ CertificateArn: arn })))).Certificate;
  const name = `certificate ${c?.DomainName ?? ''} (${arn})`;
  if (c?.Status !== 'ISSUED') return { problems: [`${name} is ${c?.Status ?? 'unknown'}, not ISSUED`], note: '' };
  const days = c.NotAfter ? (c.NotAfter.getTime() - nowOf(ctx).getTime()) / 86_400_000 : NaN;
  if (!(days > CERTIFICATE_MIN_DAYS)) {
    return { problems: [`${name} expires ${c.NotAfter?.toISOString() ?? '(no NotAfter)'}, in ${Number.isNaN(days) ? '?' : days.toFixed(1)} days (needs more than ${CERTIFICATE_MIN_DAYS}); renew it: ${c.RenewalSummary?.RenewalStatus ? `renewal ${c.RenewalSummary.RenewalStatus}` : 'check its DNS validation records'}`], note: '' };
  }
  return { problems: [], note: `${c.DomainName} valid ${Math.floor(days)} days` };
}

/** Checks every image of the release and every certificate; throws PreflightRefused listing every problem. */
export async function preflightChecks(ctx: PreflightChecksContext, release: ReleaseState): Promise<ReleaseState> {
  const versions = parseVersions(release.toVersion);
  const results = await Promise.all([
    ...release.services.map((s) => checkImage(ctx, s, versions[s])),
    ...ctx.settings.certificateArns.map((arn) => checkCertificate(ctx, arn)),
  ]);
  const problems = results.flatMap((r) => r.problems);
  if (problems.length > 0) throw new PreflightRefused(`preflight checks refused the release of ${release.candidate} (${release.toVersion}): ${problems.join('; ')}`);
  await record(ctx, {
    actor: release.actor,
    event: 'preflight-checked',
    message: `images and certificates checked: ${results.map((r) => r.note).filter(Boolean).join('; ')}`,
    detail: { notes: results.map((r) => r.note) },
  });
  return release;
}
