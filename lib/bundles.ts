import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BuildOptions, Metafile } from 'esbuild';

const ROOT = path.join(__dirname, '..');

/** Every Lambda handler of the project, relative to the repository root; each exports `handler`. */
export const HANDLER_ENTRIES = [
  'lambda/switch/handler.ts',
  'lambda/rollback/handler.ts',
  'lambda/crash/handler.ts',
  'lambda/release/handler.ts',
  'lambda/release/backup-handler.ts',
  'lambda/release/preflight-checks-handler.ts',
  'lambda/release/judge-handler.ts',
  'lambda/custom-resources/handler.ts',
  'lambda/database/handler.ts',
] as const;
export type HandlerEntry = (typeof HANDLER_ENTRIES)[number];

/**
 * How every handler is bundled, by the local esbuild (never Docker): minified, tree-shaken ESM for
 * the Lambda runtime's Node.js version.
 */
export const HANDLER_ESBUILD_OPTIONS: BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  minify: true,
  sourcemap: false,
  target: 'node24',
  format: 'esm',
  platform: 'node',
  mainFields: ['module', 'main'],
  // Bundle the pinned, tested SDK rather than the runtime's, except the event-stream serde (~15 KB),
  // which the SDK loads with a dynamic import() only for operations with event-stream members; none
  // of the APIs these handlers call has one.
  // pg-native: pg's optional libpq binding, loaded only when asked for (`pg.native`); the pure-JS client is used.
  external: ['@smithy/core/event-streams', 'pg-native'],
  // In Lambda, credentials come from the environment only, so the default chain (SSO, INI, IMDS, …
  // ~90 KB) is swapped for the environment provider.
  // mnemonist/lru-cache (with obliterator, ~7 KB) serves only DynamoDB endpoint discovery, which is off; a Map-based
  // LRU with the same interface replaces it (lambda/shared/lru-cache.ts).
  alias: { '@aws-sdk/credential-provider-node': './lambda/shared/lambda-credentials.ts', 'mnemonist/lru-cache': './lambda/shared/lru-cache.ts' },
  legalComments: 'none',
  // Some SDK dependencies call require(); ESM output needs it defined.
  banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  outExtension: { '.js': '.mjs' },
  logLevel: 'error',
};

/** Folder name of an entry's bundle: `lambda/release/backup-handler.ts` → `release-backup-handler`. */
export function bundleName(entry: HandlerEntry): string {
  return entry.replace(/^lambda\//, '').replace(/\.ts$/, '').replace(/\//g, '-');
}

export interface HandlerBundles {
  /** Folder holding `<bundleName>/index.mjs` for every entry. */
  readonly dir: string;
  readonly metafile: Metafile;
}

/**
 * Bundles every handler in ONE esbuild run (in a child process, lib/esbuild-worker.mjs, for its plugin) into `<dir>/<bundleName>/index.mjs`: the SDK is parsed
 * once for all of them (about 1 s instead of about 3 s for five separate runs). Each output is
 * self-contained (no code splitting), as a Lambda asset must be.
 */
export function bundleHandlers(dir: string = mkdtempSync(path.join(tmpdir(), 'handler-bundles-'))): HandlerBundles {
  const options: BuildOptions = {
    ...HANDLER_ESBUILD_OPTIONS,
    entryPoints: Object.fromEntries(HANDLER_ENTRIES.map((e) => [`${bundleName(e)}/index`, path.join(ROOT, e)])),
    outdir: dir,
    write: true,
    metafile: true,
  };
  // In a child process because the build needs a plugin (lib/esbuild-worker.mjs) and esbuild's buildSync takes none;
  // synth must stay synchronous. Errors reach stderr and fail the call.
  const metafile = JSON.parse(
    execFileSync(process.execPath, [path.join(ROOT, 'lib', 'esbuild-worker.mjs')], {
      cwd: ROOT,
      input: JSON.stringify(options),
      stdio: ['pipe', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString(),
  ) as Metafile;
  return { dir, metafile };
}

let cached: HandlerBundles | undefined;

/** This process's bundles, built on first use; synth copies them into cdk.out, so the folder goes at exit. */
export function handlerBundleDir(entry: HandlerEntry): string {
  if (!cached) {
    const built = (cached = bundleHandlers());
    process.once('exit', () => rmSync(built.dir, { recursive: true, force: true }));
  }
  return path.join(cached.dir, bundleName(entry));
}
