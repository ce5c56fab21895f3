/**
 * Writes many items with BatchWriteItem: 25 per request (the API's cap), `concurrency` requests
 * in flight, and the unprocessed items of each answer retried with jittered backoff until a
 * deadline. BatchWriteItem does not fail a request for throttled items, it hands them back, so
 * a writer that ignores UnprocessedItems silently loses writes.
 */
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { forEachLimited } from './concurrency.ts';
import { TransientAwsError } from './errors.ts';
import { withRetry } from './retry.ts';

export interface BatchWriteOptions {
  concurrency?: number;
  deadlineMs?: number;
  /** Called after each chunk is fully written, with the running total: progress on long writes. */
  onProgress?: (written: number, total: number) => void;
}

export const BATCH_WRITE_MAX = 25;

export async function batchPut(db: DynamoDBClient, table: string, items: ReadonlyArray<Record<string, unknown>>, options: BatchWriteOptions = {}): Promise<void> {
  const { concurrency = 8, deadlineMs = 120_000, onProgress } = options;
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
    chunks.push(items.slice(i, i + BATCH_WRITE_MAX).map((item) => ({ PutRequest: { Item: marshall(item, { removeUndefinedValues: true }) } })));
  }
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
    onProgress?.(written, items.length);
  };
  await forEachLimited(chunks, concurrency, writeChunk);
}
