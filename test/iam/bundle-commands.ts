/**
 * The SDK commands each handler's bundle can send: read from the real esbuild bundles (lib/bundles.ts), where every
 * bundled command class is built by the SDK's factory with its operation name as a string literal
 * (`class extends X(…,"UpdateService",…)`), which minification keeps. Tree shaking drops unused commands, so this is
 * what the deployed code can call, per handler.
 */
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { bundleHandlers, bundleName, type HandlerEntry } from '../../lib/bundles';

export type HandlerName = 'switch' | 'rollback' | 'crash' | 'release' | 'backup' | 'judge' | 'preflight-checks' | 'custom-resources' | 'database-users';

export const HANDLER_ENTRY: Readonly<Record<HandlerName, HandlerEntry>> = {
  switch: 'lambda/switch/handler.ts',
  rollback: 'lambda/rollback/handler.ts',
  crash: 'lambda/crash/handler.ts',
  release: 'lambda/release/handler.ts',
  backup: 'lambda/release/backup-handler.ts',
  judge: 'lambda/release/judge-handler.ts',
  'preflight-checks': 'lambda/release/preflight-checks-handler.ts',
  'custom-resources': 'lambda/custom-resources/handler.ts',
  'database-users': 'lambda/database/handler.ts',
};

/**
 * Commands the SDK bundles for its own use, never sent by these handlers: DynamoDB's DescribeEndpoints serves endpoint
 * discovery, which is off unless `endpointDiscoveryEnabled` is set (it is not, lambda/traffic/client-config.ts).
 */
export const SDK_INTERNAL_COMMANDS: readonly string[] = ['DescribeEndpoints'];

const COMMAND_CLASS = /extends [\w$]+\([\w$]+,[\w$]+,"([A-Z]\w+)",[\w$]+\)/g;

let cache: Record<HandlerName, string[]> | undefined;

function scanAll(): Record<HandlerName, string[]> {
  const built = bundleHandlers();
  try {
    return Object.fromEntries(
      (Object.entries(HANDLER_ENTRY) as [HandlerName, HandlerEntry][]).map(([name, entry]) => {
        const code = readFileSync(path.join(built.dir, bundleName(entry), 'index.mjs'), 'utf8');
        const commands = new Set([...code.matchAll(COMMAND_CLASS)].map((m) => m[1]));
        return [name, [...commands].filter((c) => !SDK_INTERNAL_COMMANDS.includes(c)).sort()];
      }),
    ) as Record<HandlerName, string[]>;
  } finally {
    rmSync(built.dir, { recursive: true, force: true });
  }
}

/** The commands in the handler's bundle, sorted (SDK-internal ones excluded). */
export function bundledCommands(handler: HandlerName): string[] {
  cache ??= scanAll();
  return cache[handler];
}
