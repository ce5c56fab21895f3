/**
 * The append-only event log on DynamoDB.
 *
 * One item per event: partition key `stream`, sort key `version` (1-based position in the stream).
 * An append writes all its events in one TransactWriteItems: each put is conditional on
 * attribute_not_exists (no version is written twice) and, when the stream should already exist, a
 * ConditionCheck asserts that the expected version is there (no gap). A cancelled transaction is
 * classified by its CancellationReasons (review H4): a failed condition (every item is a version
 * item) is a typed ConcurrencyError, unless the stream already holds exactly these event ids after
 * the expected version (the append had already happened: a no-op); a transaction cancelled by a
 * conflicting transaction or by throttling moved nothing and is a retryable TransientAwsError.
 *
 * Global order: every item carries `bucket` (the UTC day of its ULID's timestamp); the
 * GLOBAL_ORDER_INDEX (bucket, id) lets readAll walk the log in id order, several buckets in
 * parallel. The table's stream is the outbox that the orchestrator relays; nothing here publishes.
 */
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { envelopeSchema, type EventEnvelope, type PendingEvent } from '@flotilla/events';
import { decodeTime } from 'ulid';
import { ConcurrencyError, CorruptRecordError, isRetryable, TransientAwsError } from './errors.ts';
import { GLOBAL_ORDER_INDEX } from './resources.ts';
import { withRetry } from './retry.ts';

/** DynamoDB caps a transaction at 100 items; one slot is kept for the expected-version check. */
export const MAX_EVENTS_PER_APPEND = 99;

export interface AppendResult {
  /** Version of the last event appended (the stream's new head). */
  lastVersion: number;
  /** True when these event ids were already in the stream: nothing was written. */
  duplicate: boolean;
}

/**
 * readAll's default Query page: large, since a Query answers at most 1 MB whatever the limit, and
 * each page is a round trip (on the emulator also a scan of the whole table: issue 9 measured
 * today's 10,000 events in 22 pages of 500 at 0.40x castore's read, in 7 pages at 1.18x).
 */
export const READ_ALL_PAGE_SIZE = 2_000;

export interface ReadAllOptions {
  /** First instant to read (inclusive, rounded down to its day bucket). */
  since: Date;
  /** Last instant to read; default now. */
  until?: Date;
  /** Items per Query page (default READ_ALL_PAGE_SIZE). */
  pageSize?: number;
  /** Day buckets read ahead in parallel. */
  concurrency?: number;
  /** Only events whose id sorts after this one (a reader resuming where it stopped). */
  afterId?: string;
  /**
   * Called with each item that is not a valid event, which is then skipped; without it, such an
   * item throws (CorruptRecordError). A reader that must not stop on one bad item parks it here.
   */
  onCorrupt?: (error: CorruptRecordError, item: Record<string, AttributeValue>) => Promise<void>;
}

export interface ReadLatestOptions {
  /** Oldest instant to look back to (inclusive, rounded down to its day bucket). */
  since: Date;
  /** Newest instant to read from; default now. */
  until?: Date;
  pageSize?: number;
}

const DAY_MS = 86_400_000;

/** Cancellation reasons that say nothing about the stream: the same append may pass on a later try. */
const TRANSIENT_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/** The global-order bucket of an event id: the UTC day of the id's timestamp, as YYYY-MM-DD. */
export function bucketOfId(id: string): string {
  return new Date(decodeTime(id)).toISOString().slice(0, 10);
}

/** The instant an event id was made (a ULID's timestamp): where a reader resuming after it starts. */
export const instantOfId = (id: string): Date => new Date(decodeTime(id));

/** Every day bucket from `since` to `until`, inclusive, in order. */
export function bucketsBetween(since: Date, until: Date): string[] {
  const buckets: string[] = [];
  for (let t = Math.floor(since.getTime() / DAY_MS) * DAY_MS; t <= until.getTime(); t += DAY_MS) {
    buckets.push(new Date(t).toISOString().slice(0, 10));
  }
  return buckets;
}

function toItem(stream: string, version: number, event: PendingEvent): Record<string, AttributeValue> {
  return {
    stream: { S: stream },
    version: { N: String(version) },
    bucket: { S: bucketOfId(event.id) },
    id: { S: event.id },
    type: { S: event.type },
    schemaVersion: { N: String(event.schemaVersion) },
    occurredAt: { S: event.occurredAt },
    correlationId: { S: event.correlationId },
    causationId: { S: event.causationId },
    // The payload is stored as JSON text: its shape belongs to the schema, not to the table.
    data: { S: JSON.stringify(event.data) },
  };
}

