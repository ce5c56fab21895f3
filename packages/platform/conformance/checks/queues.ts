/** Small SQS helpers shared by the checks that need a queue to observe deliveries. */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface TestQueue {
  url: string;
  arn: string;
}

export async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string> = {}): Promise<TestQueue> {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = out.QueueUrl ?? '';
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: attrs.Attributes?.QueueArn ?? '' };
}

export async function allowSender(sqs: SQSClient, queue: TestQueue, service: string, sourceArn: string): Promise<void> {
  const policy = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sqs:SendMessage', Resource: queue.arn, Condition: { ArnLike: { 'aws:SourceArn': sourceArn } } }],
  };
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queue.url, Attributes: { Policy: JSON.stringify(policy) } }));
}

export async function receive(sqs: SQSClient, url: string, waitSeconds: number, extra: { visibility?: number; max?: number } = {}): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      WaitTimeSeconds: waitSeconds,
      MaxNumberOfMessages: extra.max ?? 10,
      ...(extra.visibility === undefined ? {} : { VisibilityTimeout: extra.visibility }),
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return out.Messages ?? [];
}

/** Receives until `count` messages arrived or the deadline passed; each is deleted. */
export async function collect(sqs: SQSClient, url: string, count: number, timeoutMs: number): Promise<Message[]> {
  const got: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < deadline) {
    for (const m of await receive(sqs, url, 1)) {
      got.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  return got;
}

export async function deleteQueues(sqs: SQSClient, queues: TestQueue[]): Promise<void> {
  await Promise.allSettled(queues.map((q) => sqs.send(new DeleteQueueCommand({ QueueUrl: q.url }))));
}
