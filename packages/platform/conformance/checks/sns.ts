import { CreateTopicCommand, DeleteTopicCommand, PublishCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import type { AwsClients } from '../../src/aws.ts';
import { expectThat, gap, row, type NameFor, type Row } from '../rows.ts';
import { allowSender, collect, createQueue, deleteQueues, receive, type TestQueue } from './queues.ts';

const AREA = 'SNS';

export async function snsChecks(aws: AwsClients, name: NameFor): Promise<Row[]> {
  const { sns, sqs } = aws;
  const queues: TestQueue[] = [];
  const topics: string[] = [];
  /** A topic with one queue subscribed with `attributes`. */
  const wire = async (label: string, attributes: Record<string, string>) => {
    // Topic and queue share the physical name: they live in different namespaces.
    const physical = name(label);
    const topic = (await sns.send(new CreateTopicCommand({ Name: physical }))).TopicArn ?? '';
    topics.push(topic);
    const queue = await createQueue(sqs, physical);
    queues.push(queue);
    await allowSender(sqs, queue, 'sns.amazonaws.com', topic);
    await sns.send(new SubscribeCommand({ TopicArn: topic, Protocol: 'sqs', Endpoint: queue.arn, Attributes: attributes }));
    return { topic, queue };
  };
  const publish = (topic: string, message: string, type?: string) =>
    sns.send(new PublishCommand({ TopicArn: topic, Message: message, ...(type ? { MessageAttributes: { type: { DataType: 'String', StringValue: type } } } : {}) }));

  try {
    return await Promise.all([
      row(AREA, 'delivers to an SQS subscription (SNS envelope)', async () => {
        const { topic, queue } = await wire('envelope', {});
        await publish(topic, '{"hello":1}', 'build.requested');
        const [m] = await collect(sqs, queue.url, 1, 5_000);
        const envelope = JSON.parse(m?.Body ?? '{}') as { Type?: string; Message?: string; MessageAttributes?: Record<string, { Value: string }> };
        expectThat(envelope.Type === 'Notification' && envelope.Message === '{"hello":1}', `body ${m?.Body}`);
        expectThat(envelope.MessageAttributes?.type?.Value === 'build.requested', 'attributes missing from the envelope');
        return 'the queue receives the SNS Notification envelope with Message and MessageAttributes';
      }),
      row(AREA, 'raw message delivery', async () => {
        const { topic, queue } = await wire('raw', { RawMessageDelivery: 'true' });
        await publish(topic, '{"raw":true}', 'build.started');
        const [m] = await collect(sqs, queue.url, 1, 5_000);
        expectThat(m?.Body === '{"raw":true}', `body ${m?.Body}`);
        expectThat(m?.MessageAttributes?.type?.StringValue === 'build.started', 'message attribute not carried as an SQS attribute');
        return 'the body is the published message itself; SNS attributes arrive as SQS message attributes';
      }),
      row(AREA, 'filter policy on message attributes', async () => {
        const { topic, queue } = await wire('filter', { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ type: ['build.failed'] }) });
        await publish(topic, 'skip', 'build.started');
        await publish(topic, 'keep', 'build.failed');
        await publish(topic, 'no-attribute');
        const got = await collect(sqs, queue.url, 1, 5_000);
        const extra = await receive(sqs, queue.url, 2);
        const bodies = [...got, ...extra].map((m) => m.Body);
        expectThat(bodies.length === 1 && bodies[0] === 'keep', `delivered ${JSON.stringify(bodies)}`);
        return 'of 3 published, only the one whose type attribute matched arrived; nothing else within a further 2 s long poll';
      }),
      gap(AREA, 'FilterPolicyScope=MessageBody is ignored', 'filter on message attributes (row above): every Flotilla publish sets type (and region) attributes', async () => {
        const { topic, queue } = await wire('bodyscope', {
          RawMessageDelivery: 'true',
          FilterPolicyScope: 'MessageBody',
          FilterPolicy: JSON.stringify({ kind: ['wanted'] }),
        });
        await publish(topic, JSON.stringify({ kind: 'unwanted' }));
        const got = await collect(sqs, queue.url, 1, 4_000);
        expectThat(got.length === 1, 'a non-matching body was filtered out: the gap is gone, update this row');
        return 'a message whose body does not match the body-scoped policy is still delivered';
      }),
    ]);
  } finally {
    await deleteQueues(sqs, queues);
    await Promise.allSettled(topics.map((t) => sns.send(new DeleteTopicCommand({ TopicArn: t }))));
  }
}
