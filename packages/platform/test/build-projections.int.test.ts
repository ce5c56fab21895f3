/**
 * The build projections against the emulator: the view and the list row kept in version order
 * (duplicates, gaps, a crash between the two writes), and the list's queries: newest first, every
 * filter, since/until, door-key lookup, cursor paging, and refused cursors and filters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, createEventId, foldBuild, newEvent, type BuildEvent, type EventData, type PendingEvent } from '@flotilla/events';
import { allBuilds, BuildProjections, EventStore, InvalidCursorError, InvalidListFilterError, listBuilds, readBuildEvents, Records, resourceNames, viewKey, type BuildListFilter } from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, watchedTestClients, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
let stack: TestStack;
let store: EventStore;
let projections: BuildProjections;
let views: Records;

const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const meta = (buildId: string, now: number) => ({ correlationId: buildId, causationId: 'test', now });

function request(buildId: string, over: Partial<EventData<'build.requested'>> = {}): EventData<'build.requested'> {
  return {
    buildId,
    repo: 'payments-api',
    env: 'prod',
    version: '1.0.0',
    branch: 'main',
    commit: 'abc1234',
    regions: ['us-east-1'],
    hostsPerRegion: 10,
    source: { door: 'http', key: `key-${buildId}` },
    ...over,
  };
}

/** Appends a build's events to the log and returns them as stored. */
async function makeBuild(at: number, over: Partial<EventData<'build.requested'>> = {}, outcome?: 'started' | 'succeeded' | 'failed'): Promise<BuildEvent[]> {
  const buildId = createEventId(at);
  const events: PendingEvent[] = [newEvent({ type: 'build.requested', data: request(buildId, over), ...meta(buildId, at) })];
  if (outcome) events.push(newEvent({ type: 'build.started', data: { executionArn: `arn:aws:states:us-east-1:000000000000:execution:deploy:${buildId}` }, ...meta(buildId, at + 1) }));
  if (outcome === 'succeeded') events.push(newEvent({ type: 'build.succeeded', data: {}, ...meta(buildId, at + 2) }));
  if (outcome === 'failed') events.push(newEvent({ type: 'build.failed', data: { reason: 'replication failed', failedRegions: [] }, ...meta(buildId, at + 2) }));
  await store.append(buildStream(buildId), events, 0);
  return readBuildEvents(store, buildStream(buildId));
}

