/**
 * A replication task run twice (a worker took it over from one that died mid-task, review H1, or
 * Step Functions retried it) copies again but records its fact once: one region.replicated.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, duplicateFacts } from '@flotilla/events';
import { createLogger, EventStore, IdempotencyStore, putObject, readBuildEvents, Records, requestBuild, resourceNames } from '@flotilla/platform';
import { deployTestStack, sampleBuildRequest, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { replicateTask } from '../src/handlers/replicate.ts';

const aws = testAwsClients();
const tracking = (buildId: string) => ({ pk: `build#${buildId}`, sk: 'region#us-east-1' });
let stack: TestStack;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('replicate'));
});
afterAll(async () => {
  await stack?.destroy();
  aws.destroy();
});

describe('replicateTask', () => {
  it('records region.replicated once when the same task runs twice', async () => {
    const names = resourceNames(stack.prefix);
    const store = new EventStore(aws.dynamodb, names.tables.events);
    const { buildId } = await requestBuild(
      { store, idempotency: new IdempotencyStore(aws.dynamodb, names.tables.idempotency) },
      { door: 'http', key: `replicate-${Date.now()}`, request: sampleBuildRequest({ regions: ['us-east-1'] }) },
    );
    const bytes = Buffer.from('artifact bytes');
    const key = `artifacts/test/${buildId}.zip`;
    await putObject(aws.s3, names.globalBucket, key, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const copies = new Records(aws.dynamodb, names.tables.fileCopies);
    const work = replicateTask({
      aws,
      store,
      copies,
      regionBucket: (region) => names.regionBucket(region),
      failRegions: [],
    });
    const task = { region: 'us-east-1', buildId, stream: buildStream(buildId), correlationId: buildId, artifact: { bucket: names.globalBucket, key, sha256 } };
    const ctx = { logger: createLogger('replicate-test', 'silent'), taskId: 'task-hash', receiveCount: 1, signal: new AbortController().signal };

    expect((await work(task, ctx)).ok).toBe(true);
    expect((await work(task, { ...ctx, receiveCount: 2 })).ok).toBe(true);

    const events = await readBuildEvents(store, buildStream(buildId));
    expect(events.filter((e) => e.type === 'region.replicated')).toHaveLength(1);
    expect(duplicateFacts(events)).toEqual([]);
    // The copy's tracking row counts both runs, read from the update itself (no second read).
    expect(await copies.get(tracking(buildId))).toMatchObject({ attempts: 2, outcome: 'SUCCEEDED' });
    const region = events.find((e) => e.type === 'region.replicated');
    expect(region?.type === 'region.replicated' && region.data.attempts).toBe(1);
  });
});
