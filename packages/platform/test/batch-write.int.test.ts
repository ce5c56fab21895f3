/**
 * batchPut against the emulator: every item of a generator written once, and the generator pulled
 * only as request slots free up, so no more than `concurrency` requests of 25 items are ever held
 * (review H6: the whole region was built and marshalled before the first write).
 */
import { CreateTableCommand, DeleteTableCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BATCH_WRITE_MAX, batchPut, RequestSlots } from '@flotilla/platform';
import { testAwsClients, uniquePrefix } from '@flotilla/platform/testing';

const aws = testAwsClients();
const table = `${uniquePrefix('batch-write')}-items`;

beforeAll(async () => {
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
});
afterAll(async () => {
  await aws.dynamodb.send(new DeleteTableCommand({ TableName: table }));
  aws.destroy();
});

it('writes every item of a generator once, pulling no further ahead of the writes than its request window', async () => {
  const total = 1_000;
  const concurrency = 3;
  let pulled = 0;
  let written = 0;
  let furthestAhead = 0;
  function* items() {
    for (let i = 0; i < total; i++) {
      pulled++;
      furthestAhead = Math.max(furthestAhead, pulled - written);
      yield { pk: 'window', sk: String(i).padStart(4, '0'), n: i };
    }
  }
  await batchPut(aws.dynamodb, table, items(), { concurrency, onProgress: (n) => (written = n) });
  expect(written).toBe(total);
  expect(furthestAhead).toBeLessThanOrEqual(concurrency * BATCH_WRITE_MAX);
  // It did fill its window: the requests were in flight together, not one at a time.
  expect(furthestAhead).toBeGreaterThan(BATCH_WRITE_MAX);
  const out = await aws.dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'window' } }, Select: 'COUNT' }));
  expect(out.Count).toBe(total);
});

it('stops pulling once a write fails, and closes the generator', async () => {
  let pulled = 0;
  let closed = false;
  function* items() {
    try {
      for (let i = 0; ; i++) {
        pulled++;
        // An item over DynamoDB's 400 KB limit: its request is refused, not retried.
        yield i === 60 ? { pk: 'fail', sk: String(i), blob: 'x'.repeat(500_000) } : { pk: 'fail', sk: String(i) };
      }
    } finally {
      closed = true;
    }
  }
  await expect(batchPut(aws.dynamodb, table, items(), { concurrency: 2, deadlineMs: 2_000 })).rejects.toThrow();
  expect(closed).toBe(true);
  expect(pulled).toBeLessThan(200);
});

it('shares request slots between writers: two writers of 4 lanes each, 2 slots, never more than 2 requests in flight', async () => {
  const counted = testAwsClients();
  let inFlight = 0;
  let most = 0;
  counted.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchWriteItemCommand') return next(args);
      most = Math.max(most, ++inFlight);
      try {
        return await next(args);
      } finally {
        inFlight--;
      }
    },
    { step: 'initialize', name: 'countInFlight' },
  );
  const slots = new RequestSlots(2);
  const items = (pk: string) => Array.from({ length: 300 }, (_, i) => ({ pk, sk: String(i) }));
  try {
    await Promise.all([batchPut(counted.dynamodb, table, items('slots-a'), { concurrency: 4, slots }), batchPut(counted.dynamodb, table, items('slots-b'), { concurrency: 4, slots })]);
  } finally {
    counted.destroy();
  }
  expect(most).toBe(2);
  for (const pk of ['slots-a', 'slots-b']) {
    const out = await aws.dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, Select: 'COUNT' }));
    expect(out.Count, pk).toBe(300);
  }
});
