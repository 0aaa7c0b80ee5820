/** The Python test tools (moto server, cfn-lint) in ./.venv. No side effects on import: Jest's global setup uses it. */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * Runs scripts/venv.sh (creates or reuses ./.venv) and returns the venv's bin dir. The script's progress
 * ("Installing the Python test tools…", "…installed in N s") goes to stderr.
 */
export function ensureVenv(): string {
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'venv.sh')], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = out.trim().split('\n');
  return lines[lines.length - 1].trim();
}
