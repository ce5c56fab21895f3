/**
 * Retry with exponential backoff, jitter and a deadline (not a small fixed count), built on
 * p-retry. Only errors classed retryable (see errors.ts) are retried; others fail at once.
 */
import pRetry from 'p-retry';
import { isRetryable } from './errors.ts';

export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt. */
  deadlineMs: number;
  /** First delay; later delays grow by `factor` up to `maxDelayMs`, each scaled by a random 1-2x. */
  minDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  signal?: AbortSignal;
  onRetry?: (error: Error, attempt: number) => void;
}

export function withRetry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  return pRetry(operation, {
    retries: Number.POSITIVE_INFINITY,
    maxRetryTime: policy.deadlineMs,
    minTimeout: policy.minDelayMs ?? 20,
    maxTimeout: policy.maxDelayMs ?? 1_000,
    factor: policy.factor ?? 2,
    randomize: true,
    ...(policy.signal ? { signal: policy.signal } : {}),
    shouldRetry: ({ error }) => isRetryable(error),
    onFailedAttempt: ({ error, attemptNumber }) => policy.onRetry?.(error, attemptNumber),
  });
}

/**
 * Exponential backoff with jitter for loops that pace their own retries (the consumer's visibility
 * delay, the stream reader's pauses; withRetry's are p-retry's): a random delay in
 * [base, min(cap, base * 2^(attempt-1))], in the unit of `base` and `cap`. Never less than the
 * base, so a retry after a throttle is never immediate.
 */
export function backoff(attempt: number, base: number, cap: number, random = Math.random): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(base + random() * Math.max(0, ceiling - base));
}
