/** The CLIs' environment list is config/index.ts's: a new config/<env>.ts listed there needs no CLI change. */
import { parseArgs, UsageError } from '../../cli/args';
import { parseReleaseArgs } from '../../cli/release';
import { ENVIRONMENTS } from '../../config';

const configured = Object.keys(ENVIRONMENTS).join(', ');

test('fails WHEN the environment is unknown THEN both CLIs list the configured ones', () => {
  expect(() => parseArgs(['status', '--env', 'qa'])).toThrow(new UsageError(`unknown environment 'qa' (one of ${configured})`));
  expect(() => parseReleaseArgs(['--env', 'qa'])).toThrow(new UsageError(`unknown environment 'qa' (one of ${configured})`));
});

test('WHEN config/index.ts lists a new environment THEN both CLIs accept it and their usage names it, with no CLI change', () => {
  jest.isolateModules(() => {
    jest.doMock('../../config', () => {
      const actual = jest.requireActual('../../config');
      return { ...actual, ENVIRONMENTS: { ...actual.ENVIRONMENTS, qa: { ...actual.ENVIRONMENTS.dev, name: 'qa', account: '444444444444' } } };
    });
    const args: typeof import('../../cli/args') = require('../../cli/args');
    const releaseCli: typeof import('../../cli/release') = require('../../cli/release');
    expect(args.parseArgs(['status', '--env', 'qa'])).toEqual({ command: 'status', env: 'qa' });
    expect(releaseCli.parseReleaseArgs(['--env', 'qa'])).toMatchObject({ command: 'start', env: 'qa' });
    expect(args.USAGE).toContain('--env <dev|staging|production|qa>');
    expect(releaseCli.USAGE).toContain('--env <dev|staging|production|qa>');
    const account: typeof import('../../cli/account') = require('../../cli/account');
    expect(account.awsTarget('qa', {})).toEqual({ env: 'qa', account: '444444444444', region: ENVIRONMENTS.dev.region });
  });
  jest.dontMock('../../config');
});
