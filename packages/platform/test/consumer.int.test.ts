/**
 * The SQS consumer against the emulator: acknowledge on success only, retry what is retryable
 * with backoff, dead-letter the rest with the reason attached (after onGiveUp), and stop at once.
 */
import { Writable } from 'node:stream';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consume, createLogger, InvalidMessageError, locate, TransientAwsError, type Locator, type ReceivedMessage } from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, watchedTestClients, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
const logger = createLogger('consumer-test', 'silent');
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('consumer'));
  where = await locate(aws, stack.prefix);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

/** A consumer on one of the stack's queues, recording what it saw. */
async function consumer(queue: string, handle: (m: ReceivedMessage) => Promise<void>) {
  const pair = await where.queuePair(queue);
  const gaveUp: string[] = [];
  const c = consume({
    name: queue,
    sqs: aws.sqs,
    ...pair,
    logger,
    handle,
    onGiveUp: (_m, reason) => Promise.resolve(void gaveUp.push(reason)),
    maxReceives: 3,
    retryBaseSeconds: 0,
    retryMaxSeconds: 1,
    waitTimeSeconds: 1,
  });
  c.start();
  return { ...pair, consumer: c, gaveUp };
}

const deadLetters = (dlqUrl: string) =>
  eventually(
    async () => {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }));
      return out.Messages?.[0];
    },
    { timeoutMs: 30_000, description: 'a dead letter' },
  );

describe('consume', () => {
  it('retries a retryable failure and deletes the message once handled', async () => {
    const seen: number[] = [];
    const { queueUrl, dlqUrl, consumer: c } = await consumer(where.names.queues.build, async (m) => {
      seen.push(m.receiveCount);
      if (m.receiveCount < 2) throw new TransientAwsError('throttled, try again');
      await Promise.resolve();
    });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"n":1}' }));
    await eventually(() => Promise.resolve(seen.length >= 2 ? true : undefined), { description: 'the retry' });
    await c.stop();
    expect(seen).toEqual([1, 2]);
    const left = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 2 }));
    expect(left.Messages ?? []).toHaveLength(0);
    const dead = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }));
    expect(dead.Messages ?? []).toHaveLength(0);
  });

  it('dead-letters a message that can never be handled at once, reason attached, after onGiveUp', async () => {
    let calls = 0;
    const { queueUrl, dlqUrl, consumer: c, gaveUp } = await consumer(where.names.queues.replication, () => {
      calls++;
      return Promise.reject(new InvalidMessageError('invalid replicate task: region: required'));
    });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"bad":true}' }));
    const dead = await deadLetters(dlqUrl);
    await c.stop();
    expect(calls).toBe(1);
    expect(dead.Body).toBe('{"bad":true}');
    expect(dead.MessageAttributes?.FailureName?.StringValue).toBe('InvalidMessageError');
    expect(dead.MessageAttributes?.FailureReason?.StringValue).toBe('invalid replicate task: region: required');
    expect(dead.MessageAttributes?.FailedQueue?.StringValue).toBe(queueUrl);
    expect(gaveUp).toEqual(['invalid replicate task: region: required']);
  });

  it('gives up on a retryable failure at the last allowed receive, with the reason', async () => {
    const seen: number[] = [];
    const { queueUrl, dlqUrl, consumer: c, gaveUp } = await consumer(where.names.queues.orchestrator, (m) => {
      seen.push(m.receiveCount);
      return Promise.reject(new TransientAwsError('still throttled'));
    });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }));
    const dead = await deadLetters(dlqUrl);
    await c.stop();
    expect(seen).toEqual([1, 2, 3]);
    expect(dead.MessageAttributes?.ReceiveCount?.StringValue).toBe('3');
    expect(gaveUp).toEqual(['still throttled']);
  });

  it('on stop, waits for an in-flight handler to finish and acknowledges its message', async () => {
    let finish: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    let finished = false;
    const { queueUrl, consumer: c } = await consumer(where.names.queues.intake, async () => {
      started();
      await new Promise<void>((resolve) => (finish = resolve));
      finished = true;
    });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'slow' }));
    await running;
    const stopping = c.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(finished).toBe(true);
    const left = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
    expect(left.Messages ?? []).toHaveLength(0);
  });

  it('stopped during a handler slower than the visibility timeout: keeps the message invisible, deletes it once handled, logs no error', async () => {
    const lines: { level: number; msg: string }[] = [];
    const capture = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string })) }));
    // A sync queue: nothing else writes to it (the uploads queue gets S3's test event).
    const pair = await where.queuePair(where.names.syncQueue('eu-west-1'));
    let finish: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    let handled = 0;
    const c = consume({
      name: 'slow',
      sqs: aws.sqs,
      ...pair,
      logger: capture,
      visibilityTimeoutSeconds: 2,
      waitTimeSeconds: 1,
      handle: async () => {
        handled++;
        started();
        await new Promise<void>((resolve) => (finish = resolve));
      },
    });
    c.start();
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: pair.queueUrl, MessageBody: 'slow' }));
    await running;
    const stopping = c.stop();
    // Twice the visibility timeout passes while the handler runs after stop(): the message must stay hidden.
    const peek = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: pair.queueUrl, WaitTimeSeconds: 5, VisibilityTimeout: 0 }));
    expect(peek.Messages ?? []).toHaveLength(0);
    finish();
    await stopping;
    expect(handled).toBe(1);
    const left = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: pair.queueUrl, WaitTimeSeconds: 3 }));
    expect(left.Messages ?? []).toHaveLength(0);
    expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
  });

  it('deletes a received batch in one call once every message of it is settled, keeping the one to retry (issue 9)', async () => {
    const { aws: watched, calls } = watchedTestClients();
    const { queueUrl, dlqUrl } = await where.queuePair(where.names.queues.projections);
    const bodies = Array.from({ length: 10 }, (_, n) => JSON.stringify({ n }));
    // All ten wait in the queue before the first receive, so one receive takes them together.
    for (const body of bodies) await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    const handled: string[] = [];
    const c = consume({
      name: 'batch',
      sqs: watched.sqs,
      queueUrl,
      dlqUrl,
      logger,
      batchSize: 10,
      waitTimeSeconds: 1,
      retryBaseSeconds: 1,
      retryMaxSeconds: 1,
      handle: async (m) => {
        await Promise.resolve();
        if (m.body === bodies[3] && m.receiveCount < 2) throw new TransientAwsError('once more');
        handled.push(m.body);
      },
    });
    try {
      c.start();
      await eventually(() => Promise.resolve(handled.length === 10 ? true : undefined), { timeoutMs: 30_000, description: 'all ten handled' });
    } finally {
      await c.stop();
      watched.destroy();
    }
    expect(new Set(handled)).toEqual(new Set(bodies));
    const deletes = calls.filter((c) => c.command.startsWith('DeleteMessage')).map((c) => ({ command: c.command, entries: Array.isArray(c.input.Entries) ? c.input.Entries.length : 1 }));
    // Nine at once; the retried one alone, later. No message deleted one by one.
    expect(deletes.filter((d) => d.command === 'DeleteMessage')).toEqual([]);
    expect(deletes.reduce((sum, d) => sum + d.entries, 0)).toBe(10);
    expect(deletes[0]).toEqual({ command: 'DeleteMessageBatch', entries: 9 });
    const left = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
    expect(left.Messages ?? []).toHaveLength(0);
    expect((await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }))).Messages ?? []).toHaveLength(0);
  });
});
