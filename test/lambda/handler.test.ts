import './helpers'; // silences the logger and the SDK's Node version notice before the handler creates its clients
import { validateCommand } from '../../lambda/switch/handler';

describe('GIVEN the switch handler command validation', () => {
  test.each([
    [{ command: 'status' }, { command: 'status' }],
    [
      { command: 'shift', to: 'green', percent: 10, owner: 'o', actor: 'a', reason: 'r' },
      { command: 'shift', to: 'green', percent: 10, owner: 'o', actor: 'a', reason: 'r' },
    ],
    [
      { command: 'shift', to: 'blue', percent: 0, owner: 'o', service: 'backend' },
      { command: 'shift', to: 'blue', percent: 0, owner: 'o', actor: 'switch-lambda', service: 'backend' },
    ],
    [{ command: 'scale', color: 'green', desiredCount: 2 }, { command: 'scale', color: 'green', desiredCount: 2, actor: 'switch-lambda' }],
    [{ command: 'scale', color: 'green', restore: true }, { command: 'scale', color: 'green', restore: true, actor: 'switch-lambda' }],
    [{ command: 'rollback', actor: 'alarm' }, { command: 'rollback', actor: 'alarm' }],
    [{ command: 'rollback', to: 'blue' }, { command: 'rollback', to: 'blue', actor: 'switch-lambda' }],
    [{ command: 'lock', owner: 'o', ttlSeconds: 60 }, { command: 'lock', owner: 'o', ttlSeconds: 60 }],
    [{ command: 'unlock', owner: 'o' }, { command: 'unlock', owner: 'o' }],
  ])('WHEN the event is %j THEN it is accepted', (event, expected) => {
    expect(validateCommand(event)).toEqual(expected);
  });

  test.each([
    [null, 'event must be a JSON object, got null'],
    [[], 'event must be a JSON object, got []'],
    [{}, 'command must be one of status, shift, scale, rollback, lock, unlock, got undefined'],
    [{ command: 'deploy' }, 'command must be one of status, shift, scale, rollback, lock, unlock, got "deploy"'],
    [{ command: 'status', extra: 1 }, 'extra must be absent (not a field of the status command), got 1'],
    [{ command: 'shift', to: 'green', owner: 'o' }, 'percent must be given for the shift command, got undefined'],
    [{ command: 'shift', to: 'red', percent: 10, owner: 'o' }, 'to must be one of blue, green, got "red"'],
    [{ command: 'shift', to: 'green', percent: 101, owner: 'o' }, 'percent must be an integer 0–100, got 101'],
    [{ command: 'shift', to: 'green', percent: 10.5, owner: 'o' }, 'percent must be an integer 0–100, got 10.5'],
    [{ command: 'shift', to: 'green', percent: '10', owner: 'o' }, 'percent must be an integer 0–100, got "10"'],
    [{ command: 'shift', to: 'green', percent: 10, owner: '' }, 'owner must be a non-empty string (at most 512 characters), got ""'],
    [{ command: 'shift', to: 'green', percent: 10, owner: 'o', actor: 5 }, 'actor must be a non-empty string (at most 512 characters), got 5'],
    [{ command: 'shift', to: 'green', percent: 10, owner: 'o', service: 'Front End' }, 'service must be a service name (/^[a-z][a-z0-9-]{0,29}$/), got "Front End"'],
    [{ command: 'scale', color: 'green' }, 'desiredCount must be given (or restore: true), got undefined'],
    [{ command: 'scale', color: 'purple', desiredCount: 1 }, 'color must be one of blue, green, got "purple"'],
    [{ command: 'scale', color: 'green', desiredCount: -1 }, 'desiredCount must be an integer 0–1000, got -1'],
    [{ command: 'scale', color: 'green', restore: false }, 'restore must be true, got false'],
    [{ command: 'scale', color: 'green', restore: true, desiredCount: 1 }, 'desiredCount must be absent when restore is true, got 1'],
    [{ command: 'rollback', to: 'x' }, 'to must be one of blue, green, got "x"'],
    [{ command: 'lock', owner: 'o', ttlSeconds: 0 }, 'ttlSeconds must be an integer 1–86400, got 0'],
    [{ command: 'unlock' }, 'owner must be given for the unlock command, got undefined'],
  ])('fails WHEN the event is %j THEN the error names the field and value', (event, message) => {
    expect(() => validateCommand(event)).toThrow(`invalid switch command: ${message}`);
  });
});
