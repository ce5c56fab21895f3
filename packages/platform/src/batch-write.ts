/**
 * Writes many items with BatchWriteItem: 25 per request (the API's cap), `concurrency` requests
 * in flight, and the unprocessed items of each answer retried with jittered backoff until a
 * deadline. BatchWriteItem does not fail a request for throttled items, it hands them back, so
 * a writer that ignores UnprocessedItems silently loses writes.
 *
 * The items may be any iterable, a generator included, and are pulled only as a request slot is
 * free: each of the `concurrency` lanes takes the next 25, marshals them, writes them, and only
 * then takes more. So at most `concurrency` × 25 items are held (marshalled) at once whatever the
 * total, and a slow table slows the producer instead of growing a queue (review H6: the whole
 * region's items and every marshalled chunk were built before the first write).
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { TransientAwsError } from './errors.ts';
import { withRetry } from './retry.ts';

/**
 * Request slots shared by several writers in one process: a lane takes a slot before it pulls
 * its next 25 items and gives it back once they are written, so the requests in flight across
 * every writer stay within the slots, first come first served. Region-sync shares one among every
 * region's sync: five regions at once would otherwise send five times the requests, and the host
 * counters' single stream reader, queued behind them at the table, fell a minute behind.
 */
export class RequestSlots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(slots: number) {
    this.#free = Math.max(1, slots);
  }

  /** Resolves with the function that gives the slot back (once; later calls do nothing). */
  async take(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let given = false;
    return () => {
      if (given) return;
      given = true;
      // Handed straight to the next writer waiting, if any, so none can jump the queue.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

export interface BatchWriteOptions {
  /** Lanes of this call: requests of 25 items it may have in flight. */
  concurrency?: number;
  /** Slots shared with other writers; a lane writes only while it holds one. */
  slots?: RequestSlots;
  deadlineMs?: number;
  /** Called after each chunk is fully written, with the running total: progress on long writes. */
  onProgress?: (written: number) => void;
}

export const BATCH_WRITE_MAX = 25;

/** Writes every item of `items` (an array or a generator); resolves once all are written. */
export async function batchPut(db: DynamoDBClient, table: string, items: Iterable<Record<string, unknown>>, options: BatchWriteOptions = {}): Promise<void> {
  const { concurrency = 8, deadlineMs = 120_000, onProgress, slots } = options;
  const source = items[Symbol.iterator]();
  let exhausted = false;
  // A lane that failed stops the others from taking more; the first error is the one thrown.
  let failed = false;
  // Synchronous, so two lanes never interleave inside one take: each item is taken exactly once.
  const take = (): WriteRequest[] => {
    const chunk: WriteRequest[] = [];
    while (!exhausted && !failed && chunk.length < BATCH_WRITE_MAX) {
      const next = source.next();
      if (next.done) exhausted = true;
      else chunk.push({ PutRequest: { Item: marshall(next.value, { removeUndefinedValues: true }) } });
    }
    return chunk;
  };
  let written = 0;
  const writeChunk = async (chunk: WriteRequest[]) => {
    let pending = chunk;
    await withRetry(
      async () => {
        const out = await db.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        pending = out.UnprocessedItems?.[table] ?? [];
        if (pending.length > 0) throw new TransientAwsError(`${pending.length} items unprocessed`, { table, unprocessed: pending.length });
      },
      { deadlineMs, minDelayMs: 50, maxDelayMs: 2_000 },
    );
    written += chunk.length;
    onProgress?.(written);
  };
  const lane = async () => {
    while (!exhausted && !failed) {
      // The slot first, the items after: a lane waiting for a slot holds none of them.
      const release = slots ? await slots.take() : undefined;
      try {
        const chunk = take();
        if (chunk.length === 0) return;
        await writeChunk(chunk);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        release?.();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  } finally {
    // A generator left part-way (a failed write) runs its cleanup now rather than never.
    if (!exhausted) source.return?.();
  }
}
