/**
 * Starting a service's workers from its context, so each main.ts names only what is its own:
 * which queue, which handler, which table. Each returns the started part, for shutdown.
 */
import { consume, type ConsumeOptions } from './consumer.ts';
import type { ServiceContext } from './service.ts';
import { StreamReader, type StreamReaderOptions } from './stream-reader.ts';
import { taskWorker, type TaskWorkerOptions } from './task-worker.ts';

type Context = Omit<ServiceContext, 'http'>;

/** Consumes a queue of the stack (and dead-letters to its DLQ). */
export async function startConsumer(ctx: Context, queue: string, handle: ConsumeOptions['handle'], extra: Partial<ConsumeOptions> = {}) {
  const consumer = consume({ name: queue, sqs: ctx.aws.sqs, ...(await ctx.locator.queuePair(queue)), logger: ctx.logger, handle, ...extra });
  consumer.start();
  return consumer;
}

/** Answers the state machine's task tokens from a queue of the stack. */
export async function startTaskWorker<I, O>(
  ctx: Context,
  queue: string,
  options: Pick<TaskWorkerOptions<I, O>, 'name' | 'parseInput' | 'work'> & Partial<TaskWorkerOptions<I, O>>,
) {
  const worker = taskWorker<I, O>({
    sqs: ctx.aws.sqs,
    sfn: ctx.aws.sfn,
    ...(await ctx.locator.queuePair(queue)),
    logger: ctx.logger,
    idempotency: ctx.idempotency,
    ...options,
  });
  worker.start();
  return worker;
}

/** Reads a table's stream with checkpoints in the stack's checkpoints table; resolves once reading has begun. */
export async function startStreamReader(ctx: Context, options: Pick<StreamReaderOptions, 'name' | 'tableName' | 'handle'> & Partial<StreamReaderOptions>) {
  const reader = new StreamReader({ db: ctx.aws.dynamodb, streams: ctx.aws.streams, checkpointTable: ctx.resources.tables.checkpoints, logger: ctx.logger, ...options });
  await reader.start();
  return reader;
}
