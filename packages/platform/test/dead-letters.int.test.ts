/**
 * The dead-letter module against the emulator, on a stack of its own: listing leaves messages in
 * place, redrive finds each source from its RedrivePolicy and strips the failure attributes,
 * purge empties, and a wrong prefix or queue name is a named error.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeadLetterQueueNotFoundError,
  listDeadLetterQueues,
  locate,
  purgeDeadLetters,
  queueDepth,
  redriveDeadLetters,
  stackQueueSuffixes,
  type Locator,
} from '../src/index.ts';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '../src/testing/index.ts';

const aws = testAwsClients();
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('dead-letters'));
  where = await locate(aws, stack.prefix);
});

afterAll(async () => {
  await stack?.destroy();
  aws.destroy();
});

const failureAttributes = (reason: string) => ({
  FailureReason: { DataType: 'String', StringValue: reason },
  FailureName: { DataType: 'String', StringValue: 'InvalidMessageError' },
  ReceiveCount: { DataType: 'Number', StringValue: '4' },
  correlationId: { DataType: 'String', StringValue: 'corr-1' },
});

async function deadLetter(queue: string, body: string, reason: string): Promise<void> {
  const { dlqUrl } = await where.queuePair(queue);
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: body, MessageAttributes: failureAttributes(reason) }));
}

describe('dead letters', () => {
  it('lists every DLQ of the stack with its depth, source and a sample that stays in the queue', async () => {
    await deadLetter(where.names.queues.replication, '{"task":"one"}', 'copy failed: sha256 mismatch');
    await deadLetter(where.names.queues.replication, '{"task":"two"}', 'copy failed: sha256 mismatch');

    const dlqs = await listDeadLetterQueues(aws.sqs, stack.prefix, { sampleSize: 5 });
    expect(dlqs.map((q) => q.name).sort()).toEqual(stackQueueSuffixes(stack.regions).map((s) => `${stack.prefix}-${s}-dlq`).sort());
    const replication = dlqs.find((q) => q.name === `${stack.prefix}-replication-dlq`);
    expect(replication?.source?.name).toBe(where.names.queues.replication);
    expect(replication?.depth.visible).toBe(2);
    expect(replication?.samples.map((m) => m.body).sort()).toEqual(['{"task":"one"}', '{"task":"two"}']);
    expect(replication?.samples.every((m) => m.failureReason === 'copy failed: sha256 mismatch' && m.failureName === 'InvalidMessageError')).toBe(true);
    // Sampling released the messages: both are visible again at once.
    expect((await queueDepth(aws.sqs, (await where.queuePair(where.names.queues.replication)).dlqUrl)).visible).toBe(2);
  });

  it('redrives to the source queue from its RedrivePolicy, keeping body and attributes but not the failure ones', async () => {
    const results = await redriveDeadLetters(aws.sqs, stack.prefix, { queue: 'replication' });
    expect(results).toEqual([{ dlq: `${stack.prefix}-replication-dlq`, source: where.names.queues.replication, moved: 2, remaining: 0 }]);

    const { queueUrl } = await where.queuePair(where.names.queues.replication);
    const moved = await eventually(
      async () => {
        const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
        return (out.Messages?.length ?? 0) === 2 ? out.Messages : undefined;
      },
      { description: 'both messages back on the replication queue' },
    );
    expect(moved?.map((m) => m.Body).sort()).toEqual(['{"task":"one"}', '{"task":"two"}']);
    for (const message of moved ?? []) expect(Object.keys(message.MessageAttributes ?? {})).toEqual(['correlationId']);
  });

  it('purges the selected DLQ only, reporting how many it held', async () => {
    await deadLetter(where.names.queues.intake, 'not json', 'invalid intake message');
    await deadLetter(where.names.queues.build, '{}', 'build failed');

    expect(await purgeDeadLetters(aws.sqs, stack.prefix, { queue: `${stack.prefix}-intake-dlq` })).toEqual([{ dlq: `${stack.prefix}-intake-dlq`, purged: 1 }]);
    await eventually(async () => ((await queueDepth(aws.sqs, (await where.queuePair(where.names.queues.intake)).dlqUrl)).visible === 0 ? true : undefined), {
      description: 'the intake DLQ empty',
    });
    expect((await queueDepth(aws.sqs, (await where.queuePair(where.names.queues.build)).dlqUrl)).visible).toBe(1);
  });

  it('names what is missing: an unknown queue, or a prefix with no stack', async () => {
    await expect(redriveDeadLetters(aws.sqs, stack.prefix, { queue: 'nope' })).rejects.toThrow(/no dead-letter queue matches nope; there are: /);
    await expect(listDeadLetterQueues(aws.sqs, `${stack.prefix}-missing`)).rejects.toBeInstanceOf(DeadLetterQueueNotFoundError);
  });
});
