#!/usr/bin/env bash
# Creates ./.venv with the pinned Python test tools (moto server, cfn-lint) once;
# re-runs pip only when requirements-dev.txt changed. Prints the venv's bin dir; progress goes to stderr.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$root/requirements-dev.txt" | cut -d' ' -f1)"
current() { [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }
if ! current; then
  # One installer at a time (Jest's global setup, scripts/cfn-lint.sh and CI may start together).
  exec 9>"$root/.venv.lock"
  flock 9
  if ! current; then
    start=$SECONDS
    echo "Installing the Python test tools (moto server, cfn-lint: requirements-dev.txt) into .venv;" \
      "first run only, a few minutes..." >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt" >&2
    echo "$want" > "$stamp"
    echo "Python test tools installed in $((SECONDS - start)) s" >&2
  fi
fi
echo "$venv/bin"
