#!/usr/bin/env bash
# The pipeline's release step (.github/workflows/pipeline.yml): releases an environment only when a color's version in
# config/<env>.ts changed since <base> (a commit, or `previous-tag`: the tag before the one being built), after
# `cdk deploy` has put the new version on the idle color. An infrastructure-only change deploys without a release.
#   bash scripts/ci-release.sh <env> <base|previous-tag>
# Exit code: the release CLI's (0 released, 1 failed or refused, 2 usage/credentials), 0 when there is nothing to release.
set -euo pipefail
env="${1:?usage: ci-release.sh <env> <base-commit|previous-tag>}"
base="${2:?usage: ci-release.sh <env> <base-commit|previous-tag>}"
cd "$(dirname "$0")/.."
if [ "$base" = previous-tag ]; then
  base="$(git describe --tags --abbrev=0 --match 'v*' HEAD^ 2>/dev/null || git rev-list --max-parents=0 HEAD | tail -1)"
fi
# A new branch's first push has no `before` (all zeros): compare with the root commit.
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then base="$(git rev-list --max-parents=0 HEAD | tail -1)"; fi
if git diff --unified=0 "$base" HEAD -- "config/$env.ts" | grep -Eq '^[+-][^+-].*\bversion:'; then
  echo "config/$env.ts changed a version since $base: releasing $env"
  exec npm run release -- start --env "$env"
fi
echo "no version changed in config/$env.ts since $base: deployed, nothing to release"
