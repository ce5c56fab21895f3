/**
 * How an append classifies a cancelled transaction (review H4): only a failed condition on a
 * version item is a lost race (ConcurrencyError); a transaction cancelled by a conflicting
 * transaction or by throttling moved nothing and is a retryable TransientAwsError. The table is a
 * small in-memory stand-in that answers the three calls an append makes, so the SDK's own
 * exception can be thrown with the cancellation reasons DynamoDB gives.
 */
import { describe, expect, it } from 'vitest';
import {
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { newEvent } from '@flotilla/events';
import { ConcurrencyError, EventStore, requestBuild, TransientAwsError, type IdempotencyStore } from '@flotilla/platform';

type Item = Record<string, AttributeValue>;

/** Versions per stream; `cancelNext` makes the next transaction fail (optionally after writing it: an ambiguous failure). */
class FakeEventsTable {
  readonly streams = new Map<string, Item[]>();
  cancelNext: { error: Error; afterWrite?: boolean } | undefined;

  client(): DynamoDBClient {
    return { send: (command: unknown) => this.#send(command) } as unknown as DynamoDBClient;
  }

  #send(command: unknown): Promise<unknown> {
    if (command instanceof TransactWriteItemsCommand) {
      const cancel = this.cancelNext;
      this.cancelNext = undefined;
      if (cancel && !cancel.afterWrite) return Promise.reject(cancel.error);
      // As DynamoDB does: every condition checked first, the transaction cancelled with one reason per item.
      const writes = command.input.TransactItems ?? [];
      const exists = (stream: string | undefined, version: string | undefined) => (this.streams.get(stream ?? '') ?? []).some((i) => i.version?.N === version);
      const codes = writes.map((w) => {
        if (w.ConditionCheck) return exists(w.ConditionCheck.Key?.stream?.S, w.ConditionCheck.Key?.version?.N) ? 'None' : 'ConditionalCheckFailed';
        return exists(w.Put?.Item?.stream?.S, w.Put?.Item?.version?.N) ? 'ConditionalCheckFailed' : 'None';
      });
      if (codes.includes('ConditionalCheckFailed')) return Promise.reject(cancelled(...codes));
      for (const write of writes) {
        const item = write.Put?.Item;
        if (!item) continue;
        const stream = item.stream?.S ?? '';
        this.streams.set(stream, [...(this.streams.get(stream) ?? []), item]);
      }
      return cancel ? Promise.reject(cancel.error) : Promise.resolve({});
    }
    if (command instanceof QueryCommand) {
      const values = command.input.ExpressionAttributeValues ?? {};
      const items = [...(this.streams.get(values[':s']?.S ?? '') ?? [])].sort((a, b) => Number(a.version?.N) - Number(b.version?.N));
      const after = Number(values[':after']?.N ?? 0);
      const found = items.filter((i) => Number(i.version?.N) > after);
      return Promise.resolve({ Items: command.input.ScanIndexForward === false ? found.reverse().slice(0, command.input.Limit) : found });
    }
    return Promise.reject(new Error(`fake table: unexpected ${(command as object).constructor.name}`));
  }
}

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code): CancellationReason => ({ Code, ...(Code === 'None' ? {} : { Message: Code }) })),
  });

const started = () => newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:x' }, correlationId: 'c', causationId: 'k' });

async function storeAtVersion(n: number) {
  const table = new FakeEventsTable();
  const store = new EventStore(table.client(), 'events');
  if (n > 0) await store.append('build-1', Array.from({ length: n }, started), 0);
  return { table, store };
}

