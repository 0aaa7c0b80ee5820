/**
 * Every CLI's --help: each command it dispatches is listed with a one-line summary and an example that names it
 * (cli/args.ts formatHelp). The commands dispatched are read from the CLI's source (`case '<command>':`), so a new
 * command without a help line fails here.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMMANDS as TRAFFIC_COMMANDS, parseArgs, TRAFFIC_HELP, USAGE as TRAFFIC_USAGE, UsageError } from '../../cli/args';
import { COMMANDS as RELEASE_COMMANDS, main as releaseMain, RELEASE_HELP, USAGE as RELEASE_USAGE } from '../../cli/release';
import { main as trafficMain } from '../../cli/traffic';

const ROOT = path.resolve(__dirname, '..', '..');
const dispatched = (file: string) => [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/case '([a-z-]+)':/g)].map((m) => m[1]);

describe.each([
  { cli: 'traffic', file: 'cli/traffic.ts', commands: TRAFFIC_COMMANDS, help: TRAFFIC_HELP, usage: TRAFFIC_USAGE, extra: ['healthcheck'] },
  { cli: 'release', file: 'cli/release.ts', commands: RELEASE_COMMANDS, help: RELEASE_HELP, usage: RELEASE_USAGE, extra: ['start'] },
])('npm run $cli -- --help', ({ cli, file, commands, help, usage, extra }) => {
  test('lists every command the CLI dispatches and accepts, once', () => {
    const listed = help.map((h) => h.command);
    expect(new Set(listed).size).toBe(listed.length);
    for (const c of new Set([...dispatched(file), ...commands, ...extra])) {
      expect(listed).toContain(c);
      expect(usage).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
  });

  test('gives each command one line and an example of this CLI that names it', () => {
    for (const h of help) {
      expect(h.summary).not.toContain('\n');
      expect(h.example).toMatch(new RegExp(`^npm run ${cli} -- (${h.command} )?.*--env [a-z]+`));
      if (h.command !== 'start') expect(h.example).toContain(` ${h.command} `);
      expect(usage).toContain(`      e.g. ${h.example}`);
    }
  });
});

test('every example parses as written', () => {
  const argv = (example: string, cli: string) => (example.replace(`npm run ${cli} -- `, '').match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"|"$/g, ''));
  for (const h of TRAFFIC_HELP) expect(() => parseArgs(argv(h.example, 'traffic'))).not.toThrow();
  for (const h of RELEASE_HELP) expect(() => require('../../cli/release').parseReleaseArgs(argv(h.example, 'release'))).not.toThrow();
  expect(() => parseArgs(['--help'])).toThrow(UsageError);
});

test('--help prints the help on stdout and exits 0', async () => {
  for (const [run, usage] of [
    [trafficMain, TRAFFIC_USAGE],
    [releaseMain, RELEASE_USAGE],
  ] as const) {
    const out: string[] = [];
    expect(await run(['--help'], { stdout: (l) => out.push(l), stderr: () => undefined })).toBe(0);
    expect(out).toEqual([usage]);
  }
});
