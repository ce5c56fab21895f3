/**
 * Two host-counter readers over one stream (an ECS rolling deploy runs the old and the new task
 * side by side): each batch's increments are committed by one of them only, so the counts are
 * exact (review M1). The checkpoint is conditional on the one the batch was read after.
 */
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEventId } from '@flotilla/events';
import { countersKey, createLogger, hostPartition, MAX_GET_RECORDS, Records, resourceNames, StreamReader } from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { countersHandler } from '../src/handlers/counters.ts';

const aws = testAwsClients();
let stack: TestStack;
let names: ReturnType<typeof resourceNames>;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('counters'));
  names = resourceNames(stack.prefix);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

it('two readers of one stream count every host exactly once', async () => {
  const buildId = createEventId();
  const region = 'us-east-1';
  const hosts = 300;
  for (let i = 0; i < hosts; i += 25) {
    const items = Array.from({ length: Math.min(25, hosts - i) }, (_, j) => ({
      PutRequest: { Item: { pk: { S: hostPartition(buildId, region) }, sk: { S: `host-${i + j}` }, buildId: { S: buildId }, region: { S: region }, status: { S: 'synced' } } },
    }));
    await aws.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [names.tables.hosts]: items } }));
  }
  const counters = new Records(aws.dynamodb, names.tables.projections);
  const reader = () =>
    new StreamReader({
      name: 'host-counters',
      db: aws.dynamodb,
      streams: aws.streams,
      tableName: names.tables.hosts,
      checkpointTable: names.tables.checkpoints,
      logger: createLogger('counters-test', 'silent'),
      handle: countersHandler(counters),
      batchSize: 10,
    });
  await Promise.all([reader().drainOnce(), reader().drainOnce()]);
  expect(await counters.get(countersKey(buildId, region))).toMatchObject({ hosts, synced: hosts });
});

it('reads up to 1,000 records at once, and commits a read of more than 99 builds and regions in parts, counting each host once', async () => {
  // 130 builds x 1 region x 3 hosts: 390 records, 130 counter rows; one transaction holds 99 of them and the checkpoint.
  const builds = Array.from({ length: 130 }, () => createEventId());
  const region = 'eu-west-1';
  const items = builds.flatMap((buildId) =>
    [1, 2, 3].map((h) => ({ PutRequest: { Item: { pk: { S: hostPartition(buildId, region) }, sk: { S: `host-${h}` }, buildId: { S: buildId }, region: { S: region }, status: { S: h === 3 ? 'failed' : 'synced' } } } })),
  );
  for (let i = 0; i < items.length; i += 25) await aws.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [names.tables.hosts]: items.slice(i, i + 25) } }));
  const counters = new Records(aws.dynamodb, names.tables.projections);
  const handle = countersHandler(counters);
  const batchSizes: number[] = [];
  const reader = new StreamReader({
    name: 'host-counters-wide',
    db: aws.dynamodb,
    streams: aws.streams,
    tableName: names.tables.hosts,
    checkpointTable: names.tables.checkpoints,
    logger: createLogger('counters-test', 'silent'),
    handle: (batch) => {
      batchSizes.push(batch.records.length);
      return handle(batch);
    },
    batchSize: MAX_GET_RECORDS,
  });
  await reader.drainOnce();
  // The first read took more than 99 records: the read size is not held to the transaction's.
  expect(Math.max(...batchSizes)).toBeGreaterThan(99);
  const rows = await Promise.all(builds.map((buildId) => counters.get(countersKey(buildId, region))));
  for (const row of rows) expect(row).toMatchObject({ hosts: 3, synced: 2, failed: 1 });
});
