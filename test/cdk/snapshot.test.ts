import { maskedTemplate, synthEnvironment } from './support';

// A refactoring guard only: behaviour is asserted in foundation.test.ts and the other fine-grained tests.
// Update with `npx jest -u test/cdk/snapshot.test.ts` after an intended change, and review the diff.
describe.each(['dev', 'staging', 'production'] as const)('%s snapshot', (name) => {
  test('matches the stored templates (asset hashes masked)', () => {
    const { stateful, stateless } = synthEnvironment(name);
    expect({ stateful: maskedTemplate(stateful), stateless: maskedTemplate(stateless) }).toMatchSnapshot();
  });
});
