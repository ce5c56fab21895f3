/**
 * Reads a DynamoDB table's stream on every shard, parents before children (shard-planner.ts), and
 * hands each batch of records to a handler, in order per shard. The position in each shard is a
 * checkpoint in the checkpoints table, written after the batch was handled, together with any
 * writes the handler returns, in one transaction: a batch is either handled-and-checkpointed or
 * read again after a restart, never half. Handlers must therefore be idempotent on what they
 * handle (a replayed batch is possible when the handler acts outside that transaction).
 *
 * A retryable handler error holds the shard and retries the same batch with backoff; any other
 * error is the handler's to turn into a fact (the orchestrator appends build.failed) before
 * returning, so a throw here that is not retryable stops the reader loudly.
 */
import {
  DescribeStreamCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
  type _Record,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import {
  DescribeTableCommand,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import type { Logger } from './logger.ts';
import { CheckpointMovedError, isRetryable, StreamBatchTooLargeError, TransientAwsError } from './errors.ts';
import { backoff, withRetry } from './retry.ts';
import type { Stoppable } from './service.ts';
import { eventFromItem } from './event-store.ts';
import { faultPoint } from './faults.ts';
import { planShards, type ShardCheckpoint, type ShardInfo } from './shard-planner.ts';

export type StreamRecord = _Record;

/** A transaction holds 100 items: a batch's writes and its checkpoint. */
export const MAX_BATCH_WRITES = 99;

/** GetRecords returns at most this many records per call. */
export const MAX_GET_RECORDS = 1_000;

/** The envelope in a stream record of the events table (the streams client's AttributeValue has the table's wire shape). */
export const eventFromStreamRecord = (record: StreamRecord) => (record.dynamodb?.NewImage ? eventFromItem(record.dynamodb.NewImage) : undefined);

export interface StreamBatch {
  shardId: string;
  records: StreamRecord[];
}

/**
 * Returns writes to commit atomically with this batch's checkpoint. More than MAX_BATCH_WRITES and
 * the reader commits the batch in parts, calling the handler again on each (see #fitting).
 */
export type StreamBatchHandler = (batch: StreamBatch) => Promise<TransactWriteItem[] | void>;

export interface StreamReaderOptions {
  /** Names this reader's checkpoints; two readers of one stream need two names. */
  name: string;
  db: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  tableName: string;
  checkpointTable: string;
  logger: Logger;
  handle: StreamBatchHandler;
  /** Pause between polls of a shard that returned nothing. */
  idlePollMs?: number;
  /** How often the shard list is looked at again for new shards (default 5 s). */
  replanMs?: number;
  /**
   * Records per GetRecords call (default 100, at most MAX_GET_RECORDS). Not bounded by the
   * transaction (a batch whose writes do not fit is committed in parts), but a batch must finish
   * inside the shutdown grace (review L7: 1,000 relayed records, each published, did not).
   */
  batchSize?: number;
  /** How long a retryable failure may hold a shard before a draining pass gives up, and the running reader alerts (logs at error) while it keeps holding. */
  retryDeadlineMs?: number;
  /**
   * Called once at start, before any record is read, when the stream no longer holds the records
   * after some checkpoints (a local emulator restarted: stream records do not survive it). The
   * reader then starts those shards over at the trim horizon, so what was appended in between is
   * never read: the handler catches up from the table itself.
   */
  onRecordsLost?: (shardIds: string[]) => Promise<void>;
}

/** The checkpointed record is not in the shard any more (trimmed, or the stream lost it). */
const isRecordGone = (error: unknown): boolean =>
  error instanceof TrimmedDataAccessException || error instanceof ResourceNotFoundException || (error as Error).name === 'ValidationException';

/** Pauses after an unavailable stream or checkpoints table: 250 ms doubling to at most 10 s, jittered. */
const backoffMs = (attempt: number) => backoff(attempt, 250, 10_000);

export class StreamReader implements Stoppable {
  readonly name: string;
  readonly #o: Required<StreamReaderOptions>;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  /** Ends the loop's current pause (a shard finished); set only while the loop pauses. */
  #wake: (() => void) | undefined;
  #wakeRequested = false;

  constructor(options: StreamReaderOptions) {
    this.name = options.name;
    this.#o = { idlePollMs: 250, replanMs: 5_000, retryDeadlineMs: 5 * 60_000, batchSize: 100, onRecordsLost: () => Promise.resolve(), ...options };
  }

  /** Starts reading; resolves once lost records (if any) were caught up and reading has begun. */
  async start(): Promise<void> {
    const lost = await this.lostCheckpoints();
    if (lost.length > 0) {
      this.#o.logger.warn({ reader: this.name, shards: lost }, 'the stream no longer holds the records after these checkpoints: catching up from the table');
      await this.#o.onRecordsLost(lost);
    }
    this.#running = this.#loop().catch((error: unknown) => {
      // Stopped on purpose (an AbortError from a backoff in progress, review L7): not a failure.
      if (this.#abort.signal.aborted) return;
      this.#o.logger.fatal({ err: error, reader: this.name }, 'stream reader stopped on an error');
      // Surface the failure through the process, not a dangling rejection.
      process.exit(1);
    });
  }

  /** Aborted on stop(): what a handler may pass to its own waits, to end with the reader. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  /** Shards whose checkpointed record the stream no longer holds (TrimmedDataAccessException). */
  async lostCheckpoints(): Promise<string[]> {
    const streamArn = await this.#streamArn();
    const lost: string[] = [];
    for (const [shardId, checkpoint] of await this.#checkpoints()) {
      if (checkpoint.finished || !checkpoint.sequenceNumber) continue;
      try {
        await this.#o.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: checkpoint.sequenceNumber }));
      } catch (error) {
        if (isRecordGone(error)) lost.push(shardId);
        else throw error;
      }
    }
    return lost;
  }

  /** One pass over every readable shard until each returns no more records; used by tests. */
  async drainOnce(): Promise<number> {
    const streamArn = await this.#streamArn();
    let handled = 0;
    for (;;) {
      const plan = planShards(await this.#shards(streamArn), await this.#checkpoints());
      if (plan.ready.length === 0) return handled;
      let progressed = false;
      for (const shard of plan.ready) {
        const n = await this.#readShard(streamArn, shard.shardId, shard.start, { untilEmpty: true });
        handled += n;
        progressed ||= n > 0;
      }
      if (!progressed) return handled;
    }
  }

  async #loop(): Promise<void> {
    let streamArn: string | undefined;
    const active = new Map<string, Promise<void>>();
    // A shard that failed on an error that is not worth retrying stops the loop.
    let failure: { error: unknown } | undefined;
    // Consecutive passes that met an AWS error worth retrying (an outage, throttling): the loop
    // backs off and re-plans from the checkpoints instead of stopping the process, which would only
    // restart it into the same outage (the chaos run's refused cut crashed two services).
    let transient = 0;
    let shardTransient = false;
    // The checkpoints table is read again only when the plan may change (review L8): a shard
    // finished, or the stream has shards it did not have; not on every periodic wake-up.
    let checkpoints: Map<string, ShardCheckpoint> | undefined;
    let knownShards = '';
    while (!this.#abort.signal.aborted) {
      try {
        streamArn ??= await this.#streamArn();
        const arn = streamArn;
        const shards = await this.#shards(arn);
        const shardIds = shards.map((s) => s.shardId).join(',');
        if (!checkpoints || shardIds !== knownShards) checkpoints = await this.#checkpoints();
        knownShards = shardIds;
        const plan = planShards(shards, checkpoints);
        for (const { shardId, start } of plan.ready) {
          if (active.has(shardId)) continue;
          const reading = this.#readShard(arn, shardId, start, { untilEmpty: false })
            .then(
              () => undefined,
              (error: unknown) => {
                if (isRetryable(error) && !this.#abort.signal.aborted) {
                  // Read again from its checkpoint at the next plan, after a backoff.
                  shardTransient = true;
                  this.#o.logger.warn({ err: error, reader: this.name, shardId }, 'stream read failed; reading the shard again from its checkpoint after a backoff');
                } else failure ??= { error };
              },
            )
            .finally(() => {
              active.delete(shardId);
              this.#wakeLoop();
            });
          active.set(shardId, reading);
        }
        transient = 0;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        transient++;
        this.#o.logger.warn({ err: error, reader: this.name, attempt: transient }, 'stream or checkpoints unavailable; planning again after a backoff');
        await this.#pause(backoffMs(transient));
        continue;
      }
      // Re-plan when a shard finishes (its children may be ready: it wakes this pause) or
      // periodically for new shards. Not a race over the shards' own promises: an open shard's
      // promise lives for hours, and each race would leave one more reaction on it.
      if ((await this.#pause(this.#o.replanMs, { wakeable: true })) === 'woken') checkpoints = undefined;
      if (failure) break;
      if (shardTransient) {
        shardTransient = false;
        transient++;
        checkpoints = undefined;
        await this.#pause(backoffMs(transient));
      }
    }
    await Promise.allSettled(active.values());
    if (failure) throw failure.error;
  }

  async #readShard(streamArn: string, shardId: string, start: ReturnType<typeof planShards>['ready'][number]['start'], mode: { untilEmpty: boolean }): Promise<number> {
    let iterator = await this.#iterator(streamArn, shardId, start);
    let handled = 0;
    let lastSequence = start.kind === 'AFTER_SEQUENCE_NUMBER' ? start.sequenceNumber : undefined;
    // The checkpoint as stored: each commit is conditional on it, so two readers never both commit one batch.
    let committed = lastSequence;
    while (iterator && !this.#abort.signal.aborted) {
      let out: GetRecordsCommandOutput;
      try {
        out = await this.#o.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#o.batchSize }));
      } catch (error) {
        if (!(error instanceof ExpiredIteratorException)) throw error;
        iterator = await this.#iterator(streamArn, shardId, lastSequence ? { kind: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lastSequence } : { kind: 'TRIM_HORIZON' });
        continue;
      }
      const records = out.Records ?? [];
      const finished = out.NextShardIterator === undefined || out.NextShardIterator === null;
      if (records.length > 0 || finished) {
        // What of this batch is not committed yet: a batch whose writes would not fit one
        // transaction is committed in parts, each with the checkpoint at its last record, so a
        // large read (up to the API's 1,000 records) is never limited by the transaction's 100 items.
        let rest = records;
        try {
          await this.#handleHeld(shardId, mode, async () => {
            do {
              const { part, writes } = await this.#fitting(shardId, rest);
              const seq = part.at(-1)?.dynamodb?.SequenceNumber ?? lastSequence;
              if (part.length > 0) faultPoint('stream.before-checkpoint');
              await this.#commit(shardId, { sequenceNumber: seq, finished: finished && part.length === rest.length }, writes, committed);
              handled += part.length;
              lastSequence = seq;
              committed = seq;
              rest = rest.slice(part.length);
            } while (rest.length > 0);
          });
        } catch (error) {
          if (!(error instanceof CheckpointMovedError)) throw error;
          // Another reader of this name committed first (review M1): this batch's writes were not
          // committed; carry on after the checkpoint that reader wrote.
          this.#o.logger.info({ reader: this.name, shardId, stored: error.stored }, 'another reader committed this shard first; resuming after its checkpoint');
          if (error.stored?.finished) break;
          committed = error.stored?.sequenceNumber;
          lastSequence = committed;
          iterator = await this.#iterator(streamArn, shardId, committed ? { kind: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: committed } : { kind: 'TRIM_HORIZON' });
          continue;
        }
      }
      if (finished) break;
      iterator = out.NextShardIterator;
      if (records.length === 0) {
        if (mode.untilEmpty) break;
        await this.#pause(this.#o.idlePollMs);
      }
    }
    return handled;
  }

  /**
   * The longest head of `records` whose writes fit one transaction beside the checkpoint, and those
   * writes. The handler sees the whole batch first (the usual case: a handler that aggregates, as
   * the host counters do per build and region, returns few writes for many records); past the
   * limit it is asked again about a head cut in proportion (99 / writes), until the writes fit. A
   * handler that returns more than MAX_BATCH_WRITES must therefore act only through its writes.
   */
  async #fitting(shardId: string, records: StreamRecord[]): Promise<{ part: StreamRecord[]; writes: TransactWriteItem[] }> {
    let part = records;
    for (;;) {
      const writes = part.length > 0 ? ((await this.#o.handle({ shardId, records: part })) ?? []) : [];
      if (writes.length <= MAX_BATCH_WRITES) return { part, writes };
      if (part.length === 1) {
        throw new StreamBatchTooLargeError(`one record of ${shardId} made ${this.name} return ${writes.length} writes; a checkpoint transaction holds ${MAX_BATCH_WRITES}`, {
          reader: this.name,
          shardId,
          writes: writes.length,
          sequenceNumber: part[0]?.dynamodb?.SequenceNumber,
        });
      }
      // Fewer records than now (writes > MAX_BATCH_WRITES), so this ends; usually at the first cut.
      part = part.slice(0, Math.max(1, Math.floor((part.length * MAX_BATCH_WRITES) / writes.length)));
    }
  }

  /**
   * Handles one batch, retrying retryable failures with backoff. Past the retry deadline a
   * draining pass (tests) gives up; the running reader holds the shard and keeps retrying, logging
   * at error: exiting would only restart the process on the same record (a crash loop) and take
   * the process's other work down with it (review M3). A non-retryable error still stops it.
   */
  async #handleHeld(shardId: string, mode: { untilEmpty: boolean }, batch: () => Promise<void>): Promise<void> {
    const heldSince = Date.now();
    for (;;) {
      try {
        await withRetry(batch, {
          deadlineMs: this.#o.retryDeadlineMs,
          signal: this.#abort.signal,
          onRetry: (error, attempt) => this.#o.logger.warn({ err: error, reader: this.name, shardId, attempt }, 'stream batch failed; retrying'),
        });
        return;
      } catch (error) {
        if (mode.untilEmpty || this.#abort.signal.aborted || !isRetryable(error)) throw error;
        this.#o.logger.error({ err: error, reader: this.name, shardId, heldForMs: Date.now() - heldSince, alert: 'stream.held' }, 'stream batch still failing past its retry deadline: holding the shard');
      }
    }
  }

  async #iterator(streamArn: string, shardId: string, start: ReturnType<typeof planShards>['ready'][number]['start']): Promise<string | undefined> {
    try {
      const out = await this.#o.streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: start.kind,
          ...(start.kind === 'AFTER_SEQUENCE_NUMBER' ? { SequenceNumber: start.sequenceNumber } : {}),
        }),
      );
      return out.ShardIterator;
    } catch (error) {
      // The checkpointed record was trimmed (or the emulator does not know it): start over at the
      // trim horizon; handlers are idempotent, so re-reading is safe where skipping would not be.
      // Loud (review M3): when this happens past the stream's 24 h retention, whatever was appended
      // between the checkpoint and the trim horizon was never read.
      if (start.kind === 'AFTER_SEQUENCE_NUMBER' && isRecordGone(error)) {
        this.#o.logger.error(
          { reader: this.name, shardId, sequenceNumber: start.sequenceNumber, error: (error as Error).name, alert: 'stream.checkpoint-lost' },
          'checkpoint not found in shard; reading from trim horizon: records between the checkpoint and the horizon may have been lost',
        );
        return this.#iterator(streamArn, shardId, { kind: 'TRIM_HORIZON' });
      }
      throw error;
    }
  }

  /**
   * Commits the batch's writes with its checkpoint, conditional on the checkpoint still being the
   * one the batch was read after (`expected`; none: no sequence number stored yet). Otherwise
   * another reader committed first: CheckpointMovedError, and none of these writes happened.
   */
  async #commit(shardId: string, checkpoint: ShardCheckpoint, writes: TransactWriteItem[], expected: string | undefined): Promise<void> {
    const put: TransactWriteItem = {
      Put: {
        TableName: this.#o.checkpointTable,
        Item: {
          pk: { S: `stream#${this.name}` },
          sk: { S: shardId },
          finished: { BOOL: checkpoint.finished },
          ...(checkpoint.sequenceNumber ? { sequenceNumber: { S: checkpoint.sequenceNumber } } : {}),
          updatedAt: { S: new Date().toISOString() },
        },
        ExpressionAttributeNames: { '#seq': 'sequenceNumber' },
        ...(expected === undefined
          ? { ConditionExpression: 'attribute_not_exists(#seq)' }
          : { ConditionExpression: '#seq = :prev', ExpressionAttributeValues: { ':prev': { S: expected } } }),
      },
    };
    try {
      await this.#o.db.send(new TransactWriteItemsCommand({ TransactItems: [...writes, put] }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const stored = await this.#checkpoint(shardId);
      if (stored?.sequenceNumber !== expected) throw new CheckpointMovedError(this.name, shardId, expected, stored, { cause: error });
      // The checkpoint did not move: a condition of the handler's own writes failed (thrown as is),
      // or the transaction lost a race or was throttled (retryable: nothing was written).
      if ((error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed')) throw error;
      throw new TransientAwsError(`checkpoint commit of ${this.name} on ${shardId} was cancelled`, { reader: this.name, shardId, reasons: (error.CancellationReasons ?? []).map((r) => r.Code) }, { cause: error });
    }
  }

  /** One shard's stored checkpoint, strongly consistent. */
  async #checkpoint(shardId: string): Promise<ShardCheckpoint | undefined> {
    const out = await this.#o.db.send(
      new GetItemCommand({ TableName: this.#o.checkpointTable, Key: { pk: { S: `stream#${this.name}` }, sk: { S: shardId } }, ConsistentRead: true }),
    );
    return out.Item ? { sequenceNumber: out.Item.sequenceNumber?.S, finished: out.Item.finished?.BOOL === true } : undefined;
  }

  async #checkpoints(): Promise<Map<string, ShardCheckpoint>> {
    const result = new Map<string, ShardCheckpoint>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.#o.db.send(
        new QueryCommand({
          TableName: this.#o.checkpointTable,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `stream#${this.name}` } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        const shardId = item.sk?.S;
        if (shardId) result.set(shardId, { sequenceNumber: item.sequenceNumber?.S, finished: item.finished?.BOOL === true });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return result;
  }

  async #shards(streamArn: string): Promise<ShardInfo[]> {
    const shards: Shard[] = [];
    let exclusiveStart: string | undefined;
    do {
      const out = await this.#o.streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStart }));
      shards.push(...(out.StreamDescription?.Shards ?? []));
      exclusiveStart = out.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStart);
    return shards.flatMap((s) =>
      s.ShardId ? [{ shardId: s.ShardId, parentShardId: s.ParentShardId, endingSequenceNumber: s.SequenceNumberRange?.EndingSequenceNumber }] : [],
    );
  }

  async #streamArn(): Promise<string> {
    const out = await this.#o.db.send(new DescribeTableCommand({ TableName: this.#o.tableName }));
    const arn = out.Table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${this.#o.tableName} has no stream`);
    return arn;
  }

  /**
   * Waits `ms`, or less when the reader stops (or, if wakeable, when a shard finished). Whatever
   * ends it removes the abort listener: the reader's signal lives as long as the process, and a
   * listener left per pause was the leak of review H3.
   */
  #pause(ms: number, options: { wakeable: boolean } = { wakeable: false }): Promise<'elapsed' | 'woken' | 'stopped'> {
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve('stopped');
    if (options.wakeable && this.#wakeRequested) {
      this.#wakeRequested = false;
      return Promise.resolve('woken');
    }
    return new Promise((resolve) => {
      const done = (why: 'elapsed' | 'woken' | 'stopped'): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (options.wakeable) this.#wake = undefined;
        resolve(why);
      };
      const onAbort = (): void => done('stopped');
      const timer = setTimeout(() => done('elapsed'), ms);
      signal.addEventListener('abort', onAbort, { once: true });
      if (options.wakeable) this.#wake = () => done('woken');
    });
  }

  /** Ends the loop's pause now, or the next one at once if the loop is busy planning. */
  #wakeLoop(): void {
    if (this.#wake) this.#wake();
    else this.#wakeRequested = true;
  }
}
