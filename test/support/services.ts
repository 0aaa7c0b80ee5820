/**
 * The plan's two services, as the emulator fixtures build them by default (test/support/fixture.ts, test/release/stack.ts).
 * Production code never names a service: it reads them from the topology (`serviceNamesOf`).
 */
export const SERVICES = ['frontend', 'backend'] as const;