describe('EventStore.append on a cancelled transaction (review H4)', () => {
  it.each([['TransactionConflict'], ['ThrottlingError'], ['ProvisionedThroughputExceeded']])('%s on the new version is transient and retryable, not a conflict', async (code) => {
    const { table, store } = await storeAtVersion(1);
    table.cancelNext = { error: cancelled('None', code) };
    const error = await store.append('build-1', [started()], 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientAwsError);
    expect(error).not.toBeInstanceOf(ConcurrencyError);
    expect((error as TransientAwsError).retryable).toBe(true);
    expect((error as TransientAwsError).context).toMatchObject({ stream: 'build-1', expectedVersion: 1, reasons: ['None', code] });
  });

  it('a failed condition on a version item is a conflict that names the head', async () => {
    const { table, store } = await storeAtVersion(2);
    table.cancelNext = { error: cancelled('ConditionalCheckFailed', 'None') };
    const error = await store.append('build-1', [started()], 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect((error as ConcurrencyError).actualVersion).toBe(2);
  });

  it('a cancellation without reasons where nothing moved is transient, not a conflict', async () => {
    const { table, store } = await storeAtVersion(1);
    table.cancelNext = { error: cancelled() };
    await expect(store.append('build-1', [started()], 1)).rejects.toBeInstanceOf(TransientAwsError);
  });
});

describe('intake on a cancelled first append (review H4)', () => {
  const idempotency = { mapOnce: (_key: string, value: string) => Promise.resolve({ value, existing: false, sameRequest: true }) } as unknown as IdempotencyStore;
  const request = { repo: 'payments-api', env: 'prod', version: '1.0.0', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 1 };

  it('throttling fails the intake (to be retried) instead of answering duplicate with nothing appended', async () => {
    const { table, store } = await storeAtVersion(0);
    table.cancelNext = { error: cancelled('ThrottlingError') };
    await expect(requestBuild({ store, idempotency }, { door: 'http', key: 'k-1', request })).rejects.toBeInstanceOf(TransientAwsError);
    expect(table.streams.size).toBe(0);
  });

  it('a real conflict (the stream exists) is a duplicate', async () => {
    const { table, store } = await storeAtVersion(0);
    const first = await requestBuild({ store, idempotency }, { door: 'http', key: 'k-1', request });
    const again = await requestBuild({ store, idempotency: { mapOnce: () => Promise.resolve({ value: first.buildId, existing: true, sameRequest: true }) } as unknown as IdempotencyStore }, { door: 'http', key: 'k-1', request });
    expect(again).toEqual({ buildId: first.buildId, duplicate: true });
    expect([...table.streams.values()].map((items) => items.length)).toEqual([1]);
  });
});

describe('EventStore.appendAtHead after an ambiguous failure (review L2)', () => {
  it('does not append the same event ids a second time at a later version', async () => {
    const { table, store } = await storeAtVersion(1);
    // The write is committed, but its answer is lost: the caller sees a retryable network error.
    table.cancelNext = { error: Object.assign(new Error('socket hang up'), { name: 'TimeoutError', $retryable: {} }), afterWrite: true };
    const event = started();
    const result = await store.appendAtHead('build-1', [event]);
    expect(result).toEqual({ lastVersion: 2, duplicate: true });
    expect((table.streams.get('build-1') ?? []).map((i) => i.id?.S)).toEqual([expect.any(String), event.id]);
  });
});

describe('EventStore.readAll read-ahead (review L1)', () => {
  it('a failing read-ahead of a later bucket is no unhandled rejection when the reader stops early', async () => {
    const { table } = await storeAtVersion(1);
    const item = table.streams.get('build-1')?.[0];
    if (!item) throw new Error('no item');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const db = {
        send: (command: QueryCommand) =>
          command.input.ExpressionAttributeValues?.[':b']?.S === '2026-01-01' ? Promise.resolve({ Items: [item] }) : Promise.reject(new Error('throttled read-ahead')),
      } as unknown as DynamoDBClient;
      for await (const page of new EventStore(db, 'events').readAll({ since: new Date('2026-01-01T00:00:00Z'), until: new Date('2026-01-03T00:00:00Z') })) {
        expect(page).toHaveLength(1);
        break;
      }
      // Unhandled rejections are reported after the microtask queue drains: give it a macrotask turn.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
