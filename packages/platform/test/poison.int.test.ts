/**
 * A poison message (its handler throws every time) in each kind of consumer the services run:
 * the SNS-fed intake queue and the SNS-fed projections queue (orchestrator and build), the
 * orchestrator's own queue (deploy.finished from the state machine), and a task-token worker's
 * queue. The good messages behind it are handled; the poison ends in the DLQ with its reason, and
 * a task worker answers the poison's token with a failure, so its execution does not hang.
 */
import { GetExecutionHistoryCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consume, createLogger, IdempotencyStore, locate, taskWorker, TransientAwsError, type Locator, type ReceivedMessage } from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
const logger = createLogger('poison-test', 'silent');
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('poison'));
  where = await locate(aws, stack.prefix);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

/** Fast retries so the poison reaches its last allowed receive in seconds. */
const fast = { maxReceives: 3, retryBaseSeconds: 0, retryMaxSeconds: 1, waitTimeSeconds: 1 } as const;
const POISON = 'POISON';

/** Every message in a DLQ, read until `count` arrived. */
async function deadLetters(dlqUrl: string, count: number): Promise<Message[]> {
  const seen: Message[] = [];
  await eventually(
    async () => {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
      seen.push(...(out.Messages ?? []));
      return seen.length >= count ? true : undefined;
    },
    { timeoutMs: 60_000, description: `${count} dead letter(s)` },
  );
  return seen;
}

/** A handler that throws (retryably, so every receive is spent on it) for the poison and records the rest. */
function handler(handled: string[]) {
  return (m: ReceivedMessage) => {
    if (m.body.includes(POISON)) return Promise.reject(new TransientAwsError('poison: fails every time'));
    handled.push(m.body);
    return Promise.resolve();
  };
}

describe('a poison message in each consumer kind', () => {
  it('SNS-fed queues (intake, projections) and the orchestrator queue: the good ones are handled, the poison is dead-lettered with its reason', async () => {
    const kinds = [
      { name: 'intake (SNS)', queue: where.names.queues.intake, send: (body: string) => aws.sns.send(new PublishCommand({ TopicArn: where.topicArn(where.names.topics.intake), Message: body })) },
      { name: 'projections (SNS)', queue: where.names.queues.projections, send: (body: string) => aws.sns.send(new PublishCommand({ TopicArn: where.topicArn(where.names.topics.events), Message: body })) },
      { name: 'orchestrator', queue: where.names.queues.orchestrator, send: async (body: string) => aws.sqs.send(new SendMessageCommand({ QueueUrl: (await where.queuePair(where.names.queues.orchestrator)).queueUrl, MessageBody: body })) },
    ];
    await Promise.all(
      kinds.map(async (kind) => {
        const pair = await where.queuePair(kind.queue);
        const handled: string[] = [];
        const c = consume({ name: kind.name, sqs: aws.sqs, ...pair, logger, handle: handler(handled), ...fast });
        c.start();
        try {
          await kind.send(`{"kind":"${POISON}"}`);
          const good = ['{"n":1}', '{"n":2}', '{"n":3}'];
          for (const body of good) await kind.send(body);
          await eventually(() => Promise.resolve(handled.length >= good.length ? true : undefined), { timeoutMs: 30_000, description: `${kind.name}: the good messages` });
          expect(handled.sort(), kind.name).toEqual(good);
          const [dead, ...more] = await deadLetters(pair.dlqUrl, 1);
          expect(more, kind.name).toEqual([]);
          expect(dead?.Body, kind.name).toBe(`{"kind":"${POISON}"}`);
          expect(dead?.MessageAttributes?.FailureReason?.StringValue, kind.name).toBe('poison: fails every time');
          expect(dead?.MessageAttributes?.FailureName?.StringValue, kind.name).toBe('TransientAwsError');
          expect(dead?.MessageAttributes?.ReceiveCount?.StringValue, kind.name).toBe('3');
        } finally {
          await c.stop();
        }
      }),
    );
  });

  it('a task worker: the good task is answered with success, the poison task with a failure and dead-lettered with its reason', async () => {
    const pair = await where.queuePair(where.names.queues.build);
    const start = async (poison: boolean) => {
      const name = `p-${Math.random().toString(36).slice(2, 10)}`;
      const out = await aws.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: where.stateMachineArn(),
          name,
          input: JSON.stringify({ buildId: name, stream: `build-${name}`, correlationId: name, hostsPerRegion: 1, regions: [], poison }),
        }),
      );
      return out.executionArn ?? '';
    };
    const outcome = (executionArn: string) =>
      eventually(
        async () => {
          const history = await aws.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
          for (const event of history.events ?? []) {
            if (event.type === 'TaskSucceeded') return 'succeeded';
            if (event.type === 'TaskFailed') return event.taskFailedEventDetails?.error ?? 'failed';
          }
          return undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, description: 'the Build task to be answered' },
      );
    const worker = taskWorker({
      name: 'build',
      sqs: aws.sqs,
      sfn: aws.sfn,
      ...pair,
      logger,
      idempotency: new IdempotencyStore(aws.dynamodb, where.names.tables.idempotency),
      parseInput: (input) => input as { poison: boolean },
      work: (input) => (input.poison ? Promise.reject(new TransientAwsError('poison: fails every time')) : Promise.resolve({ ok: true as const, output: {} })),
      maxReceives: 3,
      concurrency: 2,
    });
    worker.start();
    try {
      const poisoned = await start(true);
      const good = await start(false);
      expect(await outcome(good)).toBe('succeeded');
      expect(await outcome(poisoned)).toBe('build.GaveUp');
      const [dead, ...more] = await deadLetters(pair.dlqUrl, 1);
      expect(more).toEqual([]);
      expect(dead?.MessageAttributes?.FailureReason?.StringValue).toBe('poison: fails every time');
      expect(JSON.parse(dead?.Body ?? '{}')).toMatchObject({ input: { poison: true } });
    } finally {
      await worker.stop();
    }
  });
});
