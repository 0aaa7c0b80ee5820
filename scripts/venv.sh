#!/usr/bin/env bash
# Creates ./.venv with the pinned Python test tools (moto server, cfn-lint) once;
# re-runs pip only when requirements-dev.txt changed. Prints the venv's bin dir.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$root/requirements-dev.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin"
