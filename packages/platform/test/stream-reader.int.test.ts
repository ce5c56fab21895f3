/**
 * The stream reader against the emulator: every record once and in order, resumes after its
 * checkpoint, re-reads everything when the checkpoint is rewound, and commits a batch's writes
 * with its checkpoint or not at all.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEventId, newEvent } from '@flotilla/events';
import {
  createLogger,
  eventFromStreamRecord,
  EventStore,
  MAX_BATCH_WRITES,
  MAX_GET_RECORDS,
  Records,
  resourceNames,
  StreamBatchTooLargeError,
  StreamReader,
  TransientAwsError,
  type StreamBatchHandler,
  type StreamReaderOptions,
} from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
let stack: TestStack;
let store: EventStore;
let names: ReturnType<typeof resourceNames>;
const stream = `build-${createEventId()}`;

const readerOptions = (name: string, handle: StreamBatchHandler): StreamReaderOptions => ({
  name,
  db: aws.dynamodb,
  streams: aws.streams,
  tableName: names.tables.events,
  checkpointTable: names.tables.checkpoints,
  logger: createLogger('reader-test', 'silent'),
  handle,
  retryDeadlineMs: 1_000,
});
const reader = (name: string, handle: StreamBatchHandler) => new StreamReader(readerOptions(name, handle));

async function appendStarted(count: number) {
  const head = await store.headVersion(stream);
  const events = Array.from({ length: count }, () => newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:x' }, correlationId: 'c', causationId: 'k' }));
  await store.append(stream, events, head);
}

/** A handler that records each event's version. */
function recorder() {
  const versions: number[] = [];
  const handle: StreamBatchHandler = (batch) => {
    for (const record of batch.records) {
      const event = eventFromStreamRecord(record);
      if (event) versions.push(event.version);
    }
    return Promise.resolve();
  };
  return { versions, handle };
}

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('reader'));
  names = resourceNames(stack.prefix);
  store = new EventStore(aws.dynamodb, names.tables.events);
  await appendStarted(30);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('StreamReader', () => {
  it('reads every record once, in order, and resumes after its checkpoint', async () => {
    const seen = recorder();
    const r = reader('resume', seen.handle);
    expect(await r.drainOnce()).toBe(30);
    expect(seen.versions).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await r.drainOnce()).toBe(0);
    await appendStarted(5);
    expect(await reader('resume', seen.handle).drainOnce()).toBe(5);
    expect(seen.versions.slice(30)).toEqual([31, 32, 33, 34, 35]);
  });

  it('reads everything again once its checkpoint is rewound', async () => {
    const checkpoints = new Records(aws.dynamodb, names.tables.checkpoints);
    const first = recorder();
    await reader('rewind', first.handle).drainOnce();
    for (const c of await checkpoints.list('stream#rewind')) await checkpoints.delete(c);
    const again = recorder();
    await reader('rewind', again.handle).drainOnce();
    expect(again.versions).toEqual(first.versions);
    expect(again.versions.length).toBeGreaterThanOrEqual(35);
  });

  it('commits a batch\'s writes with its checkpoint, or neither', async () => {
    const counters = new Records(aws.dynamodb, names.tables.projections);
    const key = { pk: 'test#reader', sk: 'count' };
    const counting: StreamBatchHandler = (batch) => Promise.resolve([counters.updateInTransaction(key, { add: { records: batch.records.length } })].flatMap((w) => (w ? [w] : [])));
    // A batch whose writes fail (a condition that cannot hold) leaves the checkpoint where it was.
    const failing: StreamBatchHandler = async (batch) => {
      const writes = await counting(batch);
      return [...(writes ?? []), { ConditionCheck: { TableName: names.tables.projections, Key: { pk: { S: 'no' }, sk: { S: 'such' } }, ConditionExpression: 'attribute_exists(pk)' } }];
    };
    await expect(reader('atomic', failing).drainOnce()).rejects.toThrow();
    expect(await counters.get(key)).toBeUndefined();
    expect(await new Records(aws.dynamodb, names.tables.checkpoints).list('stream#atomic')).toEqual([]);
    // The same records, handled again, are counted exactly once.
    await reader('atomic', counting).drainOnce();
    expect((await counters.get<{ records: number }>(key))?.records).toBe(await store.headVersion(stream));
  });

  it('keeps no listener per idle poll on its signal (review H3)', async () => {
    // A client of its own, to count the reader's polls of an idle shard.
    const counted = testAwsClients();
    let polls = 0;
    counted.streams.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetRecordsCommand') polls++;
        return next(args);
      },
      { step: 'initialize', name: 'countPolls' },
    );
    const r = new StreamReader({
      name: 'idle',
      db: counted.dynamodb,
      streams: counted.streams,
      tableName: names.tables.events,
      checkpointTable: names.tables.checkpoints,
      logger: createLogger('reader-test', 'silent'),
      handle: () => Promise.resolve(),
      idlePollMs: 1,
    });
    await r.start();
    try {
      await eventually(() => Promise.resolve(polls >= 200 ? polls : undefined), { timeoutMs: 60_000, description: '200 idle polls' });
      // One listener at most: the pause in progress. Before the fix, one per pause ever taken.
      expect(getEventListeners(r.signal, 'abort').length).toBeLessThanOrEqual(2);
    } finally {
      await r.stop();
      counted.destroy();
    }
    expect(getEventListeners(r.signal, 'abort').length).toBe(0);
  });

  it('holds a shard past its retry deadline instead of stopping the process, and stops cleanly during a backoff (review M3, L7)', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    let calls = 0;
    let failUntil = 8;
    const handle: StreamBatchHandler = () => {
      calls++;
      return calls <= failUntil ? Promise.reject(new TransientAwsError('injected', {})) : Promise.resolve();
    };
    const checkpoints = new Records(aws.dynamodb, names.tables.checkpoints);
    const make = () =>
      new StreamReader({ name: 'held', db: aws.dynamodb, streams: aws.streams, tableName: names.tables.events, checkpointTable: names.tables.checkpoints, logger: createLogger('reader-test', 'silent'), handle, retryDeadlineMs: 100 });
    try {
      // Failing well past its 100 ms deadline, the shard is held, then committed once the handler passes.
      const held = make();
      await held.start();
      await eventually(async () => ((await checkpoints.list('stream#held')).length > 0 ? true : undefined), { timeoutMs: 30_000, description: 'the held batch committed' });
      expect(calls).toBeGreaterThan(failUntil);
      await held.stop();
      // Stopped while it backs off between failed attempts: no exit.
      failUntil = Number.POSITIVE_INFINITY;
      await appendStarted(1);
      const stopping = make();
      const before = calls;
      await stopping.start();
      await eventually(() => Promise.resolve(calls >= before + 2 ? true : undefined), { description: 'two failed attempts' });
      await stopping.stop();
      expect(exit).not.toHaveBeenCalled();
    } finally {
      exit.mockRestore();
    }
  });

  it('re-reads the checkpoints table only when its plan may change, not at every re-plan (review L8)', async () => {
    const counted = testAwsClients();
    const calls = { describeStream: 0, checkpointQueries: 0 };
    counted.streams.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'DescribeStreamCommand') calls.describeStream++;
        return next(args);
      },
      { step: 'initialize', name: 'countReplans' },
    );
    counted.dynamodb.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'QueryCommand' && (args.input as { TableName?: string }).TableName === names.tables.checkpoints) calls.checkpointQueries++;
        return next(args);
      },
      { step: 'initialize', name: 'countCheckpointReads' },
    );
    const r = new StreamReader({
      name: 'replans',
      db: counted.dynamodb,
      streams: counted.streams,
      tableName: names.tables.events,
      checkpointTable: names.tables.checkpoints,
      logger: createLogger('reader-test', 'silent'),
      handle: () => Promise.resolve(),
      replanMs: 5,
    });
    await r.start();
    try {
      await eventually(() => Promise.resolve(calls.describeStream >= 30 ? true : undefined), { timeoutMs: 60_000, description: '30 re-plans' });
    } finally {
      await r.stop();
      counted.destroy();
    }
    // One read at start (lost checkpoints) and one for the first plan; none per re-plan of an unchanged stream.
    expect(calls.checkpointQueries).toBeLessThanOrEqual(3);
  });
  it('commits a read whose writes exceed one transaction in parts, each part with its checkpoint, every record once', async () => {
    while ((await store.headVersion(stream)) < 150) await appendStarted(Math.min(90, 150 - (await store.headVersion(stream))));
    const rows = new Records(aws.dynamodb, names.tables.projections);
    // One write per record (distinct keys): 150 records read at once cannot commit in one transaction.
    const calls: number[] = [];
    const perRecord: StreamBatchHandler = (batch) => {
      calls.push(batch.records.length);
      return Promise.resolve(
        batch.records.flatMap((record) => {
          const version = eventFromStreamRecord(record)?.version;
          return [rows.updateInTransaction({ pk: 'test#wide', sk: String(version) }, { add: { seen: 1 } })].flatMap((w) => (w ? [w] : []));
        }),
      );
    };
    const r = new StreamReader({ ...readerOptions('wide', perRecord), batchSize: MAX_GET_RECORDS });
    expect(await r.drainOnce()).toBe(150);
    expect(calls[0]).toBe(150);
    const seen = await rows.list<{ seen: number }>('test#wide');
    expect(seen).toHaveLength(150);
    expect(new Set(seen.map((row) => row.seen))).toEqual(new Set([1]));
    // Read again from its checkpoints: nothing is left, so nothing is counted twice.
    expect(await new StreamReader({ ...readerOptions('wide', perRecord), batchSize: MAX_GET_RECORDS }).drainOnce()).toBe(0);
  });

  it('refuses, as not retryable, one record whose writes cannot fit a transaction', async () => {
    const rows = new Records(aws.dynamodb, names.tables.projections);
    const tooMany: StreamBatchHandler = () =>
      Promise.resolve(Array.from({ length: MAX_BATCH_WRITES + 1 }, (_, i) => rows.updateInTransaction({ pk: 'test#huge', sk: String(i) }, { add: { n: 1 } })).flatMap((w) => (w ? [w] : [])));
    await expect(new StreamReader(readerOptions('huge', tooMany)).drainOnce()).rejects.toBeInstanceOf(StreamBatchTooLargeError);
    expect(await rows.list('test#huge')).toEqual([]);
  });
});
