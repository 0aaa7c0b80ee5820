/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // @swc/jest strips types only; `npm run typecheck` (tsc --noEmit) is the type gate.
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  snapshotSerializers: [],
  testTimeout: 60000,
  // Jest's default on 2 cores is one worker; template tests are CPU-bound and emulator tests wait on I/O.
  maxWorkers: 2,
};
