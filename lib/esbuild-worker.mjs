/**
 * Runs one esbuild build with a plugin, for lib/bundles.ts: esbuild's synchronous API (which synth needs) takes no
 * plugins, so lib/bundles.ts runs this file in a child process and waits for it. Options arrive as JSON on stdin; the
 * metafile leaves as JSON on stdout.
 *
 * The plugin: every AWS SDK client imports its whole package.json (about 2 KB each: description, scripts, file lists)
 * only to read `version` for the User-Agent header. A bundle with seven clients carried 14 KB of it. The plugin hands
 * esbuild `{ "version": … }` instead, so the header is unchanged and the rest stays out.
 */
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const SDK_CLIENT_PACKAGE_JSON = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]package\.json$/;

const slimSdkPackageJson = {
  name: 'slim-sdk-package-json',
  setup(b) {
    b.onLoad({ filter: SDK_CLIENT_PACKAGE_JSON }, (args) => {
      const { version } = JSON.parse(readFileSync(args.path, 'utf8'));
      return { contents: JSON.stringify({ version }), loader: 'json' };
    });
  },
};

const options = JSON.parse(readFileSync(0, 'utf8'));
const result = await build({ ...options, plugins: [slimSdkPackageJson] });
process.stdout.write(JSON.stringify(result.metafile));