async function projectAll(events: BuildEvent[]): Promise<void> {
  for (const event of events) await projections.project(event, store);
}
const buildIdOf = (event: BuildEvent) => event.stream.slice('build-'.length);

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('projections'));
  const tables = resourceNames(stack.prefix).tables;
  store = new EventStore(aws.dynamodb, tables.events);
  projections = new BuildProjections(aws.dynamodb, tables);
  views = new Records(aws.dynamodb, tables.projections);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('keeping the view and the list row', () => {
  it('applies in order, skips duplicates, and fills a gap from the log', async () => {
    const events = await makeBuild(T0, {}, 'failed');
    const [requested, started, failed] = events as [BuildEvent, BuildEvent, BuildEvent];
    const id = buildIdOf(requested);
    expect(await projections.project(requested, store)).toBe('applied');
    expect(await projections.project(requested, store)).toBe('skipped');
    // v3 arrives before v2: the log fills v2 in.
    expect(await projections.project(failed, store)).toBe('applied');
    expect(await projections.project(started, store)).toBe('skipped');
    expect(await projections.readView(id)).toMatchObject({ status: 'FAILED', lastVersion: 3 });
    const page = await listBuilds(aws.dynamodb, projections.tables.builds, { door: 'http', key: `key-${id}` }, { limit: 10 });
    expect(page.builds).toEqual([expect.objectContaining({ buildId: id, status: 'FAILED', reason: 'replication failed', door: 'http', key: `key-${id}` })]);
  });

  it('heals a list row that trails its view (a crash between the two writes) on the next delivery', async () => {
    const events = await makeBuild(T0 + 1, {}, 'succeeded');
    const id = buildIdOf(events[0] as BuildEvent);
    const lookup = async () => (await listBuilds(aws.dynamodb, projections.tables.builds, { door: 'http', key: `key-${id}` }, { limit: 1 })).builds[0];
    await projectAll(events.slice(0, 1));
    // The view moves to v2 alone, as if the process died before writing the list row.
    await views.putIfVersion(viewKey(id), { version: 2, state: foldBuild(events.slice(0, 2)) }, 1);
    expect((await lookup())?.status).toBe('PENDING');
    expect(await projections.project(events[1] as BuildEvent, store)).toBe('skipped');
    expect((await lookup())?.status).toBe('IN_PROGRESS');
    await projectAll(events.slice(2));
    const row = await lookup();
    expect(row?.status).toBe('SUCCESS');
    expect(row?.startedAt).toBe(events[1]?.occurredAt);
    expect(row?.finishedAt).toBe(events[2]?.occurredAt);
  });

  it("reads a build's view once while it projects the build's events, and stays right when another projector moved it (issue 9)", async () => {
    // Two projectors, as two replicas of the build service; the first one's view reads counted.
    const { aws: watched, calls } = watchedTestClients();
    const viewReads = () => calls.filter((c) => c.command === 'GetItem').length;
    const first = new BuildProjections(watched.dynamodb, projections.tables);
    const second = new BuildProjections(aws.dynamodb, projections.tables);
    try {
      const events = await makeBuild(T0 + 3, {}, 'succeeded');
      const [requested, started, succeeded] = events as [BuildEvent, BuildEvent, BuildEvent];
      const id = buildIdOf(requested);
      expect(await first.project(requested, store)).toBe('applied');
      expect(await first.project(requested, store)).toBe('skipped');
      expect(viewReads()).toBe(1);
      // The other projector takes v2; the first one's memory of the view (v1) is now stale.
      expect(await second.project(started, store)).toBe('applied');
      expect(await first.project(succeeded, store)).toBe('applied');
      expect(await projections.readView(id)).toMatchObject({ status: 'SUCCESS', lastVersion: 3 });
      // Its lost race was told by the conditional put, and the stored view read again once.
      expect(viewReads()).toBe(2);
      expect(await first.project(started, store)).toBe('skipped');
      expect(viewReads()).toBe(2);
    } finally {
      watched.destroy();
    }
  });

  it('writes the list row only for the events that change its summary (issue 9)', async () => {
    const { aws: watched, calls } = watchedTestClients();
    try {
      const own = new BuildProjections(watched.dynamodb, projections.tables);
      const [requested, started] = (await makeBuild(T0 + 4, {}, 'started')) as [BuildEvent, BuildEvent];
      const id = buildIdOf(requested);
      const facts = [
        newEvent({ type: 'artifact.published', data: { bucket: 'b', key: 'k', sha256: 'a'.repeat(64), sizeBytes: 1, prebuilt: false }, ...meta(id, T0 + 5) }),
        newEvent({ type: 'region.replicated', data: { region: 'us-east-1', bucket: 'b', key: 'k', sha256: 'a'.repeat(64), attempts: 1 }, ...meta(id, T0 + 6) }),
        newEvent({ type: 'region.synced', data: { region: 'us-east-1', hosts: 10, synced: 10, failed: 0, rounds: 4 }, ...meta(id, T0 + 7) }),
        newEvent({ type: 'build.succeeded', data: {}, ...meta(id, T0 + 8) }),
      ];
      await store.append(started.stream, facts, 2);
      const events = await readBuildEvents(store, started.stream);
      for (const event of events) expect(await own.project(event, store)).toBe('applied');
      // build.requested, build.started and build.succeeded: the three that change the summary.
      expect(calls.filter((c) => c.command === 'PutItem' && c.input.TableName === projections.tables.builds)).toHaveLength(3);
      const [row] = (await listBuilds(aws.dynamodb, projections.tables.builds, { door: 'http', key: `key-${id}` }, { limit: 1 })).builds;
      expect(row).toMatchObject({ status: 'SUCCESS', finishedAt: events[5]?.occurredAt });
    } finally {
      watched.destroy();
    }
  });

  it("takes one build's events in turn when a batch's handlers run them side by side: no lost race, no gap read (issue 9)", async () => {
    const { aws: watched, calls } = watchedTestClients();
    try {
      const own = new BuildProjections(watched.dynamodb, projections.tables);
      const [requested, started] = (await makeBuild(T0 + 9, {}, 'started')) as [BuildEvent, BuildEvent];
      const id = buildIdOf(requested);
      const regions = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
      await store.append(
        started.stream,
        regions.map((region) => newEvent({ type: 'region.replicated', data: { region, bucket: 'b', key: 'k', sha256: 'a'.repeat(64), attempts: 1 }, ...meta(id, T0 + 10) })),
        2,
      );
      const events = await readBuildEvents(store, started.stream);
      expect(await Promise.all(events.map((event) => own.project(event, store)))).toEqual(events.map(() => 'applied'));
      expect(await projections.readView(id)).toMatchObject({ lastVersion: 5 });
      // One view read (the first event's), no stream read for a gap, one view write per event.
      expect(calls.filter((c) => c.command === 'GetItem')).toHaveLength(1);
      expect(calls.filter((c) => c.command === 'Query')).toHaveLength(0);
    } finally {
      watched.destroy();
    }
  });

  it('never moves a list row back to an older version', async () => {
    const events = await makeBuild(T0 + 2, {}, 'succeeded');
    const id = buildIdOf(events[0] as BuildEvent);
    await projectAll(events);
    await projections.writeListRow(foldBuild(events.slice(0, 1)));
    const [row] = (await listBuilds(aws.dynamodb, projections.tables.builds, { door: 'http', key: `key-${id}` }, { limit: 1 })).builds;
    expect(row?.status).toBe('SUCCESS');
  });
});

