import { App, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { ENVIRONMENTS, type EnvironmentConfig } from '../../config';
import { imageVersionProblem } from '../../config/validate';
import { problemsOf } from './support';

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

function withVersion(version: string): EnvironmentConfig {
  const c = structuredClone(ENVIRONMENTS.staging) as Mutable<EnvironmentConfig>;
  c.services.backend.colors.green.version = version;
  return c;
}
const problem = (version: string) => problemsOf(withVersion(version)).find((p) => p.field === 'services.backend.colors.green.version');

describe('colors.<color>.version: an image tag or digest', () => {
  test.each(['1.0.0', 'v2_rc-1', 'a'.repeat(128), DIGEST])('accepts %s', (v) => {
    expect(problem(v)).toBeUndefined();
  });

  test('fails on a tag ECR does not accept, naming field, value, why and fix', () => {
    expect(problem('-1.0')).toEqual({
      field: 'services.backend.colors.green.version',
      value: '-1.0',
      why: 'is not a valid image tag',
      fix: expect.stringContaining('sha256:<64 hex>'),
    });
    expect(problem('a'.repeat(129))?.why).toBe('is not a valid image tag');
    expect(problem('')?.why).toBe('is not an image tag or digest');
  });

  test('fails on a malformed digest', () => {
    expect(problem('sha256:abc')?.why).toBe('is not a valid image digest');
    expect(problem(DIGEST.toUpperCase().replace('SHA256', 'sha256'))?.why).toBe('is not a valid image digest');
  });

  test('fails on a whole image reference instead of its tag or digest', () => {
    expect(problem(`ecommerce-backend@${DIGEST}`)?.why).toBe('is an image reference, not a tag or digest');
    expect(problem('123456789012.dkr.ecr.us-east-1.amazonaws.com/ecommerce-backend:1.0.0')?.why).toBe('is an image reference, not a tag or digest');
  });

  test('imageVersionProblem refuses a non-string', () => {
    expect(imageVersionProblem(undefined)?.why).toBe('is not an image tag or digest');
  });

  test('a digest is referenced as <repository>@sha256:…, a tag as <repository>:<tag> (the services construct passes the version to fromEcrRepository)', () => {
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    const repo = ecr.Repository.fromRepositoryName(stack, 'R', 'ecommerce-backend');
    const resolve = (v: string) => JSON.stringify(stack.resolve(ecs.ContainerImage.fromEcrRepository(repo, v).imageName));
    expect(resolve(DIGEST)).toContain(`/ecommerce-backend@${DIGEST}`);
    expect(resolve('1.2.3')).toContain('/ecommerce-backend:1.2.3');
  });
});
