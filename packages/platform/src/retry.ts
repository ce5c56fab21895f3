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
