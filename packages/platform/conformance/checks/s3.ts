import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { AwsClients } from '../../src/aws.ts';
import { errorName, expectThat, gap, row, type NameFor, type Row } from '../rows.ts';
import { allowSender, collect, createQueue, deleteQueues, receive, type TestQueue } from './queues.ts';

const AREA = 'S3';

interface S3Event {
  Event?: string;
  Records?: Array<{ eventName: string; s3: { bucket: { name: string }; object: { key: string; eTag?: string } } }>;
}

export async function s3Checks(aws: AwsClients, bucketName: NameFor): Promise<Row[]> {
  const { s3, sqs } = aws;
  const buckets: string[] = [];
  const queues: TestQueue[] = [];
  const bucket = async (label: string) => {
    const name = bucketName(label);
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    buckets.push(name);
    return name;
  };
  /** A bucket notifying a fresh queue of ObjectCreated under incoming/ ending .zip. */
  const notifying = async (label: string) => {
    const name = await bucket(label);
    // The queue takes the bucket's name: another namespace, and it says which bucket feeds it.
    const queue = await createQueue(sqs, name);
    queues.push(queue);
    await allowSender(sqs, queue, 's3.amazonaws.com', `arn:aws:s3:::${name}`);
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: name,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: queue.arn,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }, { Name: 'suffix', Value: '.zip' }] } },
            },
          ],
        },
      }),
    );
    return { name, queue };
  };
  const put = (b: string, key: string, metadata: Record<string, string> = {}) => s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: `body of ${key}`, Metadata: metadata }));
  const parse = (body: string | undefined) => JSON.parse(body ?? '{}') as S3Event;

  try {
    return await Promise.all([
      row(AREA, 'PutObject and HeadObject with user metadata', async () => {
        const b = await bucket('meta');
        await put(b, 'incoming/a.zip', { sha256: 'f'.repeat(64), regions: 'us-east-1,eu-west-1' });
        const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'incoming/a.zip' }));
        expectThat(head.Metadata?.sha256 === 'f'.repeat(64) && head.Metadata.regions === 'us-east-1,eu-west-1', `metadata ${JSON.stringify(head.Metadata)}`);
        expectThat(head.ContentLength === 'body of incoming/a.zip'.length, `length ${head.ContentLength}`);
        return 'HeadObject returns the object length and its x-amz-meta-* metadata';
      }),
      row(AREA, 'CopyObject between buckets', async () => {
        const from = await bucket('copy-from');
        const to = await bucket('copy-to');
        const source = await put(from, 'artifacts/x.zip', { sha256: 'a'.repeat(64) });
        await s3.send(new CopyObjectCommand({ Bucket: to, Key: 'artifacts/x.zip', CopySource: `${from}/artifacts/x.zip` }));
        const head = await s3.send(new HeadObjectCommand({ Bucket: to, Key: 'artifacts/x.zip' }));
        expectThat(head.ETag === source.ETag, `ETag ${head.ETag} != ${source.ETag}`);
        expectThat(head.Metadata?.sha256 === 'a'.repeat(64), 'metadata not copied');
        return 'the copy has the source ETag and metadata';
      }),
      row(AREA, 'configuring notifications sends s3:TestEvent', async () => {
        const { name, queue } = await notifying('testevent');
        const [m] = await collect(sqs, queue.url, 1, 5_000);
        const event = parse(m?.Body) as S3Event & { Bucket?: string };
        expectThat(event.Event === 's3:TestEvent' && event.Bucket === name, `first message ${m?.Body}`);
        return 'the queue receives {"Event":"s3:TestEvent","Bucket":<bucket>,...} as soon as the configuration is put';
      }),
      row(AREA, 'ObjectCreated notification filtered by prefix and suffix', async () => {
        const { name, queue } = await notifying('filtered');
        await collect(sqs, queue.url, 1, 5_000); // the s3:TestEvent
        await put(name, 'artifacts/a.zip');
        await put(name, 'incoming/b.txt');
        await put(name, 'incoming/repo/prod/1.0.zip');
        const got = await collect(sqs, queue.url, 1, 5_000);
        const extra = await receive(sqs, queue.url, 2);
        const keys = [...got, ...extra].flatMap((m) => parse(m.Body).Records?.map((r) => `${r.eventName} ${r.s3.object.key}`) ?? []);
        expectThat(keys.length === 1 && keys[0] === 'ObjectCreated:Put incoming/repo/prod/1.0.zip', `notified ${JSON.stringify(keys)}`);
        return 'of artifacts/a.zip, incoming/b.txt and incoming/repo/prod/1.0.zip only the last notified; nothing else within a further 2 s long poll';
      }),
      gap(
        AREA,
        'event keys arrive unencoded',
        'HeadObject the key as received first and URL-decode it (+ as space) only when that finds nothing (services/orchestrator/src/handlers/upload.ts); never decode blindly',
        async () => {
          const { name, queue } = await notifying('encoding');
          await collect(sqs, queue.url, 1, 5_000); // the s3:TestEvent
          // AWS would send incoming/my+app/1.0.zip and incoming/c%2B%2B/1.0.zip.
          const stored = ['incoming/my app/1.0.zip', 'incoming/c++/1.0.zip'];
          for (const key of stored) await put(name, key);
          const got = await collect(sqs, queue.url, 2, 5_000);
          const keys = got.flatMap((m) => parse(m.Body).Records?.map((r) => r.s3.object.key) ?? []).sort();
          expectThat(JSON.stringify(keys) === JSON.stringify([...stored].sort()), `keys arrived as ${JSON.stringify(keys)} (AWS URL-encodes them): update this row`);
          // The workaround's order matters: as received works for both, a blind decode breaks the '+' key.
          for (const key of keys) await s3.send(new HeadObjectCommand({ Bucket: name, Key: key }));
          const blind = await errorName(s3.send(new HeadObjectCommand({ Bucket: name, Key: decodeURIComponent('incoming/c++/1.0.zip'.replace(/\+/g, ' ')) })));
          expectThat(blind === 'NotFound', `HeadObject of the blindly decoded key answered ${blind}`);
          return 'keys arrive as stored ("incoming/my app/1.0.zip", "incoming/c++/1.0.zip"), not URL-encoded; HeadObject with the key as received finds both, while a blind decode (+ as space) of "incoming/c++/1.0.zip" answers NotFound';
        },
      ),
    ]);
  } finally {
    await deleteQueues(sqs, queues);
    for (const b of buckets) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: b })).catch(() => undefined);
      await Promise.allSettled((listed?.Contents ?? []).map((o) => s3.send(new DeleteObjectCommand({ Bucket: b, Key: o.Key }))));
      await s3.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
    }
  }
}
