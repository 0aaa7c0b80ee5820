import { isRetryable, withRetry } from '../../lambda/traffic/retry';
import { conditionalCheckFailed, throttled } from './helpers';

describe('GIVEN the retry policy', () => {
  test('WHEN a call is throttled twice THEN it is retried with growing jittered waits and succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        if (++calls < 3) throw throttled();
        return 'ok';
      },
      { sleep: async (ms) => void waits.push(ms), random: () => 1, baseDelayMs: 100 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([100, 200]);
  });

  test('fails WHEN every attempt is throttled THEN the last error is thrown after maxAttempts', async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw throttled();
      },
      { maxAttempts: 4, sleep: async () => undefined },
    ).catch((e) => e);
    expect(err.name).toBe('ThrottlingException');
    expect(calls).toBe(4);
  });

  test('fails WHEN the error is not transient THEN it is thrown at once', async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw Object.assign(new Error('bad'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
      },
      { sleep: async () => undefined },
    ).catch((e) => e);
    expect(err.name).toBe('ValidationError');
    expect(calls).toBe(1);
  });

  test('WHEN jitter is drawn THEN waits stay within the capped exponential bound', async () => {
    const waits: number[] = [];
    await withRetry(
      async () => {
        if (waits.length < 6) throw throttled();
      },
      { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000, sleep: async (ms) => void waits.push(ms), random: () => 0.999 },
    );
    expect(waits.every((w, i) => w <= Math.min(1000, 100 * 2 ** i))).toBe(true);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1000);
  });

  test.each([
    [throttled(), true],
    [{ name: 'ProvisionedThroughputExceededException' }, true],
    [{ name: 'X', $metadata: { httpStatusCode: 503 } }, true],
    [{ name: 'X', $retryable: {} }, true],
    [{ name: 'TimeoutError' }, true],
    [{ code: 'ECONNRESET' }, true],
    [conditionalCheckFailed(), false],
    [{ name: 'ValidationError', $metadata: { httpStatusCode: 400 } }, false],
    ['a string', false],
  ])('WHEN classifying %p THEN retryable is %p', (error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });
});
