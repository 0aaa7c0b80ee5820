/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // @swc/jest strips types only; `npm run typecheck` (tsc --noEmit) is the type gate.
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  // Installs the Python test tools (moto server) once, with progress on stderr.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Passing tests print no structured logs (POWERTOOLS_LOG_LEVEL=DEBUG shows them).
  setupFiles: ['<rootDir>/test/support/quiet-logs.ts'],
  snapshotSerializers: [],
  testTimeout: 60000,
  // Jest's default on 2 cores is one worker; template tests are CPU-bound and emulator tests wait on I/O.
  maxWorkers: 2,
};
