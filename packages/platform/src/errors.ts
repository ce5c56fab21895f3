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

/** The local emulator image is not on the Docker engine (tests never pull it: it is built here). */
export class EmulatorImageMissingError extends FlotillaError {
  readonly retryable = false;

  constructor(image: string) {
    super(`image ${image} is not on the Docker engine; build it with \`bash scripts/images.sh ministack\``, { image });
  }
}

const TRANSIENT_AWS_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
  'LimitExceededException',
  // Timeouts: the SDK's HTTP layer names its connection, socket and request timeouts TimeoutError
  // (the first two with no code); services answer RequestTimeout(Exception) themselves.
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Node's codes for a connection that failed, dropped or could not be resolved: all worth another try. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * Whether trying again may succeed: our errors say so themselves (duck-typed, so errors of
 * packages that cannot depend on this one, such as packages/events, classify too); AWS SDK errors
 * are retryable when the SDK marks them so, on 5xx/429, on throttling, and on network failures.
 */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { retryable?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; name?: string; code?: string; message?: unknown };
  if (typeof e.retryable === 'boolean') return e.retryable;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    Boolean(e.$retryable) ||
    status >= 500 ||
    status === 429 ||
    TRANSIENT_AWS_NAMES.has(e.name ?? '') ||
    TRANSIENT_NETWORK_CODES.has(e.code ?? '') ||
    // Node's "socket hang up" (the peer closed before answering) does not always carry its code.
    (typeof e.message === 'string' && e.message === 'socket hang up')
  );
}

/**
 * How long a message should be put off, for an error that says "not now, and not a failure"
 * (another attempt holds the work: IdempotencyInProgressError's `deferMs`). A consumer re-sends
 * such a message with a delay instead of counting the receive toward giving up.
 */
export function deferralMs(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { deferMs?: unknown; retryable?: unknown };
  return e.retryable === true && typeof e.deferMs === 'number' && Number.isFinite(e.deferMs) ? Math.max(0, e.deferMs) : undefined;
}

/**
 * An intake key that already made a build was sent again with a different request. Answering
 * with the first build would hide the change; making a second build would break the key's promise.
 * Not retryable: the same message can never succeed (HTTP answers 422, the SNS door dead-letters).
 */
export class IdempotencyKeyReusedError extends FlotillaError {
  readonly retryable = false;

  constructor(door: string, key: string, buildId: string) {
    super(`${door} key ${key} was already used for build ${buildId} with a different request`, { door, key, buildId });
  }
}

/**
 * An event that is valid but cannot be acted on (the decider refused it: a region without a sync
 * queue, a broken invariant). Retrying cannot help: the event itself is the cause.
 */
export class UnactionableEventError extends FlotillaError {
  readonly retryable = false;
}

/**
 * An effect of a valid event (a publish, an AWS call) failed. The event is not at fault, so it is
 * never turned into a failed build: the reader holds the record and tries again (review M2).
 */
export class EffectFailedError extends FlotillaError {
  readonly retryable = true;
}

/**
 * The log holds an event newer than this reader knows (an unknown type or a newer schemaVersion:
 * a writer was deployed before this reader). It holds, rather than fails a build: deploying the
 * newer reader releases it (review M3).
 */
export class ReaderTooOldError extends FlotillaError {
  readonly retryable = true;
}

/**
 * A stream reader's checkpoint moved while it handled a batch: another reader of the same name (a
 * rolling deploy's overlap) committed first. This batch's writes were not committed (review M1).
 */
export class CheckpointMovedError extends FlotillaError {
  readonly retryable = false;
  readonly stored: { sequenceNumber?: string | undefined; finished: boolean } | undefined;

  constructor(reader: string, shardId: string, expected: string | undefined, stored: { sequenceNumber?: string | undefined; finished: boolean } | undefined, options?: { cause?: unknown }) {
    super(`checkpoint of ${reader} on ${shardId} is no longer ${expected ?? '(none)'}: another reader committed first`, { reader, shardId, expected, stored }, options);
    this.stored = stored;
  }
}

/**
 * One stream record made a handler return more writes than a checkpoint transaction can hold
 * with its checkpoint (99): no split of the batch can commit it, so retrying cannot help.
 */
export class StreamBatchTooLargeError extends FlotillaError {
  readonly retryable = false;
}
