/**
 * Task-token workers against the emulator's real state machine: a worker that dies mid-task leaves
 * its claim behind; the next delivery waits out that claim's lease and resumes the task, which is
 * done once and answered with success (never given up while another attempt may still run).
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetExecutionHistoryCommand, SendTaskSuccessCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, hashKey, IdempotencyStore, locate, taskWorker, type Locator } from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
const logger = createLogger('task-worker-test', 'silent');
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('task-worker'));
  where = await locate(aws, stack.prefix);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

/** Starts a deploy execution; its Build task sends `{ taskToken, input }` to the build queue. */
async function startBuildTask(): Promise<string> {
  const name = `t-${Math.random().toString(36).slice(2, 10)}`;
  const out = await aws.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: where.stateMachineArn(),
      name,
      input: JSON.stringify({ buildId: name, stream: `build-${name}`, correlationId: name, hostsPerRegion: 1, regions: [] }),
    }),
  );
  if (!out.executionArn) throw new Error('no execution ARN');
  return out.executionArn;
}

/** How the execution's Build task ended: 'succeeded', or the error it failed with. */
const buildTaskOutcome = (executionArn: string) =>
  eventually(
    async () => {
      const history = await aws.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
      for (const event of history.events ?? []) {
        if (event.type === 'TaskSucceeded') return 'succeeded';
        if (event.type === 'TaskFailed') return event.taskFailedEventDetails?.error ?? 'failed';
      }
      return undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, description: 'the Build task to be answered' },
  );

describe('taskWorker', () => {
  it('resumes a task whose worker died holding its claim: done once, answered with success, never given up', async () => {
    const leaseMs = 6_000;
    const { queueUrl, dlqUrl } = await where.queuePair(where.names.queues.build);
    const executionArn = await startBuildTask();

    // Worker A receives the task, claims it as runOnce does, and dies: no answer, no delete, no renewal.
    const taken = await eventually(
      async () => (await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, VisibilityTimeout: 1 }))).Messages?.[0],
      { description: 'the build task message' },
    );
    const { taskToken } = JSON.parse(taken.Body ?? '{}') as { taskToken: string };
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName: where.names.tables.idempotency,
        Item: {
          pk: { S: `task#${hashKey(taskToken)}` },
          status: { S: 'IN_PROGRESS' },
          leaseUntil: { N: String(Date.now() + leaseMs) },
          owner: { S: 'worker-a-that-died' },
        },
      }),
    );

    // Worker B gets the redelivery.
    let runs = 0;
    const b = taskWorker({
      name: 'build',
      sqs: aws.sqs,
      sfn: aws.sfn,
      queueUrl,
      dlqUrl,
      logger,
      idempotency: new IdempotencyStore(aws.dynamodb, where.names.tables.idempotency),
      parseInput: (input) => input,
      work: () => Promise.resolve({ ok: true as const, output: { runs: ++runs } }),
      leaseMs,
    });
    b.start();
    try {
      expect(await buildTaskOutcome(executionArn)).toBe('succeeded');
      expect(runs).toBe(1);
    } finally {
      await b.stop();
    }
    const dead = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }));
    expect(dead.Messages ?? []).toHaveLength(0);
  });

  it('skips the work of a token that can no longer be answered (timed out, or answered by another attempt), and drops its message', async () => {
    const { queueUrl, dlqUrl } = await where.queuePair(where.names.queues.build);
    const executionArn = await startBuildTask();
    const taken = await eventually(
      async () => (await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, VisibilityTimeout: 30 }))).Messages?.[0],
      { description: 'the build task message' },
    );
    const { taskToken } = JSON.parse(taken.Body ?? '{}') as { taskToken: string };
    await aws.sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{}' }));
    expect(await buildTaskOutcome(executionArn)).toBe('succeeded');
    // A stale copy of the task arrives later (Step Functions sent a fresh token after a timeout, say).
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: taken.Body ?? '' }));
    let runs = 0;
    const worker = taskWorker({
      name: 'build',
      sqs: aws.sqs,
      sfn: aws.sfn,
      queueUrl,
      dlqUrl,
      logger,
      idempotency: new IdempotencyStore(aws.dynamodb, where.names.tables.idempotency),
      parseInput: (input) => input,
      work: () => Promise.resolve({ ok: true as const, output: { runs: ++runs } }),
    });
    worker.start();
    try {
      await eventually(
        async () => {
          const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0, VisibilityTimeout: 0, MaxNumberOfMessages: 1 }));
          const dead = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
          return (out.Messages ?? []).length === 0 && (dead.Messages ?? []).length === 0 ? true : undefined;
        },
        // Once the worker holds the message it is invisible; stop() below waits for its handling.
        { description: 'the stale message to be dropped' },
      );
    } finally {
      await worker.stop();
    }
    expect(runs).toBe(0);
  });
});
