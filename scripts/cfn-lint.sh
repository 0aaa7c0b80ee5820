#!/usr/bin/env bash
# Lints every synthesized template with the pinned cfn-lint in ./.venv; run `npm run synth` first.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash scripts/venv.sh)"
shopt -s nullglob
templates=(cdk.out/assembly-*/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then echo "cfn-lint: no templates in cdk.out; run npm run synth first" >&2; exit 1; fi
"$bin/cfn-lint" --format parseable "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates, no findings"
