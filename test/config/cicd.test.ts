/** Validation of `cicd` (the GitHub Actions deploy role) and `monitoring.slack` (config/validate-cicd.ts). */
import { ConfigError, ENVIRONMENTS, type EnvironmentConfig, validateEnvironments } from '../../config';
import { problemsOf } from './support';

const dev = ENVIRONMENTS.dev;
const withCicd = (cicd: unknown, base: EnvironmentConfig = dev): EnvironmentConfig => ({ ...base, cicd: cicd as EnvironmentConfig['cicd'] });
const withSlack = (slack: unknown): EnvironmentConfig => ({ ...dev, monitoring: { ...dev.monitoring, slack: slack as EnvironmentConfig['monitoring']['slack'] } });
const fields = (c: EnvironmentConfig) => problemsOf(c).map((p) => p.field);

describe('cicd validation', () => {
  test('accepts a repository, an optional GitHub environment, and no cicd at all', () => {
    expect(problemsOf(withCicd({ githubRepository: 'my-org/shop.web_2', createOidcProvider: false }))).toEqual([]);
    expect(problemsOf(withCicd({ githubRepository: 'a/b', githubEnvironment: 'prod-approval', createOidcProvider: true }))).toEqual([]);
    expect(problemsOf(withCicd(undefined))).toEqual([]);
  });

  test.each([['shop'], ['https://github.com/org/shop'], ['-org/shop'], ['org/shop/extra'], ['org--x/shop'], ['org/sh op']])(
    'fails on the repository %p, which is not owner/repository',
    (githubRepository) => {
      const [p] = problemsOf(withCicd({ githubRepository, createOidcProvider: true }));
      expect(p).toMatchObject({ field: 'cicd.githubRepository', value: githubRepository });
      expect(p.why).toMatch(/owner\/repository/);
    },
  );

  test.each([['prod:main'], ['*'], ['']])('fails on the GitHub environment %p, which cannot be matched exactly in the sub claim', (githubEnvironment) => {
    const [p] = problemsOf(withCicd({ githubRepository: 'org/shop', githubEnvironment, createOidcProvider: true }));
    expect(p).toMatchObject({ field: 'cicd.githubEnvironment', value: githubEnvironment });
  });

  test('fails on a createOidcProvider that is not a boolean', () => {
    expect(fields(withCicd({ githubRepository: 'org/shop', createOidcProvider: 'yes' }))).toEqual(['cicd.createOidcProvider']);
  });

  test('fails WHEN two environments of one account both create GitHub\'s OIDC provider, naming the one that keeps it', () => {
    const a = withCicd({ githubRepository: 'org/shop', createOidcProvider: true });
    const b: EnvironmentConfig = { ...withCicd({ githubRepository: 'org/shop', createOidcProvider: true }, ENVIRONMENTS.staging), account: dev.account };
    let error: unknown;
    try {
      validateEnvironments([a, b]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.objectContaining({ field: 'cicd.createOidcProvider', value: true, why: expect.stringContaining(`dev creates GitHub's OIDC provider in account ${dev.account} too`) }),
    ]);
    expect((error as ConfigError).message).toContain('config/staging.ts has 1 problem');
  });

  test('accepts two environments of one account WHEN one creates the provider and the other uses it', () => {
    const a = withCicd({ githubRepository: 'org/shop', createOidcProvider: true });
    const b: EnvironmentConfig = { ...withCicd({ githubRepository: 'org/shop', createOidcProvider: false }, ENVIRONMENTS.staging), account: dev.account };
    expect(() => validateEnvironments([a, b])).not.toThrow();
  });
});

describe('monitoring.slack validation', () => {
  test('accepts workspace and channel IDs (public and private channels)', () => {
    expect(problemsOf(withSlack({ workspaceId: 'T012AB3C4D5', channelId: 'C0123ABCDEF' }))).toEqual([]);
    expect(problemsOf(withSlack({ workspaceId: 'T012AB3C4D5', channelId: 'G0123ABCDEF' }))).toEqual([]);
  });

  test('fails on a workspace ID that is not T…', () => {
    const [p] = problemsOf(withSlack({ workspaceId: 'my-workspace', channelId: 'C0123ABCDEF' }));
    expect(p).toMatchObject({ field: 'monitoring.slack.workspaceId', value: 'my-workspace' });
    expect(p.fix).toMatch(/Chatbot console/);
  });

  test.each([['#releases'], ['c0123abcdef'], ['D0123ABCDEF']])('fails on the channel ID %p (a name, lower case, a direct message)', (channelId) => {
    const [p] = problemsOf(withSlack({ workspaceId: 'T012AB3C4D5', channelId }));
    expect(p).toMatchObject({ field: 'monitoring.slack.channelId', value: channelId });
  });
});