/** Turns a stored item (from a Query or a stream image) back into an envelope, validated. */
export function eventFromItem(item: Record<string, AttributeValue>): EventEnvelope {
  const where = { stream: item.stream?.S, version: Number(item.version?.N) };
  let data: unknown;
  try {
    data = item.data?.S === undefined ? undefined : (JSON.parse(item.data.S) as unknown);
  } catch (error) {
    throw new CorruptRecordError(`event item ${where.stream}@${where.version} has a payload that is not JSON`, where, { cause: error });
  }
  const raw = {
    id: item.id?.S,
    type: item.type?.S,
    schemaVersion: Number(item.schemaVersion?.N),
    stream: item.stream?.S,
    version: Number(item.version?.N),
    occurredAt: item.occurredAt?.S,
    correlationId: item.correlationId?.S,
    causationId: item.causationId?.S,
    data,
  };
  const parsed = envelopeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CorruptRecordError(`event item ${raw.stream}@${raw.version} is not a valid envelope`, {
      stream: raw.stream,
      version: raw.version,
      issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  }
  return parsed.data;
}

export class EventStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  /** Throws when the table cannot be reached; used by GET /health. */
  async ping(): Promise<void> {
    await this.#db.send(new DescribeTableCommand({ TableName: this.#table }));
  }

  /**
   * Appends `events` after `expectedVersion` (0: the stream must not exist yet), all or nothing.
   * Throws ConcurrencyError when another writer got there first.
   */
  async append(stream: string, events: readonly PendingEvent[], expectedVersion: number): Promise<AppendResult> {
    if (events.length === 0) return { lastVersion: expectedVersion, duplicate: false };
    if (events.length > MAX_EVENTS_PER_APPEND) {
      throw new RangeError(`append of ${events.length} events to ${stream}: at most ${MAX_EVENTS_PER_APPEND} per transaction`);
    }
    const items: TransactWriteItem[] = events.map((event, i) => ({
      Put: {
        TableName: this.#table,
        Item: toItem(stream, expectedVersion + 1 + i, event),
        ConditionExpression: 'attribute_not_exists(#v)',
        ExpressionAttributeNames: { '#v': 'version' },
      },
    }));
    if (expectedVersion > 0) {
      items.unshift({
        ConditionCheck: {
          TableName: this.#table,
          Key: { stream: { S: stream }, version: { N: String(expectedVersion) } },
          ConditionExpression: 'attribute_exists(#v)',
          ExpressionAttributeNames: { '#v': 'version' },
        },
      });
    }
    try {
      await this.#db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return { lastVersion: expectedVersion + events.length, duplicate: false };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return this.#resolveConflict(stream, events, expectedVersion, error);
      if (error instanceof TransactionCanceledException) {
        const reasons = (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
        if (reasons.includes('ConditionalCheckFailed')) return this.#resolveConflict(stream, events, expectedVersion, error);
        if (reasons.some((code) => TRANSIENT_CANCELLATIONS.has(code))) {
          throw new TransientAwsError(`append to ${stream} was cancelled (${reasons.join(', ')}): nothing was written`, { stream, expectedVersion, reasons }, { cause: error });
        }
        // No reasons given (some emulators): the re-read tells a lost race from nothing moved.
        if (reasons.length === 0) return this.#resolveConflict(stream, events, expectedVersion, error);
        throw error;
      }
      if (isRetryable(error)) {
        throw new TransientAwsError(`append to ${stream} failed transiently`, { stream, expectedVersion }, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Appends facts that do not depend on the stream's state at its current head, re-reading the
   * head and retrying with jittered backoff on conflict until `deadlineMs` passes.
   */
  async appendAtHead(stream: string, events: readonly PendingEvent[], deadlineMs = 30_000): Promise<AppendResult> {
    return withRetry(
      async (attempt) => {
        // After a failed attempt the write may have happened anyway (its answer lost): the new head
        // would then be after these very events, so look for their ids first (review L2).
        if (attempt > 1) {
          const already = await this.#alreadyAppended(stream, events);
          if (already) return already;
        }
        return this.append(stream, events, await this.headVersion(stream));
      },
      { deadlineMs },
    );
  }

  /** Where `events` already are in the stream, by id, in order; undefined when they are not. */
  async #alreadyAppended(stream: string, events: readonly PendingEvent[]): Promise<AppendResult | undefined> {
    const first = events[0];
    if (!first) return undefined;
    const stored = await this.readStream(stream);
    const at = stored.findIndex((e) => e.id === first.id);
    if (at < 0) return undefined;
    const same = events.every((e, i) => stored[at + i]?.id === e.id);
    return same ? { lastVersion: stored[at + events.length - 1]?.version ?? at + events.length, duplicate: true } : undefined;
  }

  /** The stream's last version, 0 when it does not exist. Strongly consistent. */
  async headVersion(stream: string): Promise<number> {
    const out = await this.#db.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': 'stream', '#v': 'version' },
        ExpressionAttributeValues: { ':s': { S: stream } },
        ProjectionExpression: '#v',
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const top = out.Items?.[0]?.version?.N;
    return top === undefined ? 0 : Number(top);
  }

  /** The stream's events in version order, from `afterVersion + 1`. Strongly consistent. */
  async readStream(stream: string, afterVersion = 0): Promise<EventEnvelope[]> {
    const events: EventEnvelope[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#s = :s AND #v > :after',
          ExpressionAttributeNames: { '#s': 'stream', '#v': 'version' },
          ExpressionAttributeValues: { ':s': { S: stream }, ':after': { N: String(afterVersion) } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) events.push(eventFromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return events;
  }

  /**
   * The whole log in global (event id) order, page by page. Day buckets are contiguous id ranges,
   * so reading them in order and each in id order yields the global order; up to `concurrency`
   * buckets are fetched ahead in parallel while earlier ones are consumed.
   */
  async *readAll(options: ReadAllOptions): AsyncGenerator<EventEnvelope[]> {
    const { since, until = new Date(), pageSize = READ_ALL_PAGE_SIZE, concurrency = 4, afterId, onCorrupt } = options;
    const pending = bucketsBetween(since, until).map((bucket) => ({ bucket, pages: this.#bucketPages(bucket, pageSize, true, afterId, onCorrupt) }));
    // Each bucket's first page is requested ahead; later pages follow as the consumer pulls.
    const ahead: Array<Promise<IteratorResult<EventEnvelope[]>>> = [];
    const startNext = (): void => {
      const next = pending[ahead.length + consumed];
      if (!next) return;
      const page = next.pages.next();
      // Handled here too (review L1): a read-ahead that fails before it is awaited, or is never
      // awaited because the consumer stopped early, must not crash the process as an unhandled
      // rejection; awaited, it still throws to the consumer.
      page.catch(() => undefined);
      ahead.push(page);
    };
    let consumed = 0;
    for (let i = 0; i < concurrency; i++) startNext();
    while (consumed < pending.length) {
      const current = pending[consumed];
      const first = ahead.shift();
      if (!current || !first) break;
      let result = await first;
      while (!result.done) {
        if (result.value.length > 0) yield result.value;
        result = await current.pages.next();
      }
      consumed++;
      startNext();
    }
  }

  /**
   * The log newest first, page by page, from `until` back to `since`: the tail of the log (the
   * newest N events) without reading it from the start. Buckets are read one at a time, so a
   * caller that stops early reads only what it used.
   */
  async *readLatest(options: ReadLatestOptions): AsyncGenerator<EventEnvelope[]> {
    const { since, until = new Date(), pageSize = 100 } = options;
    for (const bucket of bucketsBetween(since, until).reverse()) yield* this.#bucketPages(bucket, pageSize, false);
  }

  async *#bucketPages(bucket: string, pageSize: number, forward: boolean, afterId?: string, onCorrupt?: ReadAllOptions['onCorrupt']): AsyncGenerator<EventEnvelope[]> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: GLOBAL_ORDER_INDEX,
          KeyConditionExpression: afterId ? '#b = :b AND #id > :after' : '#b = :b',
          ExpressionAttributeNames: { '#b': 'bucket', ...(afterId ? { '#id': 'id' } : {}) },
          ExpressionAttributeValues: { ':b': { S: bucket }, ...(afterId ? { ':after': { S: afterId } } : {}) },
          ScanIndexForward: forward,
          Limit: pageSize,
          ExclusiveStartKey: startKey,
        }),
      );
      const page: EventEnvelope[] = [];
      for (const item of out.Items ?? []) {
        try {
          page.push(eventFromItem(item));
        } catch (error) {
          if (!onCorrupt || !(error instanceof CorruptRecordError)) throw error;
          await onCorrupt(error, item);
        }
      }
      yield page;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  async #resolveConflict(
    stream: string,
    events: readonly PendingEvent[],
    expectedVersion: number,
    cause: unknown,
  ): Promise<AppendResult> {
    const after = await this.readStream(stream, expectedVersion);
    const stored = after.slice(0, events.length);
    const sameIds = stored.length === events.length && stored.every((e, i) => e.id === events[i]?.id);
    if (sameIds) return { lastVersion: expectedVersion + events.length, duplicate: true };
    const actual = after.length > 0 ? (after.at(-1)?.version ?? expectedVersion) : await this.headVersion(stream);
    // Cancelled, yet the stream is where the caller expected it: no one else wrote, so this is not
    // a conflict (answering "someone moved on" would make callers skip an append that never happened).
    if (actual === expectedVersion) {
      throw new TransientAwsError(`append to ${stream} was cancelled while the stream stayed at ${expectedVersion}`, { stream, expectedVersion }, { cause });
    }
    throw new ConcurrencyError(stream, expectedVersion, actual, { cause });
  }
}
