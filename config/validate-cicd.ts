/**
 * Validation of the CI/CD deploy role (`cicd`) and the Slack channel (`monitoring.slack`): called by validateConfig
 * (one environment) and validateEnvironments (what environments of one account must agree on).
 */
import type { EnvironmentConfig } from './types';

type Check = (ok: boolean, field: string, value: unknown, why: string, fix: string) => void;

/**
 * github.com's rules: an owner is 1 to 39 letters, digits and single hyphens, not starting with a hyphen; a repository
 * name 1 to 100 letters, digits, `.`, `_`, `-`. The role's trust policy compares the token's `sub` claim with it.
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims
 */
export const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/[A-Za-z0-9._-]{1,100}$/;
/** A GitHub environment name as it appears in the `sub` claim: no `:` (the claim's separator), no wildcard, ≤ 255. */
export const GITHUB_ENVIRONMENT = /^[A-Za-z0-9._-]{1,255}$/;
/** Slack IDs: workspace (team) `T…`, channel `C…` (public) or `G…` (private), upper-case letters and digits. */
export const SLACK_WORKSPACE_ID = /^T[A-Z0-9]{8,20}$/;
export const SLACK_CHANNEL_ID = /^[CG][A-Z0-9]{8,20}$/;

export function validateCicd(c: EnvironmentConfig, check: Check): void {
  const cicd = c.cicd;
  if (cicd !== undefined) {
    check(
      typeof cicd.githubRepository === 'string' && GITHUB_REPOSITORY.test(cicd.githubRepository),
      'cicd.githubRepository',
      cicd.githubRepository,
      "must be `owner/repository` on github.com: the deploy role trusts only this repository's workflow tokens",
      "use e.g. 'example-org/ecommerce-platform'",
    );
    if (cicd.githubEnvironment !== undefined) {
      check(
        GITHUB_ENVIRONMENT.test(cicd.githubEnvironment),
        'cicd.githubEnvironment',
        cicd.githubEnvironment,
        "must be 1–255 letters, digits, '.', '_' or '-': it is matched exactly in the token's sub claim (repo:<owner>/<repo>:environment:<name>)",
        `use the name of the GitHub environment the deploy jobs run in, e.g. '${c.name}', or remove it`,
      );
    }
    check(
      typeof cicd.createOidcProvider === 'boolean',
      'cicd.createOidcProvider',
      cicd.createOidcProvider,
      'must be true or false',
      'true in exactly one environment of each account, false where the account already has the provider',
    );
  }
  const slack = c.monitoring.slack;
  if (slack !== undefined) {
    check(
      typeof slack.workspaceId === 'string' && SLACK_WORKSPACE_ID.test(slack.workspaceId),
      'monitoring.slack.workspaceId',
      slack.workspaceId,
      "is not a Slack workspace ID ('T' and upper-case letters and digits)",
      "copy it from the Chatbot console's authorized workspace, e.g. 'T012AB3C4D5'",
    );
    check(
      typeof slack.channelId === 'string' && SLACK_CHANNEL_ID.test(slack.channelId),
      'monitoring.slack.channelId',
      slack.channelId,
      "is not a Slack channel ID ('C' or 'G' and upper-case letters and digits; not the channel's #name)",
      "copy it from the channel's details in Slack, e.g. 'C0123ABCDEF'",
    );
  }
}

/**
 * An account holds at most one IAM OIDC provider per URL: a second environment creating GitHub's in the same account
 * fails its deploy with EntityAlreadyExists. https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html
 * Returns, per environment, the problem of an environment that creates a second provider in an account.
 */
export function oidcProviderProblems(configs: readonly EnvironmentConfig[]): { environment: string; field: string; value: unknown; why: string; fix: string }[] {
  const problems: { environment: string; field: string; value: unknown; why: string; fix: string }[] = [];
  configs.forEach((c, i) => {
    if (c.cicd?.createOidcProvider !== true) return;
    const creator = configs.slice(0, i).find((o) => o.account === c.account && o.cicd?.createOidcProvider === true);
    if (!creator) return;
    problems.push({
      environment: c.name,
      field: 'cicd.createOidcProvider',
      value: true,
      why: `${creator.name} creates GitHub's OIDC provider in account ${c.account} too; an account has one provider per URL, so the second deploy fails with EntityAlreadyExists`,
      fix: `set false here (the role uses the provider ${creator.name} creates; deploy ${creator.name}'s Cicd stack first)`,
    });
  });
  return problems;
}
