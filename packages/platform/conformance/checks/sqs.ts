import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/aws.ts';
import { expectThat, gap, row, type NameFor, type Row } from '../rows.ts';
import { createQueue, deleteQueues, receive, type TestQueue } from './queues.ts';

const AREA = 'SQS';

export async function sqsChecks(aws: AwsClients, name: NameFor): Promise<Row[]> {
  const { sqs } = aws;
  const made: TestQueue[] = [];
  const queue = async (label: string, attributes: Record<string, string> = {}) => {
    const q = await createQueue(sqs, name(label), attributes);
    made.push(q);
    return q;
  };
  const send = (url: string, body: string) => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
  try {
    return await Promise.all([
      row(AREA, 'long poll returns a message sent while it waits', async () => {
        const q = await queue('longpoll');
        const started = Date.now();
        const polling = receive(sqs, q.url, 5);
        // Not synchronisation: the scenario is a send while the poll waits, so the send must come
        // after the poll reached the emulator; the elapsed-time check below proves the same poll answered.
        await new Promise((resolve) => setTimeout(resolve, 500));
        await send(q.url, 'late');
        const got = await polling;
        expectThat(got[0]?.Body === 'late', `long poll returned ${JSON.stringify(got.map((m) => m.Body))}`);
        expectThat(Date.now() - started < 5_000, 'the poll ran its full wait: the message came from elsewhere');
        return 'a message sent 0.5 s into a 5 s long poll was returned by that same poll, before its wait ended';
      }),
      row(AREA, 'visibility timeout hides a received message, then it is delivered again', async () => {
        const q = await queue('visibility');
        await send(q.url, 'hide');
        const first = await receive(sqs, q.url, 1, { visibility: 2 });
        expectThat(first.length === 1, 'first receive got nothing');
        const during = await receive(sqs, q.url, 1);
        expectThat(during.length === 0, 'message visible during its visibility timeout');
        const again = await receive(sqs, q.url, 5);
        expectThat(again[0]?.Body === 'hide', 'message not redelivered after the timeout');
        const count = again[0]?.Attributes?.ApproximateReceiveCount;
        expectThat(count === '2', `ApproximateReceiveCount ${count}`);
        return 'hidden for its 2 s timeout, delivered again after it with ApproximateReceiveCount 2';
      }),
      row(AREA, 'ChangeMessageVisibility extends and ends the timeout', async () => {
        const q = await queue('changevis');
        await send(q.url, 'x');
        const [m] = await receive(sqs, q.url, 1, { visibility: 2 });
        expectThat(m, 'nothing received');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 30 }));
        const hidden = await receive(sqs, q.url, 4);
        expectThat(hidden.length === 0, 'extended message reappeared after its original 2 s timeout');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
        const back = await receive(sqs, q.url, 1);
        expectThat(back[0]?.Body === 'x', 'message did not reappear at once after visibility 0');
        return 'extended to 30 s it stayed hidden past its first 2 s timeout; set to 0 it was delivered at once';
      }),
      row(AREA, 'DeleteMessageBatch deletes every message of the batch', async () => {
        const q = await queue('deletebatch');
        await sqs.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: ['a', 'b', 'c'].map((id) => ({ Id: id, MessageBody: id })) }));
        const got = [...(await receive(sqs, q.url, 1, { visibility: 1 }))];
        while (got.length < 3) got.push(...(await receive(sqs, q.url, 1, { visibility: 1 })));
        const out = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: q.url, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
        expectThat(out.Successful?.length === 3 && (out.Failed ?? []).length === 0, `batch delete: ${JSON.stringify(out.Failed)}`);
        const left = await receive(sqs, q.url, 2);
        expectThat(left.length === 0, `${left.length} messages came back after the batch delete`);
        return '3 of 3 deleted; none delivered again after their visibility timeout';
      }),
      row(AREA, 'redrive moves a message to the DLQ after maxReceiveCount receives', async () => {
        const dlq = await queue('redrive-dlq');
        const q = await queue('redrive');
        await sqs.send(new SetQueueAttributesCommand({ QueueUrl: q.url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }) } }));
        await send(q.url, 'poison');
        for (let i = 1; i <= 2; i++) {
          const [m] = await receive(sqs, q.url, 2);
          expectThat(m, `receive ${i} got nothing`);
          await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
        }
        const third = await receive(sqs, q.url, 1);
        expectThat(third.length === 0, 'message still in the source queue after 2 receives');
        const moved = await receive(sqs, dlq.url, 2);
        expectThat(moved[0]?.Body === 'poison', 'message not in the DLQ');
        return 'after 2 receives (maxReceiveCount 2) the message left the queue and arrived in the DLQ';
      }),
      row(AREA, 'message attributes round-trip', async () => {
        const q = await queue('attributes');
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: q.url,
            MessageBody: 'x',
            MessageAttributes: { FailureReason: { DataType: 'String', StringValue: 'copy failed: sha256 mismatch' }, ReceiveCount: { DataType: 'Number', StringValue: '4' } },
          }),
        );
        const [m] = await receive(sqs, q.url, 2);
        expectThat(m?.MessageAttributes?.FailureReason?.StringValue === 'copy failed: sha256 mismatch', 'String attribute lost');
        expectThat(m?.MessageAttributes?.ReceiveCount?.StringValue === '4' && m.MessageAttributes.ReceiveCount.DataType === 'Number', 'Number attribute lost');
        return 'String and Number attributes arrive with their values and data types';
      }),
      gap(
        AREA,
        'a long poll aborted by its client may still take a message that arrives during its wait',
        'consumers receive with a short visibility timeout (10 s) extended by a heartbeat while handling, so a message taken by an aborted poll is delivered again within seconds',
        async () => {
          const q = await queue('aborted');
          const abort = new AbortController();
          const ghost = sqs
            .send(new ReceiveMessageCommand({ QueueUrl: q.url, WaitTimeSeconds: 5, VisibilityTimeout: 2 }), { abortSignal: abort.signal })
            .catch(() => undefined);
          // Not synchronisation: the scenario needs the poll to be waiting server-side when aborted.
          await new Promise((resolve) => setTimeout(resolve, 500));
          abort.abort();
          await ghost;
          const sentAt = Date.now();
          await send(q.url, 'taken');
          // Whether the aborted poll takes it first varies from run to run; either way a live
          // consumer must get it within that poll's 2 s visibility timeout (plus a margin).
          let got: Awaited<ReturnType<typeof receive>> = [];
          while (got.length === 0 && Date.now() - sentAt < 6_000) got = await receive(sqs, q.url, 1);
          expectThat(got[0]?.Body === 'taken', 'the message was not delivered to a live consumer within the aborted poll\'s visibility timeout');
          return 'a message sent after the client aborted its poll reached a live consumer within the aborted poll\'s 2 s visibility timeout; in some runs the aborted poll took it first (seen in the pipeline as a worker waiting one visibility timeout after a restart)';
        },
      ),
    ]);
  } finally {
    await deleteQueues(sqs, made);
  }
}
