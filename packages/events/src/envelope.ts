/**
 * The envelope every domain event travels in. `version` is the event's 1-based position in its
 * stream (assigned by the event store); `schemaVersion` is the payload's contract (upcast on read).
 */
import { decodeTime, encodeTime, monotonicFactory } from 'ulid';
import { z } from 'zod';

/** Crockford base32, 26 characters; the first carries only the time's top 3 bits, so it is 0-7 (8+ would overflow 48 bits). */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

export const envelopeSchema = z.object({
  id: z.string().regex(ULID_PATTERN, 'must be a ULID'),
  type: z.string().regex(EVENT_TYPE_PATTERN, 'must be <subject>.<past_tense> in snake_case'),
  schemaVersion: z.number().int().min(1),
  stream: z.string().min(1),
  version: z.number().int().min(1),
  occurredAt: z.iso.datetime(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1),
  data: z.unknown(),
});

export interface EventEnvelope<TType extends string = string, TData = unknown> {
  id: string;
  type: TType;
  schemaVersion: number;
  stream: string;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string;
  data: TData;
}

/** What a writer hands the event store, which assigns `stream` and `version`. */
export type PendingEvent<TType extends string = string, TData = unknown> = Omit<EventEnvelope<TType, TData>, 'stream' | 'version'>;

// One factory per process: ids made in the same millisecond still sort in creation order.
const nextUlid = monotonicFactory();

export function createEventId(now: number = Date.now()): string {
  return nextUlid(now);
}

/** When an event (or build) id was made: the epoch milliseconds its ULID carries. */
export const timeOfId = (id: string): number => decodeTime(id);

/** The last instant a ULID can carry (48 bits of milliseconds, in the year 10889). */
const MAX_ID_TIME = 2 ** 48 - 1;

/**
 * The smallest ('first') or largest ('last') id an event made at `ms` can have: bounds for
 * id-range reads. An instant before 1970 or past the ULID range is clamped to the range's end:
 * no id lies beyond it (the fuzz run's ?since=1205-07-20 answered 500 when encodeTime threw).
 */
export const idBoundAt = (ms: number, side: 'first' | 'last'): string =>
  `${encodeTime(Math.min(MAX_ID_TIME, Math.max(0, Math.trunc(ms))), 10)}${(side === 'first' ? '0' : 'Z').repeat(16)}`;

const BUILD_STREAM_PREFIX = 'build-';

export const buildStream = (buildId: string): string => `${BUILD_STREAM_PREFIX}${buildId}`;

/** The build id of a build stream, or undefined for a stream of another aggregate. */
export function buildIdOfStream(stream: string): string | undefined {
  if (!stream.startsWith(BUILD_STREAM_PREFIX)) return undefined;
  const id = stream.slice(BUILD_STREAM_PREFIX.length);
  return ULID_PATTERN.test(id) ? id : undefined;
}
