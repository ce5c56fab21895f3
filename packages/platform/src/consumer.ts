/**
 * SQS consumption with the project's delivery rules, on top of sqs-consumer's poll loop:
 *   - at-least-once: a message is deleted only after its handler succeeded;
 *   - a retryable failure hides the message again for an exponential, jittered delay based on its
 *     receive count; on the last allowed receive, or on a failure that is not retryable, the
 *     message goes to the dead-letter queue with the reason attached (then is deleted), after
 *     `onGiveUp` ran (a Step Functions worker answers its token with a failure there);
 *   - a deferrable failure (another attempt holds the work: see errors.ts deferralMs) is neither
 *     retried nor given up: the message is sent again with a delay of the holder's remaining lease
 *     and then deleted (send before delete keeps at-least-once), so SQS's receive count and the
 *     queue's redrive count start afresh, however long the other attempt runs;
 *   - stopTaking() aborts the in-flight long polls at once; stop() also waits (up to
 *     `drainTimeoutMs`) for in-flight handlers to settle. The visibility of an in-flight message
 *     is extended by this module's own heartbeat, not sqs-consumer's: sqs-consumer's heartbeats
 *     share the poll's AbortController, so aborting the poll would stop them too and the
 *     message would come back (to another worker) while its handler still runs.
 * Deletes and DLQ sends are made here rather than by sqs-consumer so that aborting the poll on
 * shutdown cannot abort the acknowledgement of work that already succeeded.
 */
