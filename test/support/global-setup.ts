/**
 * Jest's global setup: installs the Python test tools (scripts/venv.sh) once, before any worker starts, so the
 * first `npm test` says what it is doing and how long it took (on stderr) instead of pausing silently in the first
 * emulator test, and two workers never install at once. Later runs cost one checksum.
 */
import { ensureVenv } from './venv';

export default function globalSetup(): void {
  ensureVenv();
}
