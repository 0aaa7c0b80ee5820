/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // @swc/jest strips types only; `npm run typecheck` (tsc --noEmit) is the type gate.
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  snapshotSerializers: [],
  testTimeout: 60000,
};
