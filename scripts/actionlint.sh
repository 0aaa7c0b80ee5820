#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows) with actionlint, pinned below and built once into ./.tools
# from the Go module proxy (no GitHub download); later runs reuse the binary while it reports the pinned version.
# Needs Go >= 1.25 (actionlint's go.mod): `go` on PATH, or /usr/local/go/bin/go. Exits non-zero on any finding.
# actionlint runs shellcheck on `run:` scripts when shellcheck is installed (it is not required).
set -euo pipefail
VERSION=1.7.12
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/actionlint"
if ! "$bin" -version 2>/dev/null | head -1 | grep -qx "v$VERSION"; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || { echo "actionlint.sh: Go >= 1.25 is needed to build actionlint v$VERSION (https://go.dev/dl/)" >&2; exit 2; }
  start=$(date +%s)
  echo "installing actionlint v$VERSION into .tools (once)..." >&2
  GOBIN="$root/.tools" GOFLAGS=-mod=mod "$go" install "github.com/rhysd/actionlint/cmd/actionlint@v$VERSION" >&2
  echo "installed actionlint v$VERSION in $(( $(date +%s) - start )) s" >&2
fi
cd "$root"
exec "$bin" -no-color "$@"
