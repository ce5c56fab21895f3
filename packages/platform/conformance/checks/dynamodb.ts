import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type KeySchemaElement,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, ListStreamsCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import type { AwsClients } from '../../src/aws.ts';
import { errorName, expectThat, gap, row, type NameFor, type Row } from '../rows.ts';

const AREA = 'DynamoDB';
const STREAMS = 'DynamoDB Streams';

export async function dynamodbChecks(aws: AwsClients, tableName: NameFor): Promise<Row[]> {
  const { dynamodb: db, streams } = aws;
  const tables: string[] = [];
  const table = async (label: string, options: { stream?: StreamViewType; gsi?: boolean } = {}) => {
    const name = tableName(label);
    const keys: KeySchemaElement[] = [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ];
    const out = await db.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: keys,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          ...(options.gsi ? [{ AttributeName: 'bucket', AttributeType: 'S' as const }, { AttributeName: 'id', AttributeType: 'S' as const }] : []),
        ],
        ...(options.gsi
          ? {
              GlobalSecondaryIndexes: [
                {
                  IndexName: 'by-bucket',
                  KeySchema: [
                    { AttributeName: 'bucket', KeyType: 'HASH' },
                    { AttributeName: 'id', KeyType: 'RANGE' },
                  ],
                  Projection: { ProjectionType: 'ALL' },
                },
              ],
            }
          : {}),
        ...(options.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: options.stream } } : {}),
      }),
    );
    tables.push(name);
    return { name, streamArn: out.TableDescription?.LatestStreamArn ?? '' };
  };
  const key = (pk: string, sk = '-') => ({ pk: { S: pk }, sk: { S: sk } });
  const put = (t: string, pk: string, sk = '-', extra: Record<string, { S: string }> = {}) => db.send(new PutItemCommand({ TableName: t, Item: { ...key(pk, sk), ...extra } }));

  const records = async (streamArn: string, type: 'TRIM_HORIZON' | 'AFTER_SEQUENCE_NUMBER', sequenceNumber?: string): Promise<_Record[]> => {
    const desc = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = desc.StreamDescription?.Shards?.[0]?.ShardId;
    const it = await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: type, ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}) }));
    const out = await streams.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
    return out.Records ?? [];
  };

  try {
    return await Promise.all([
      row(AREA, 'conditional put (attribute_not_exists)', async () => {
        const { name } = await table('cond');
        const condPut = () => db.send(new PutItemCommand({ TableName: name, Item: key('a'), ConditionExpression: 'attribute_not_exists(pk)' }));
        await condPut();
        const second = await condPut().catch((e: unknown) => e);
        expectThat(second instanceof ConditionalCheckFailedException, `second put answered ${(second as Error)?.name ?? 'success'}`);
        return 'the second put of the same key fails with ConditionalCheckFailedException';
      }),
      row(AREA, 'UpdateItem with ADD', async () => {
        const { name } = await table('add');
        for (const n of [2, 3]) {
          await db.send(new UpdateItemCommand({ TableName: name, Key: key('c'), UpdateExpression: 'ADD synced :n', ExpressionAttributeValues: { ':n': { N: String(n) } } }));
        }
        const item = await db.send(new GetItemCommand({ TableName: name, Key: key('c'), ConsistentRead: true }));
        expectThat(item.Item?.synced?.N === '5', `counter is ${item.Item?.synced?.N}`);
        return 'ADD 2 then ADD 3 on a missing attribute gives 5';
      }),
      row(AREA, 'TransactWriteItems is all or nothing', async () => {
        const { name } = await table('tx');
        await put(name, 'taken');
        const error = await db
          .send(
            new TransactWriteItemsCommand({
              TransactItems: [
                { Put: { TableName: name, Item: key('fresh') } },
                { Put: { TableName: name, Item: key('taken'), ConditionExpression: 'attribute_not_exists(pk)' } },
              ],
            }),
          )
          .catch((e: unknown) => e);
        expectThat(error instanceof TransactionCanceledException, `answered ${(error as Error)?.name ?? 'success'}`);
        const reasons = error.CancellationReasons?.map((r) => r.Code);
        expectThat(reasons?.[1] === 'ConditionalCheckFailed', `reasons ${JSON.stringify(reasons)}`);
        const fresh = await db.send(new GetItemCommand({ TableName: name, Key: key('fresh'), ConsistentRead: true }));
        expectThat(!fresh.Item, 'the other put of the cancelled transaction was written');
        return `a failing condition cancels the whole transaction: TransactionCanceledException with reasons ${JSON.stringify(reasons)}, nothing written`;
      }),
      row(AREA, 'Query on a global secondary index', async () => {
        const { name } = await table('gsi', { gsi: true });
        await Promise.all(['03', '01', '02'].map((id) => put(name, `s${id}`, '1', { bucket: { S: '2026-11-22' }, id: { S: id } })));
        const out = await db.send(new QueryCommand({ TableName: name, IndexName: 'by-bucket', KeyConditionExpression: '#b = :b', ExpressionAttributeNames: { '#b': 'bucket' }, ExpressionAttributeValues: { ':b': { S: '2026-11-22' } } }));
        const ids = out.Items?.map((i) => i.id?.S);
        expectThat(JSON.stringify(ids) === '["01","02","03"]', `ids ${JSON.stringify(ids)}`);
        return 'items come back from the index in sort-key order';
      }),
      row(AREA, 'BatchWriteItem of 25 items', async () => {
        const { name } = await table('batch');
        const out = await db.send(new BatchWriteItemCommand({ RequestItems: { [name]: Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: key('host', String(i).padStart(2, '0')) } })) } }));
        const unprocessed = Object.values(out.UnprocessedItems ?? {}).flat().length;
        const stored = await db.send(new QueryCommand({ TableName: name, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'host' } }, Select: 'COUNT' }));
        expectThat(stored.Count === 25, `${stored.Count} stored, ${unprocessed} unprocessed`);
        return `25 written in one request, ${unprocessed} unprocessed`;
      }),
      row(STREAMS, 'ListStreams and DescribeStream', async () => {
        const { name, streamArn } = await table('list', { stream: 'NEW_IMAGE' });
        const listed = await streams.send(new ListStreamsCommand({ TableName: name }));
        expectThat(listed.Streams?.length === 1 && listed.Streams[0]?.StreamArn === streamArn, `listed ${JSON.stringify(listed.Streams)}`);
        const desc = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
        expectThat(desc.StreamDescription?.StreamViewType === 'NEW_IMAGE' && (desc.StreamDescription.Shards?.length ?? 0) >= 1, 'no shard described');
        return `one stream listed for the table; DescribeStream shows view type NEW_IMAGE and ${desc.StreamDescription?.Shards?.length} shard(s)`;
      }),
      gap(STREAMS, 'a single shard that never closes', 'parent-before-child shard order is proven by unit tests of the pure shard planner (packages/platform/src/shard-planner.ts)', async () => {
        const { name, streamArn } = await table('shards', { stream: 'NEW_IMAGE' });
        await Promise.all(Array.from({ length: 50 }, (_, i) => put(name, `k${i}`)));
        const desc = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
        const shards = desc.StreamDescription?.Shards ?? [];
        expectThat(shards.length === 1, `${shards.length} shards: the stream now splits, test the reader against it`);
        expectThat(!shards[0]?.SequenceNumberRange?.EndingSequenceNumber && !shards[0]?.ParentShardId, 'the shard closed or has a parent');
        return 'after 50 writes the stream still has one shard, with no parent and no ending sequence number';
      }),
      row(STREAMS, 'GetShardIterator TRIM_HORIZON and GetRecords with NEW_IMAGE', async () => {
        const { name, streamArn } = await table('trim', { stream: 'NEW_IMAGE' });
        for (const pk of ['first', 'second', 'third']) await put(name, pk, '-', { note: { S: pk } });
        const got = await records(streamArn, 'TRIM_HORIZON');
        expectThat(JSON.stringify(got.map((r) => r.dynamodb?.NewImage?.note?.S)) === '["first","second","third"]', `got ${JSON.stringify(got.map((r) => r.dynamodb?.NewImage))}`);
        expectThat(got.every((r) => r.eventName === 'INSERT' && !r.dynamodb?.OldImage), 'unexpected event names or old images');
        return '3 INSERT records in write order, each with its NewImage and no OldImage';
      }),
      row(STREAMS, 'GetShardIterator AFTER_SEQUENCE_NUMBER', async () => {
        const { name, streamArn } = await table('after', { stream: 'NEW_IMAGE' });
        for (const pk of ['first', 'second', 'third']) await put(name, pk);
        const all = await records(streamArn, 'TRIM_HORIZON');
        const after = await records(streamArn, 'AFTER_SEQUENCE_NUMBER', all[0]?.dynamodb?.SequenceNumber);
        expectThat(JSON.stringify(after.map((r) => r.dynamodb?.Keys?.pk?.S)) === '["second","third"]', `got ${JSON.stringify(after.map((r) => r.dynamodb?.Keys))}`);
        return 'reading after the first record\'s sequence number returns the second and third';
      }),
      row(STREAMS, 'GetShardIterator with an unknown sequence number', async () => {
        const { name, streamArn } = await table('unknown', { stream: 'NEW_IMAGE' });
        await put(name, 'x');
        const desc = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
        const answer = await errorName(
          streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: desc.StreamDescription?.Shards?.[0]?.ShardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: '99999999999999999999999' })),
        );
        expectThat(answer === UNKNOWN_SEQUENCE_ANSWER, `answered ${answer}`);
        return `answers ${answer} (as AWS does for a trimmed record); the stream reader then starts again from TRIM_HORIZON, its handlers being idempotent`;
      }),
      row(STREAMS, 'GetRecords with NEW_AND_OLD_IMAGES', async () => {
        const { name, streamArn } = await table('both', { stream: 'NEW_AND_OLD_IMAGES' });
        await put(name, 'host-1', '-', { status: { S: 'pending' } });
        await put(name, 'host-1', '-', { status: { S: 'synced' } });
        const got = await records(streamArn, 'TRIM_HORIZON');
        const modify = got.find((r) => r.eventName === 'MODIFY');
        expectThat(modify?.dynamodb?.OldImage?.status?.S === 'pending' && modify.dynamodb.NewImage?.status?.S === 'synced', `records ${JSON.stringify(got.map((r) => [r.eventName, r.dynamodb?.OldImage, r.dynamodb?.NewImage]))}`);
        return 'an overwrite arrives as MODIFY with OldImage (pending) and NewImage (synced)';
      }),
    ]);
  } finally {
    await Promise.allSettled(tables.map((t) => db.send(new DeleteTableCommand({ TableName: t }))));
  }
}

/** What the emulator answers for a sequence number it never issued (recorded by this check). */
export const UNKNOWN_SEQUENCE_ANSWER = 'TrimmedDataAccessException';
