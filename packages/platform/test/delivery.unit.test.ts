import { describe, expect, it } from 'vitest';
import { ConcurrencyError, ConfigError, isRetryable } from '../src/errors.ts';
import { backoff } from '../src/retry.ts';

describe('isRetryable decides retry vs dead-letter', () => {
  it('follows our errors own class', () => {
    expect(isRetryable(new ConcurrencyError('build-1', 1, 2))).toBe(true);
    expect(isRetryable(new ConfigError('bad'))).toBe(false);
  });

  it('honours a retryable flag on errors of packages that cannot extend ours', () => {
    expect(isRetryable(Object.assign(new Error('bad field'), { retryable: false }))).toBe(false);
    expect(isRetryable(Object.assign(new Error('busy'), { retryable: true }))).toBe(true);
  });

  it('retries throttling, 5xx and network failures from the AWS SDK, nothing else', () => {
    expect(isRetryable(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('boom'), { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('no'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isRetryable(new TypeError('x is undefined'))).toBe(false);
    expect(isRetryable('a string')).toBe(false);
  });
});

describe('backoff: exponential, jittered, never below the base', () => {
  it('grows the ceiling with each receive up to the cap', () => {
    const ceiling = (n: number) => backoff(n, 1, 60, () => 1);
    expect([1, 2, 3, 4, 7, 8].map(ceiling)).toEqual([1, 2, 4, 8, 60, 60]);
  });

  it('never waits less than the base', () => {
    expect(backoff(5, 2, 60, () => 0)).toBe(2);
  });

  it('spreads retries of the same receive count across the window', () => {
    const delays = new Set(Array.from({ length: 50 }, (_, i) => backoff(6, 1, 60, () => i / 49)));
    expect(delays.size).toBeGreaterThan(20);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(1);
    for (const d of delays) expect(d).toBeLessThanOrEqual(32);
  });
});
