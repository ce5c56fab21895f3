/**
 * A Step Functions task-token worker on an SQS queue. The state machine sends
 * `{ taskToken, input }` with `sqs:sendMessage.waitForTaskToken`; the worker does the work once per
 * token (idempotent on a hash of the token, never on the SQS message id), then answers the token.
 *
 * Outcomes, both stored by the idempotency record so a re-sent message answers the same way:
 *   { ok: true, output }          -> SendTaskSuccess(output)
 *   { ok: false, error, cause }   -> SendTaskFailure(error, cause): a business failure (a copy that
 *                                    does not verify), already recorded in the log by the work.
 * An exception is an unexpected failure: retried with backoff while retryable; when the consumer
 * gives up, the token is answered with SendTaskFailure before the message is dead-lettered.
 * A token that was already answered, timed out or is unknown means the task is done: not an error.
 *
 * A worker that dies mid-task must not fail its build. Its claim (idempotency.ts) has a short
 * lease that only a running attempt renews; another delivery meanwhile is put off until that lease
 * runs out (never counted toward giving up), then takes the task over and does it. While the work
 * runs, SendTaskHeartbeat tells Step Functions the task is alive (HeartbeatSeconds on the task
 * states, deploy/state-machine.ts), and a heartbeat before the work skips a token that already
 * timed out: the state machine has sent a fresh message for that task.
 */
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { consume, InvalidMessageError, parseMessage, type ReceivedMessage } from './consumer.ts';
import { hashKey, type IdempotencyStore, type RunOnceResult } from './idempotency.ts';
import type { Logger } from './logger.ts';

export type TaskOutcome<O> = { ok: true; output: O } | { ok: false; error: string; cause: string };

const taskMessageSchema = z.object({ taskToken: z.string().min(1), input: z.unknown() });

/** Errors Step Functions answers for a token that can no longer be answered. */
const SETTLED_TOKEN_ERRORS = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

export interface TaskContext {
  logger: Logger;
  /** The token's hash: a stable identity for this task, e.g. for event causation. */
  taskId: string;
  receiveCount: number;
  /** Aborted when this attempt's claim was taken over or its token settled: the work may stop early. */
  signal: AbortSignal;
}

export interface TaskWorkerOptions<I, O> {
  name: string;
  sqs: SQSClient;
  sfn: SFNClient;
  queueUrl: string;
  dlqUrl: string;
  logger: Logger;
  idempotency: IdempotencyStore;
  /** Parses the task input; throw (any error) for input that can never be handled. */
  parseInput: (input: unknown) => I;
  work: (input: I, ctx: TaskContext) => Promise<TaskOutcome<O>>;
  maxReceives?: number;
  visibilityTimeoutSeconds?: number;
  /**
   * How long an attempt's claim lasts without renewal; the running attempt renews it, so this is
   * how soon a crashed worker's task resumes elsewhere.
   */
  leaseMs?: number;
  /** Messages per receive (default 1: tasks are long, and one slow task must not hold up others). */
  batchSize?: number;
  /** Independent pollers on the queue: how many tasks this process works on at once (default 1). */
  concurrency?: number;
  /** How often the running work heartbeats its token (keep well below the state's HeartbeatSeconds). */
  heartbeatMs?: number;
}

export const DEFAULT_TASK_LEASE_MS = 30_000;
export const DEFAULT_TASK_HEARTBEAT_MS = 20_000;

/** Tells Step Functions the task is alive; 'settled' when the token can no longer be answered. */
export async function heartbeatTask(sfn: SFNClient, taskToken: string): Promise<'alive' | 'settled'> {
  try {
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken }));
    return 'alive';
  } catch (error) {
    if (SETTLED_TOKEN_ERRORS.has((error as Error).name)) return 'settled';
    throw error;
  }
}

/** Step Functions caps `error` at 256 and `cause` at 32,768 characters. */
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export async function answerTask(sfn: SFNClient, taskToken: string, outcome: TaskOutcome<unknown>, logger: Logger): Promise<'answered' | 'already-settled'> {
  try {
    if (outcome.ok) await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(outcome.output ?? {}) }));
    else await sfn.send(new SendTaskFailureCommand({ taskToken, error: clip(outcome.error, 256), cause: clip(outcome.cause, 32_768) }));
    return 'answered';
  } catch (error) {
    if (SETTLED_TOKEN_ERRORS.has((error as Error).name)) {
      logger.info({ answer: (error as Error).name }, 'task token already settled; treating the task as done');
      return 'already-settled';
    }
    throw error;
  }
}

export function taskWorker<I, O>(options: TaskWorkerOptions<I, O>) {
  const { sfn, logger: parent, idempotency } = options;
  const tokenOf = (received: ReceivedMessage): string | undefined => {
    try {
      return parseMessage(received.body, taskMessageSchema, 'task').taskToken;
    } catch {
      return undefined;
    }
  };

  return consume({
    name: options.name,
    sqs: options.sqs,
    queueUrl: options.queueUrl,
    dlqUrl: options.dlqUrl,
    logger: parent,
    ...(options.maxReceives === undefined ? {} : { maxReceives: options.maxReceives }),
    ...(options.visibilityTimeoutSeconds === undefined ? {} : { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    batchSize: options.batchSize ?? 1,
    async handle(received) {
      const message = parseMessage(received.body, taskMessageSchema, `${options.name} task`);
      let input: I;
      try {
        input = options.parseInput(message.input);
      } catch (error) {
        throw new InvalidMessageError(`invalid ${options.name} task input: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
      }
      const taskId = hashKey(message.taskToken);
      const logger = received.logger.child({ taskId: taskId.slice(0, 16) });
      logger.debug('task received');
      if ((await heartbeatTask(sfn, message.taskToken)) === 'settled') {
        logger.info('task token already settled (timed out or answered): skipping the work');
        return;
      }
      const tokenSettled = new AbortController();
      const beat = setInterval(() => {
        heartbeatTask(sfn, message.taskToken).then(
          (state) => {
            if (state === 'settled' && !tokenSettled.signal.aborted) {
              logger.warn('task token settled while the work runs (timed out?)');
              tokenSettled.abort();
            }
          },
          (error: unknown) => logger.warn({ err: error }, 'task heartbeat failed; trying again at the next beat'),
        );
      }, options.heartbeatMs ?? DEFAULT_TASK_HEARTBEAT_MS);
      beat.unref();
      let ran: RunOnceResult<TaskOutcome<O>>;
      try {
        ran = await idempotency.runOnce(
          `task#${taskId}`,
          ({ signal }) => options.work(input, { logger, taskId, receiveCount: received.receiveCount, signal: AbortSignal.any([signal, tokenSettled.signal]) }),
          { leaseMs: options.leaseMs ?? DEFAULT_TASK_LEASE_MS, onLeaseLost: () => logger.warn('task claim taken over by another attempt') },
        );
      } finally {
        clearInterval(beat);
      }
      const { result: outcome, duplicate } = ran;
      if (duplicate) logger.info('task already done; answering with the stored outcome');
      logger.debug({ ok: outcome.ok }, 'task done; answering');
      await answerTask(sfn, message.taskToken, outcome, logger);
    },
    async onGiveUp(received, reason) {
      const taskToken = tokenOf(received);
      if (!taskToken) return;
      await answerTask(sfn, taskToken, { ok: false, error: `${options.name}.GaveUp`, cause: reason }, received.logger);
    },
  });
}