import { ChangeMessageVisibilityCommand, DeleteMessageBatchCommand, SendMessageCommand, type Message, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import { describeIssues } from '@flotilla/events';
import type { z } from 'zod';
import { within } from './concurrency.ts';
import { deferralMs, FlotillaError, isRetryable } from './errors.ts';
import { faultPoint } from './faults.ts';
import type { Logger } from './logger.ts';
import { backoff } from './retry.ts';
import type { Stoppable } from './service.ts';

/**
 * Short, and extended by a heartbeat while a handler runs: a message taken by a receive that
 * nobody handles (a poll aborted at shutdown still takes messages in the emulator, and a crashed
 * worker's messages wait out the timeout) comes back within seconds, not minutes.
 */
export const DEFAULT_VISIBILITY_SECONDS = 10;

/** A message that can never be handled: dead-lettered at once, with this error's message as the reason. */
export class InvalidMessageError extends FlotillaError {
  readonly retryable = false;
}

/** Parses a message body as JSON against `schema`, naming each bad field in the error. */
export function parseMessage<S extends z.ZodType>(body: string, schema: S, what: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new InvalidMessageError(`${what} is not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const fields = describeIssues(parsed.error.issues);
    throw new InvalidMessageError(`invalid ${what}: ${fields.join('; ')}`, { fields });
  }
  return parsed.data;
}

export interface ReceivedMessage {
  message: Message;
  body: string;
  receiveCount: number;
  attributes: Record<string, string>;
  logger: Logger;
}

export interface ConsumeOptions {
  name: string;
  sqs: SQSClient;
  queueUrl: string;
  dlqUrl: string;
  logger: Logger;
  handle: (received: ReceivedMessage) => Promise<void>;
  /** Called once before a message is dead-lettered, with the reason. Errors here are logged. */
  onGiveUp?: (received: ReceivedMessage, reason: string) => Promise<void>;
  /** Receives after which a retryable failure is given up (keep below the queue's redrive count). */
  maxReceives?: number;
  batchSize?: number;
  visibilityTimeoutSeconds?: number;
  waitTimeSeconds?: number;
  /** Base and cap of the retry delay, in seconds. */
  retryBaseSeconds?: number;
  retryMaxSeconds?: number;
  drainTimeoutMs?: number;
  /** Independent pollers on the queue (default 1). */
  concurrency?: number;
  /** The consumer counts as stuck when no receive completed for this long while no handler runs. */
  livenessMs?: number;
  /** ...or when a handler has run for this long (longer than any task's own timeout). */
  handlerDeadlineMs?: number;
}

function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

const stringAttributes = (message: Message): Record<string, string> =>
  Object.fromEntries(
    Object.entries(message.MessageAttributes ?? {}).flatMap(([k, v]) => (v.StringValue === undefined ? [] : [[k, v.StringValue]])),
  );

/** A started consumer: stoppable, and able to say whether its poll loop is alive. */
export interface RunningConsumer extends Stoppable {
  start(): void;
  stopTaking(): void;
  /** Resolves while the consumer is alive; rejects naming what is stuck (for /health). */
  alive(): Promise<void>;
}

export function consume(options: ConsumeOptions): RunningConsumer {
  const {
    name,
    sqs,
    queueUrl,
    dlqUrl,
    logger: parent,
    maxReceives = 4,
    retryBaseSeconds = 1,
    retryMaxSeconds = 60,
    drainTimeoutMs = 20_000,
  } = options;
  const logger = parent.child({ consumer: name });

  const deadLetter = async (received: ReceivedMessage, error: unknown) => {
    const { name: errorName, message: reason } = describe(error);
    try {
      await options.onGiveUp?.(received, reason);
    } catch (giveUpError) {
      received.logger.error({ err: giveUpError }, 'onGiveUp failed; dead-lettering anyway');
    }
    const attributes: Record<string, MessageAttributeValue> = {
      ...received.message.MessageAttributes,
      FailureReason: { DataType: 'String', StringValue: reason.slice(0, 1_000) || errorName },
      FailureName: { DataType: 'String', StringValue: errorName },
      FailedQueue: { DataType: 'String', StringValue: queueUrl },
      ReceiveCount: { DataType: 'Number', StringValue: String(received.receiveCount) },
    };
    // SQS allows at most 10 message attributes: keep ours, drop the oldest of the original's.
    const names = Object.keys(attributes);
    for (const extra of names.slice(0, Math.max(0, names.length - 10))) delete attributes[extra];
    await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: received.body, MessageAttributes: attributes }));
    received.logger.warn({ reason, errorName, receiveCount: received.receiveCount }, 'message dead-lettered');
  };

  /** Puts a message off for `deferMs` (SQS allows at most 15 minutes of delay): a new copy, then the caller deletes this one. */
  const defer = async (received: ReceivedMessage, deferMs: number) => {
    const delaySeconds = Math.min(900, Math.max(1, Math.ceil(deferMs / 1000)));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: received.body,
        DelaySeconds: delaySeconds,
        ...(received.message.MessageAttributes ? { MessageAttributes: received.message.MessageAttributes } : {}),
      }),
    );
    received.logger.info({ delaySeconds }, 'another attempt holds this work; message put off');
  };

  /** Handles one message; true when it is done with (handled, deferred or dead-lettered) and may be deleted. */
  const settle = async (message: Message): Promise<boolean> => {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    const received: ReceivedMessage = {
      message,
      body: message.Body ?? '',
      receiveCount,
      attributes: stringAttributes(message),
      logger: logger.child({ messageId: message.MessageId, receiveCount }),
    };
    try {
      await options.handle(received);
    } catch (error) {
      const deferMs = deferralMs(error);
      if (deferMs !== undefined) await defer(received, deferMs);
      else if (isRetryable(error) && receiveCount < maxReceives) {
        const delay = backoff(receiveCount, retryBaseSeconds, retryMaxSeconds);
        received.logger.warn({ err: error, retryInSeconds: delay }, 'handler failed; will retry');
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: delay }));
        return false;
      } else await deadLetter(received, error);
    }
    faultPoint('consumer.before-delete');
    return true;
  };

  /**
   * A received batch: every message settled side by side, then the settled ones deleted in one
   * DeleteMessageBatch (issue 9: one DeleteMessage per message was a tenth of the projector's
   * calls). A message whose settling failed (its DLQ send, say) or whose delete failed stays, and
   * is received again: at least once.
   */
  const settleBatch = async (messages: Message[]): Promise<void> => {
    const done = await Promise.all(
      messages.map((message) =>
        settle(message).catch((error: unknown) => {
          logger.error({ err: error, messageId: message.MessageId }, 'failed to settle message');
          return false;
        }),
      ),
    );
    const entries = messages.flatMap((message, i) => (done[i] ? [{ Id: String(i), ReceiptHandle: message.ReceiptHandle }] : []));
    if (entries.length === 0) return;
    const out = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    for (const failed of out.Failed ?? []) {
      logger.warn({ messageId: messages[Number(failed.Id)]?.MessageId, code: failed.Code, reason: failed.Message }, 'delete failed; the message will be received again');
    }
  };

  const visibilityTimeout = options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_SECONDS;
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  /** When a poller last completed a receive (with or without messages), and each running handler with when it began. */
  let lastReceiveAt = Date.now();
  const inFlight = new Map<Promise<void>, number>();
  const livenessMs = options.livenessMs ?? Math.max(60_000, 3 * waitTimeSeconds * 1000);
  const handlerDeadlineMs = options.handlerDeadlineMs ?? 20 * 60_000;

  // Several pollers on one queue, each taking `batchSize` messages: sqs-consumer handles a batch
  // before it polls again, so one slow message holds up its batch-mates (head-of-line blocking).
  // Long tasks take one message per poller and scale with pollers instead.
  const pollers = Array.from({ length: Math.max(1, options.concurrency ?? 1) }, () => {
    const consumer = Consumer.create({
      queueUrl,
      sqs,
      batchSize: options.batchSize ?? 10,
      visibilityTimeout,
      waitTimeSeconds,
      messageSystemAttributeNames: ['ApproximateReceiveCount'],
      messageAttributeNames: ['All'],
      shouldDeleteMessages: false,
      handleMessageBatch: async (messages) => {
        const work = settleBatch(messages);
        inFlight.set(work, Date.now());
        const heartbeats = messages.map((message) => keepInvisible(message, work));
        try {
          await work;
        } catch (error) {
          // The batch delete failed: its messages stay and are received again later.
          logger.error({ err: error, messages: messages.length }, 'failed to delete settled messages');
        } finally {
          for (const heartbeat of heartbeats) clearInterval(heartbeat);
          inFlight.delete(work);
        }
        return [];
      },
    });
    consumer.on('error', (error: Error & { code?: string }) => {
      // Our own abort of the long poll at shutdown is not a failure.
      if (error.name === 'AbortError' || error.code === 'AbortError') logger.debug({ err: error }, 'long poll aborted');
      else logger.error({ err: error }, 'consumer error');
    });
    const received = () => {
      lastReceiveAt = Date.now();
    };
    consumer.on('empty', received);
    consumer.on('message_received', received);
    return consumer;
  });

  /**
   * Extends a message's visibility every third of the timeout until its handling settles, with no
   * abort signal: it goes on through shutdown for as long as the handler runs.
   */
  function keepInvisible(message: Message, work: Promise<void>): NodeJS.Timeout {
    let settled = false;
    void work.finally(() => (settled = true)).catch(() => undefined);
    return setInterval(() => {
      sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: visibilityTimeout })).catch((error: unknown) => {
        // After the handler settled, the message may be gone already: nothing to extend.
        if (!settled) logger.warn({ err: error, messageId: message.MessageId }, 'could not extend visibility; the message may be received again');
      });
    }, Math.max(1, Math.floor(visibilityTimeout / 3)) * 1000);
  }

  /**
   * Liveness: the poll loop completed a receive lately, or is busy with handlers that are not
   * overdue. Throws, naming what is stuck, for /health.
   */
  const alive = () => {
    const now = Date.now();
    const overdue = [...inFlight.values()].filter((at) => now - at > handlerDeadlineMs).length;
    if (overdue > 0) return Promise.reject(new Error(`${overdue} handler(s) running for over ${Math.round(handlerDeadlineMs / 1000)} s`));
    if (inFlight.size === 0 && now - lastReceiveAt > livenessMs) return Promise.reject(new Error(`no receive completed for ${Math.round((now - lastReceiveAt) / 1000)} s`));
    return Promise.resolve();
  };

  const stopTaking = () => {
    for (const consumer of pollers) consumer.stop({ abort: true });
  };

  return {
    name,
    alive,
    start() {
      lastReceiveAt = Date.now();
      for (const consumer of pollers) consumer.start();
      logger.info({ queueUrl, pollers: pollers.length }, 'consuming');
    },
    stopTaking,
    async stop() {
      stopTaking();
      await within(Promise.allSettled([...inFlight.keys()]), drainTimeoutMs);
      if (inFlight.size > 0) logger.warn({ inFlight: inFlight.size }, 'stopped before in-flight messages drained');
    },
  };
}
