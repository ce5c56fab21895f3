/**
 * Replay against the emulator: projections kept live (the projector's path, counters from host
 * records) rebuild into fresh tables with 0 differences; then, for every kind of projection, a
 * row the test deletes, one it changes and one it adds are each reported. Gaps in the global read
 * are filled from the streams.
 */
import { DeleteItemCommand, DeleteTableCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, createEventId, newEvent, type PendingEvent } from '@flotilla/events';
import {
  batchPut,
  BuildProjections,
  countChanges,
  countersKey,
  EventStore,
  hostPartition,
  readBuildEvents,
  Records,
  replay,
  resourceNames,
  viewKey,
  type ReplayProgress,
  type ResourceNames,
} from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
let stack: TestStack;
let names: ResourceNames;
let store: EventStore;
let projections: BuildProjections;
const buildIds: string[] = [];

/** A build through the live paths: events appended and projected, host records and their counters. */
async function liveBuild(i: number): Promise<string> {
  const buildId = createEventId();
  const meta = { correlationId: buildId, causationId: 'test' };
  const regions = ['us-east-1', 'eu-west-1'];
  const events: PendingEvent[] = [
    newEvent({
      type: 'build.requested',
      data: { buildId, repo: 'replay-repo', env: 'prod', version: `1.0.${i}`, branch: 'main', commit: 'abc1234', regions, hostsPerRegion: 3, source: { door: 'sns', key: `req-${i}` } },
      ...meta,
    }),
    newEvent({ type: 'build.started', data: { executionArn: `arn:aws:states:us-east-1:000000000000:execution:deploy:${buildId}` }, ...meta }),
    ...regions.map((region) => newEvent({ type: 'region.synced', data: { region, hosts: 3, synced: 3, failed: 0, rounds: 2 }, ...meta })),
    newEvent({ type: i % 2 ? 'build.succeeded' : 'build.failed', data: i % 2 ? {} : { reason: 'sync failed', failedRegions: [] }, ...meta }),
  ];
  await store.append(buildStream(buildId), events, 0);
  for (const event of await readBuildEvents(store, buildStream(buildId))) await projections.project(event, store);
  const counters = new Records(aws.dynamodb, names.tables.projections);
  for (const region of regions) {
    const hosts = ['h1', 'h2', 'h3'].map((host, n) => ({ pk: hostPartition(buildId, region), sk: host, buildId, region, status: n === 2 && i % 2 === 0 ? 'failed' : 'synced' }));
    await batchPut(aws.dynamodb, names.tables.hosts, hosts);
    // As the live counter reader commits them: the stream's inserts, counted.
    for (const { add } of countChanges(hosts.map((h) => ({ eventName: 'INSERT', newImage: h }))).values()) {
      await counters.update(countersKey(buildId, region), { set: { buildId, region }, add });
    }
  }
  return buildId;
}

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('replay'));
  names = resourceNames(stack.prefix);
  store = new EventStore(aws.dynamodb, names.tables.events);
  projections = new BuildProjections(aws.dynamodb, names.tables);
  for (let i = 0; i < 6; i++) buildIds.push(await liveBuild(i));
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('replay', () => {
  it('rebuilds every projection into fresh tables with 0 differences, reporting progress, and drops the tables', async () => {
    const phases = new Set<string>();
    const report = await replay({ db: aws.dynamodb, store, names, onProgress: (p: ReplayProgress) => phases.add(p.phase) });
    expect(report.differences).toEqual([]);
    expect(report.unreadable).toEqual([]);
    expect(report.eventsRead).toBe(6 * 5);
    expect(report.builds).toBe(6);
    expect(report.eventsPerSecond).toBeGreaterThan(0);
    expect([...phases]).toEqual(['reading the log', 'checking stream heads', 'recounting hosts', 'writing fresh tables', 'comparing']);
    await expect(aws.dynamodb.send(new DescribeTableCommand({ TableName: report.tables.builds }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('applies an event the global read cannot show, filed under a skewed clock day, from its stream', async () => {
    const buildId = createEventId();
    const meta = { correlationId: buildId, causationId: 'test' };
    const requested = newEvent({
      type: 'build.requested',
      data: { buildId, repo: 'skew', env: 'prod', version: '1', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 1, source: { door: 'http', key: 'skew' } },
      ...meta,
    });
    // Its id (and so its global-order day) says February: a replay reading from yesterday never sees it.
    const started = newEvent({ type: 'build.started', data: { executionArn: `arn:aws:states:us-east-1:000000000000:execution:deploy:${buildId}` }, ...meta });
    const skewed = { ...started, id: ulid(Date.parse('2026-02-01T00:00:00Z')) };
    await store.append(buildStream(buildId), [requested, skewed], 0);
    for (const event of await readBuildEvents(store, buildStream(buildId))) await projections.project(event, store);
    const report = await replay({ db: aws.dynamodb, store, names, since: new Date(Date.now() - 86_400_000) });
    expect(report.eventsFilled).toBe(1);
    expect(report.differences).toEqual([]);
  });

  it('reports a deleted, a changed and an extra row of every kind of projection', async () => {
    const [a, b] = buildIds as [string, string];
    const extraId = createEventId();
    const db = aws.dynamodb;
    const P = names.tables.projections;
    const B = names.tables.builds;
    // build view: delete a's, change b's, add one for a build the log has never seen.
    await db.send(new DeleteItemCommand({ TableName: P, Key: marshall(viewKey(a)) }));
    await db.send(new UpdateItemCommand({ TableName: P, Key: marshall(viewKey(b)), UpdateExpression: 'SET #s.#st = :x', ExpressionAttributeNames: { '#s': 'state', '#st': 'status' }, ExpressionAttributeValues: marshall({ ':x': 'PENDING' }) }));
    await db.send(new PutItemCommand({ TableName: P, Item: marshall({ ...viewKey(extraId), version: 1, state: { status: 'PENDING' } }) }));
    // build list
    await db.send(new DeleteItemCommand({ TableName: B, Key: marshall({ buildId: a }) }));
    await db.send(new UpdateItemCommand({ TableName: B, Key: marshall({ buildId: b }), UpdateExpression: 'SET repo = :r', ExpressionAttributeValues: marshall({ ':r': 'tampered' }) }));
    await db.send(new PutItemCommand({ TableName: B, Item: marshall({ buildId: extraId, listed: 'build', status: 'PENDING' }) }));
    // host counters
    await db.send(new DeleteItemCommand({ TableName: P, Key: marshall(countersKey(a, 'us-east-1')) }));
    await db.send(new UpdateItemCommand({ TableName: P, Key: marshall(countersKey(b, 'eu-west-1')), UpdateExpression: 'ADD synced :one', ExpressionAttributeValues: marshall({ ':one': 1 }) }));
    await db.send(new PutItemCommand({ TableName: P, Item: marshall({ ...countersKey(extraId, 'us-east-1'), buildId: extraId, region: 'us-east-1', hosts: 5 }) }));

    const report = await replay({ db, store, names, keep: true });
    const summary = report.differences.map((d) => `${d.kind} ${d.key} ${d.change}${d.fields ? ` ${d.fields.map((f) => f.field).join(',')}` : ''}`).sort();
    expect(summary).toEqual(
      [
        `build view ${a} missing`,
        `build view ${b} changed state`,
        `build view ${extraId} extra`,
        `build list ${a} missing`,
        `build list ${b} changed repo`,
        `build list ${extraId} extra`,
        `host counters ${a} us-east-1 missing`,
        `host counters ${b} eu-west-1 changed synced`,
        `host counters ${extraId} us-east-1 extra`,
      ].sort(),
    );
    const changed = report.differences.find((d) => d.kind === 'host counters' && d.change === 'changed');
    expect(changed?.fields).toEqual([{ field: 'synced', live: 4, rebuilt: 3 }]);
    // Kept on request: the rebuilt list holds a's row as the log makes it.
    const kept = await db.send(new GetItemCommand({ TableName: report.tables.builds, Key: marshall({ buildId: a }), ConsistentRead: true }));
    expect(kept.Item ? unmarshall(kept.Item) : undefined).toMatchObject({ buildId: a, repo: 'replay-repo', status: 'FAILED', door: 'sns', key: 'req-0' });
    for (const TableName of Object.values(report.tables)) await db.send(new DeleteTableCommand({ TableName }));
  });
});