describe('querying the list', () => {
  const repo = `list-${Date.now().toString(36)}`;
  const made: Array<{ id: string; at: number; env: string; status: string; door: string }> = [];
  const ids = (builds: Array<{ buildId: string }>) => builds.map((b) => b.buildId);
  const expected = (keep: (b: (typeof made)[number]) => boolean) =>
    made
      .filter(keep)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .map((b) => b.id);
  const list = (filter: BuildListFilter, limit = 100, cursor?: string) => listBuilds(aws.dynamodb, projections.tables.builds, filter, { limit, cursor });

  beforeAll(async () => {
    const plan: Array<[number, string, 'started' | 'succeeded' | 'failed' | undefined, 'http' | 'sns' | 's3']> = [];
    for (let i = 0; i < 12; i++) plan.push([T0 + 10 * HOUR + i * HOUR, i % 3 === 0 ? 'staging' : 'prod', (['succeeded', 'failed', 'started', undefined] as const)[i % 4], i % 2 ? 'sns' : 'http']);
    for (const [at, env, outcome, door] of plan) {
      const events = await makeBuild(at, { repo, env, source: { door, key: `k-${at}` } }, outcome);
      await projectAll(events);
      const status = outcome === 'succeeded' ? 'SUCCESS' : outcome === 'failed' ? 'FAILED' : outcome === 'started' ? 'IN_PROGRESS' : 'PENDING';
      made.push({ id: buildIdOf(events[0] as BuildEvent), at, env, status, door });
    }
  });

  it('lists a repo newest first', async () => {
    expect(ids((await list({ repo })).builds)).toEqual(expected(() => true));
  });

  it('filters by env, status and door, alone and together', async () => {
    expect(ids((await list({ repo, env: 'staging' })).builds)).toEqual(expected((b) => b.env === 'staging'));
    expect(ids((await list({ repo, status: 'FAILED' })).builds)).toEqual(expected((b) => b.status === 'FAILED'));
    expect(ids((await list({ repo, door: 'sns', env: 'prod' })).builds)).toEqual(expected((b) => b.door === 'sns' && b.env === 'prod'));
    // status alone is answered by its own index, across repos: bounded to this test's hours.
    const pending = ids((await list({ status: 'PENDING', since: new Date(T0 + 10 * HOUR), until: new Date(T0 + 22 * HOUR) })).builds);
    expect(pending).toEqual(expected((b) => b.status === 'PENDING'));
  });

  it('bounds by since and until on the build time', async () => {
    const since = new Date(T0 + 13 * HOUR);
    const until = new Date(T0 + 16 * HOUR);
    expect(ids((await list({ repo, since, until })).builds)).toEqual(expected((b) => b.at >= since.getTime() && b.at <= until.getTime()));
  });

  it('looks one build up by its door and key', async () => {
    const target = made[5]!;
    expect(ids((await list({ door: target.door as 'sns', key: `k-${target.at}` })).builds)).toEqual([target.id]);
    expect((await list({ door: 'http', key: 'no-such-key' })).builds).toEqual([]);
  });

  it('pages with an opaque cursor until the end, without repeats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list({ repo, env: 'prod' }, 3, cursor);
      seen.push(...ids(page.builds));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(expected((b) => b.env === 'prod'));
    expect(pages).toBe(3);
    // Every page, as workers read them.
    const all: string[] = [];
    for await (const build of allBuilds(aws.dynamodb, projections.tables.builds, { repo, env: 'prod' })) all.push(build.buildId);
    expect(all).toEqual(seen);
  });

  it('refuses a cursor from other filters, a made-up cursor, and a key without its door', async () => {
    const first = await list({ repo }, 2);
    expect(first.nextCursor).toBeDefined();
    await expect(list({ repo, env: 'prod' }, 2, first.nextCursor)).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(list({ repo }, 2, 'bm90LWEtY3Vyc29y')).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(list({ key: 'k' })).rejects.toBeInstanceOf(InvalidListFilterError);
    await expect(list({ since: new Date(T0 + HOUR), until: new Date(T0) })).rejects.toBeInstanceOf(InvalidListFilterError);
  });
});
