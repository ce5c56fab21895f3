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

export interface BatchWriteOptions {
  concurrency?: number;
  deadlineMs?: number;
  /** Called after each chunk is fully written, with the running total: progress on long writes. */
  onProgress?: (written: number) => void;
}

export const BATCH_WRITE_MAX = 25;

/** Writes every item of `items` (an array or a generator); resolves once all are written. */
export async function batchPut(db: DynamoDBClient, table: string, items: Iterable<Record<string, unknown>>, options: BatchWriteOptions = {}): Promise<void> {
  const { concurrency = 8, deadlineMs = 120_000, onProgress } = options;
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
    for (let chunk = take(); chunk.length > 0; chunk = take()) {
      try {
        await writeChunk(chunk);
      } catch (error) {
        failed = true;
        throw error;
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
