/**
 * The event store against the emulator, in a stack of its own: optimistic concurrency between
 * racing writers, idempotent re-appends, per-stream reads and the global-order replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventId, newEvent, type PendingEvent } from '@flotilla/events';
import { appendFact, ConcurrencyError, EventStore, resourceNames } from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, watchedTestClients, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
let stack: TestStack;
let store: EventStore;

function pending(type: string, data: Record<string, unknown>): PendingEvent {
  return {
    id: createEventId(),
    type,
    schemaVersion: 1,
    occurredAt: new Date().toISOString(),
    correlationId: 'test-correlation',
    causationId: 'test-causation',
    data,
  };
}
const started = () => pending('build.started', { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:y' });

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('event-store'));
  store = new EventStore(aws.dynamodb, resourceNames(stack.prefix).tables.events);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('append and read one stream', () => {
  it('appends several events in one transaction and reads them back in version order', async () => {
    const stream = `build-${createEventId()}`;
    const events = [started(), started(), started()];
    expect(await store.append(stream, events, 0)).toEqual({ lastVersion: 3, duplicate: false });
    const read = await store.readStream(stream);
    expect(read.map((e) => [e.version, e.id, e.stream])).toEqual(events.map((e, i) => [i + 1, e.id, stream]));
    expect(read[0]?.data).toEqual(events[0]?.data);
    expect(await store.headVersion(stream)).toBe(3);
    expect((await store.readStream(stream, 2)).map((e) => e.version)).toEqual([3]);
  });

  it('rejects an append whose expected version is behind the stream, with a typed error', async () => {
    const stream = `build-${createEventId()}`;
    await store.append(stream, [started(), started()], 0);
    const error = await store.append(stream, [started()], 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ stream, expectedVersion: 1, actualVersion: 2, retryable: true });
  });

  it('rejects an append whose expected version is ahead of the stream (no gaps)', async () => {
    const stream = `build-${createEventId()}`;
    await store.append(stream, [started()], 0);
    await expect(store.append(stream, [started()], 5)).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await store.headVersion(stream)).toBe(1);
  });

  it('treats re-appending the same event ids as a no-op success', async () => {
    const stream = `build-${createEventId()}`;
    const events = [started(), started()];
    await store.append(stream, events, 0);
    expect(await store.append(stream, events, 0)).toEqual({ lastVersion: 2, duplicate: true });
    expect(await store.readStream(stream)).toHaveLength(2);
  });

  it('lets exactly one of two racing writers win; the other gets the concurrency error', async () => {
    const stream = `build-${createEventId()}`;
    await store.append(stream, [started()], 0);
    const a = [started(), started()];
    const b = [started()];
    const outcomes = await Promise.allSettled([store.append(stream, a, 1), store.append(stream, b, 1)]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(ConcurrencyError);
    const winner = outcomes[0]?.status === 'fulfilled' ? a : b;
    expect((await store.readStream(stream)).slice(1).map((e) => e.id)).toEqual(winner.map((e) => e.id));
  });

  it('appends facts at the head while other writers race, losing none', async () => {
    const stream = `build-${createEventId()}`;
    await store.append(stream, [started()], 0);
    const facts = Array.from({ length: 10 }, () => started());
    await Promise.all(facts.map((fact) => store.appendAtHead(stream, [fact])));
    const read = await store.readStream(stream);
    expect(read.map((e) => e.version)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(new Set(read.slice(1).map((e) => e.id))).toEqual(new Set(facts.map((f) => f.id)));
  });

  it("takes turns on one process's facts for one stream: five regions' facts at once lose no race (issue 9)", async () => {
    // The transactions this process sends, counted on a client of its own.
    const { aws: watched, calls } = watchedTestClients();
    try {
      const own = new EventStore(watched.dynamodb, resourceNames(stack.prefix).tables.events);
      const stream = `build-${createEventId()}`;
      await store.append(stream, [started()], 0);
      const regions = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'];
      const meta = { correlationId: 'c', causationId: 'k' };
      const outcomes = await Promise.all(regions.map((region) => appendFact(own, stream, newEvent({ type: 'region.synced', data: { region, hosts: 2, synced: 2, failed: 0, rounds: 1 }, ...meta }))));
      expect(outcomes.every((o) => o.appended)).toBe(true);
      expect((await store.readStream(stream)).map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(calls.filter((c) => c.command === 'TransactWriteItems')).toHaveLength(regions.length);
    } finally {
      watched.destroy();
    }
  });
});

describe('global order replay', () => {
  it('reads 1,000 events across 50 streams back in global order, in pages', async () => {
    const since = new Date();
    const streams = Array.from({ length: 50 }, () => `build-${createEventId()}`);
    const appended: string[] = [];
    // 50 streams x 4 appends x 5 events, streams written concurrently so commits interleave.
    await Promise.all(
      streams.map(async (stream) => {
        for (let batch = 0; batch < 4; batch++) {
          const events = Array.from({ length: 5 }, () => started());
          appended.push(...events.map((e) => e.id));
          await store.append(stream, events, batch * 5);
        }
      }),
    );
    const ours = new Set(streams);
    const all: string[] = [];
    const read: string[] = [];
    let pages = 0;
    for await (const page of store.readAll({ since, pageSize: 100 })) {
      pages++;
      all.push(...page.map((e) => e.id));
      read.push(...page.filter((e) => ours.has(e.stream)).map((e) => e.id));
    }
    // The other tests in this file wrote to the same log: the whole replay is in strict id order,
    // and our 1,000 events are all there, in the order their ids were made.
    expect(all.every((id, i) => i === 0 || (all[i - 1] ?? '') < id)).toBe(true);
    expect(read).toHaveLength(1_000);
    expect(read).toEqual([...appended].sort());
    expect(pages).toBeGreaterThanOrEqual(10);
  });

  it('reads the tail newest first, and resumes after an event id', async () => {
    const since = new Date();
    const stream = `build-${createEventId()}`;
    const events = Array.from({ length: 12 }, () => started());
    await store.append(stream, events, 0);
    const ids = events.map((e) => e.id);

    const newest: string[] = [];
    // Ours are the newest: reading stops once they are all seen, as an API tail read does.
    for await (const page of store.readLatest({ since, pageSize: 5 })) {
      newest.push(...page.filter((e) => e.stream === stream).map((e) => e.id));
      if (newest.length >= ids.length) break;
    }
    expect(newest).toEqual([...ids].reverse());

    const after: string[] = [];
    for await (const page of store.readAll({ since, afterId: ids[6], pageSize: 5 })) after.push(...page.filter((e) => e.stream === stream).map((e) => e.id));
    expect(after).toEqual(ids.slice(7));
  });
});
