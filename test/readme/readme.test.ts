/**
 * The README against the code, so it cannot drift: every command it shows exists and every command that exists is
 * shown (package.json scripts, both CLIs' commands), every CLI example parses as written, every option of each CLI's
 * usage is mentioned, every config field it names exists in config/types.ts, and it links nothing outside the
 * repository. Pure and fast: the README is read as text, config/types.ts through the TypeScript checker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { COMMANDS as TRAFFIC_COMMANDS, parseArgs, USAGE as TRAFFIC_USAGE, UsageError } from '../../cli/args';
import { COMMANDS as RELEASE_COMMANDS, parseReleaseArgs, USAGE as RELEASE_USAGE } from '../../cli/release';
import { parseDbArgs, USAGE as DB_USAGE } from '../../cli/db';
import { PROCEDURES } from '../../cli/db-plan';
import { ENVIRONMENTS } from '../../config';

const ROOT = path.resolve(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>);

/** Every `npm run <cli> -- …` invocation in the README (code blocks and inline code), comments and quotes handled. */
function invocations(cli: string): { text: string; argv: string[] }[] {
  const found: { text: string; argv: string[] }[] = [];
  const pattern = new RegExp(`npm run ${cli} -- ([^\`\\n]*)`, 'g');
  for (const m of README.matchAll(pattern)) {
    // A shell comment ends the command; optional parts (`[--force]`) and alternatives are usage, not an example.
    const text = m[1].replace(/\s+#.*$/, '').replace(/\s+\|.*$/, '').replace(/\[[^\]]*\]/g, '').trim();
    const argv = [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((t) => t[1] ?? t[2] ?? t[3]);
    found.push({ text: m[0], argv: argv.map(placeholder) });
  }
  return found;
}

/** The README's placeholders, as a reader fills them in. */
function placeholder(word: string): string {
  if (word === '<env>') return Object.keys(ENVIRONMENTS)[0];
  if (word === '<stable>' || word === '<color>') return 'blue';
  if (/^<[^>]+>$/.test(word)) return 'x';
  return word;
}

/** Parses like the CLI; `--help` is fine (the parser signals it by throwing the usage text). */
function parses(parse: (argv: string[]) => unknown, usage: string, argv: string[]): true | string {
  try {
    parse(argv);
    return true;
  } catch (e) {
    if (e instanceof UsageError && e.message === usage) return true;
    return (e as Error).message;
  }
}

describe('README commands', () => {
  test('every npm script is shown as `npm run <script>` (or `npm test`), and every one shown exists', () => {
    const shown = new Set([...README.matchAll(/npm run ([a-z][a-z0-9:-]*)/g)].map((m) => m[1]));
    if (/\bnpm test\b/.test(README)) shown.add('test');
    expect({ missing: scripts.filter((s) => !shown.has(s)) }).toEqual({ missing: [] });
    expect({ unknown: [...shown].filter((s) => !scripts.includes(s)) }).toEqual({ unknown: [] });
  });

  test.each([
    ['traffic', parseArgs as (argv: string[]) => unknown, TRAFFIC_USAGE, TRAFFIC_COMMANDS as readonly string[]],
    ['release', parseReleaseArgs as (argv: string[]) => unknown, RELEASE_USAGE, RELEASE_COMMANDS as readonly string[]],
    ['db', parseDbArgs as (argv: string[]) => unknown, DB_USAGE, [...PROCEDURES, 'restore'] as readonly string[]],
  ])('every `npm run %s -- …` example parses as written, and every command is shown', (cli, parse, usage, commands) => {
    const examples = invocations(cli);
    expect(examples.length).toBeGreaterThan(0);
    const failures = examples.map((e) => ({ example: e.text, result: parses(parse, usage, e.argv) })).filter((r) => r.result !== true);
    expect(failures).toEqual([]);
    // The command an example runs: its first word, or the CLI's default when it starts with an option.
    const shown = new Set(examples.map((e) => e.argv.find((w) => !w.startsWith('--') && commands.includes(w)) ?? (e.argv[0]?.startsWith('--') ? commands[0] : e.argv[0])));
    expect({ notShown: commands.filter((c) => !shown.has(c)) }).toEqual({ notShown: [] });
  });

  test.each([
    ['traffic', TRAFFIC_USAGE],
    ['release', RELEASE_USAGE],
  ])('every option of the %s CLI usage is mentioned', (_cli, usage) => {
    const options = [...new Set([...usage.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]))];
    expect(options.length).toBeGreaterThan(0);
    expect({ notMentioned: options.filter((o) => !README.includes(o)) }).toEqual({ notMentioned: [] });
  });

  test('fails on an example that does not parse', () => {
    // The check itself: a wrong flag or command is reported with the parser's message.
    expect(parses(parseArgs as (argv: string[]) => unknown, TRAFFIC_USAGE, ['shift', '--to', 'green', '--env', 'staging'])).toMatch(/--percent is required/);
    expect(parses(parseReleaseArgs as (argv: string[]) => unknown, RELEASE_USAGE, ['deploy', '--env', 'staging'])).toMatch(/unknown command 'deploy'/);
  });
});

describe('README config field names', () => {
  const program = ts.createProgram([path.join(ROOT, 'config', 'types.ts')], { strict: true, noEmit: true, skipLibCheck: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(path.join(ROOT, 'config', 'types.ts'))!;
  const root = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'EnvironmentConfig')!;
  const rootType = checker.getTypeAtLocation(root);
  const topLevel = new Set(checker.getPropertiesOfType(rootType).map((p) => p.name));

  /** The type a field path leads to (`*`: any key of a record or element of a list), or undefined if it does not exist. */
  function resolve(fieldPath: string): ts.Type | undefined {
    let types: ts.Type[] = [rootType];
    for (const segment of fieldPath.split('.')) {
      const next: ts.Type[] = [];
      for (const t of types) {
        const nonNull = checker.getNonNullableType(t);
        for (const part of nonNull.isUnion() ? nonNull.types : [nonNull]) {
          if (segment === '*') {
            // A record keyed by string or a list: its element; a record keyed by a union (`Record<Color, …>`): each value.
            const element = checker.getIndexTypeOfType(part, ts.IndexKind.String) ?? checker.getIndexTypeOfType(part, ts.IndexKind.Number);
            if (element) next.push(element);
            else next.push(...checker.getPropertiesOfType(part).map((p) => checker.getTypeOfSymbolAtLocation(p, root)));
          } else {
            const prop = checker.getPropertyOfType(part, segment);
            if (prop) next.push(checker.getTypeOfSymbolAtLocation(prop, root));
          }
        }
      }
      if (next.length === 0) return undefined;
      types = next;
    }
    return types[0];
  }

  /** Backticked names in the README that start with a config field (`tier`, `services.*.host`, `cli.profile`…). */
  function fieldNames(): string[] {
    const names = new Set<string>();
    for (const m of README.matchAll(/`([a-z][A-Za-z0-9]*(?:\.(?:\*|[a-z][A-Za-z0-9]*))*)`/g)) if (topLevel.has(m[1].split('.')[0])) names.add(m[1]);
    // The first column of a "| field |" table names fields only: there, any name must be one.
    let inFieldTable = false;
    for (const line of README.split('\n')) {
      if (/^\| field \|/.test(line)) inFieldTable = true;
      else if (!line.startsWith('|')) inFieldTable = false;
      else if (inFieldTable && !line.startsWith('| ---')) {
        // File names beside a field (`config/shared.ts`) are not fields.
        for (const m of line.split('|')[1].matchAll(/`([^`]+)`/g)) if (!/[/]|\.ts$/.test(m[1])) names.add(m[1]);
      }
    }
    return [...names].sort();
  }

  test('every config field the README names exists in config/types.ts', () => {
    const names = fieldNames();
    // The first-deploy table and the tiers table name at least these; an empty scan would prove nothing.
    expect(names).toEqual(expect.arrayContaining(['account', 'services.*.colors.*.version', 'testListener.allowedCidr', 'release.backupBeforeRelease']));
    expect({ unknown: names.filter((n) => resolve(n) === undefined) }).toEqual({ unknown: [] });
  });

  test('fails on a field that does not exist', () => {
    expect(resolve('services.*.colors.*.version')).toBeDefined();
    expect(resolve('services.*.colours.*.version')).toBeUndefined();
    expect(resolve('monitoring.alarmEmails')).toBeUndefined();
  });
});

describe('README stands on its own', () => {
  test('no link or path points outside the repository, and every relative link exists', () => {
    expect({ outside: [...README.matchAll(/[^\s(`]*\.\.\/[^\s)`]*/g)].map((m) => m[0]) }).toEqual({ outside: [] });
    const relative = [...README.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect({ missing: relative.filter((l) => !fs.existsSync(path.join(ROOT, l))) }).toEqual({ missing: [] });
  });
});
