/**
 * Errors say what and why. Each has a stable name, the context needed to act on it (ids, keys),
 * an optional cause, and a class: retryable (try again later: throttling, a lost race) or not
 * (bad input, a broken invariant). Consumers decide retry vs dead-letter from `retryable` alone.
 */
export abstract class FlotillaError extends Error {
  abstract readonly retryable: boolean;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}

/** Another writer appended to the stream first. Re-read, re-decide, append again. */
export class ConcurrencyError extends FlotillaError {
  readonly retryable = true;
  readonly stream: string;
  readonly expectedVersion: number;
  readonly actualVersion: number | undefined;

  constructor(stream: string, expectedVersion: number, actualVersion: number | undefined, options?: { cause?: unknown }) {
    super(
      `stream ${stream} is not at expected version ${expectedVersion}` +
        (actualVersion === undefined ? '' : ` (it is at ${actualVersion})`),
      { stream, expectedVersion, actualVersion },
      options,
    );
    this.stream = stream;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** A stored item does not match what the code expects: retrying cannot help. */
export class CorruptRecordError extends FlotillaError {
  readonly retryable = false;
}

/** The configuration (environment) is invalid; raised once, at start. */
export class ConfigError extends FlotillaError {
  readonly retryable = false;
}

/** A call to AWS failed in a way that may pass on a later attempt (throttling, 5xx, network). */
export class TransientAwsError extends FlotillaError {
  readonly retryable = true;
}

/** Gave up retrying before the deadline passed. */
export class DeadlineExceededError extends FlotillaError {
  readonly retryable = false;
}

export function isRetryable(error: unknown): boolean {
  // Duck-typed so errors of packages that cannot depend on this one (packages/events) classify too.
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}
