/**
 * The stack's dead-letter queues, for operators: list them with their depth and a sample of what
 * failed (the `FailureReason`/`FailureName` attributes the consumer puts on every message it
 * gives up on), move their messages back to the queues they came from, or purge them.
 *
 * Redrive is done by hand (receive, send, delete) because the emulator has no redrive API
 * (StartMessageMoveTask); the source of each DLQ is found the way SQS itself knows it, from the
 * source queues' RedrivePolicy (deadLetterTargetArn), not from the names.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { FlotillaError } from './errors.ts';
import { dlqOf, names, REGIONS, syncQueueSuffix } from './resources.ts';

/** Attributes the consumer adds when it dead-letters a message; a redriven message leaves them behind. */
export const FAILURE_ATTRIBUTES = ['FailureReason', 'FailureName', 'FailedQueue', 'ReceiveCount'] as const;

/** A sampled message is hidden this long at most, and released at once after it is read. */
const SAMPLE_VISIBILITY_SECONDS = 5;
/** A message being moved is hidden this long, enough for one send and one delete. */
const MOVE_VISIBILITY_SECONDS = 30;

/** No dead-letter queue matches what was asked (wrong prefix, stack not deployed, unknown --queue name). */
export class DeadLetterQueueNotFoundError extends FlotillaError {
  readonly retryable = false;
}

export interface QueueDepth {
  /** Messages waiting to be received. */
  visible: number;
  /** Messages received and not yet deleted (being handled, or hidden by a retry delay). */
  inFlight: number;
  /** Messages sent with a delay that has not passed yet. */
  delayed: number;
}

export interface DeadLetterSample {
  messageId: string;
  /** The first 500 characters of the body. */
  body: string;
  failureReason?: string | undefined;
  failureName?: string | undefined;
  receiveCount?: string | undefined;
  sentAt?: string | undefined;
}

export interface DeadLetterQueue {
  name: string;
  url: string;
  /** The queue whose RedrivePolicy names this DLQ; undefined when none does. */
  source?: { name: string; url: string } | undefined;
  depth: QueueDepth;
  samples: DeadLetterSample[];
}

export interface RedriveResult {
  dlq: string;
  source?: string | undefined;
  moved: number;
  /** Why nothing could move (no source queue). */
  skipped?: string | undefined;
  /** Messages still in the DLQ after the move (new arrivals, or ones that failed to move). */
  remaining: number;
}

export interface PurgeResult {
  dlq: string;
  /** Depth (visible + in flight + delayed) just before the purge. */
  purged: number;
}

/**
 * Suffixes of every queue a stack may create with a DLQ: the service queues and one sync queue per
 * region (`regions`: default every region; a stack deployed with fewer simply lacks the others).
 */
export const stackQueueSuffixes = (regions: readonly string[] = REGIONS): string[] => [...Object.values(names.queues), ...regions.map(syncQueueSuffix)];

const queueNameOf = (url: string): string => url.slice(url.lastIndexOf('/') + 1);

const redrivePolicySchema = z.object({ deadLetterTargetArn: z.string().min(1) });

async function listQueueUrls(sqs: SQSClient, namePrefix: string): Promise<string[]> {
  const urls: string[] = [];
  let NextToken: string | undefined;
  do {
    const out = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: namePrefix, MaxResults: 1000, NextToken }));
    urls.push(...(out.QueueUrls ?? []));
    NextToken = out.NextToken;
  } while (NextToken);
  return urls;
}

const count = (value: string | undefined): number => Number(value ?? 0) || 0;

/** Approximate depth of one queue (exact on the emulator). */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  return { visible: count(a.ApproximateNumberOfMessages), inFlight: count(a.ApproximateNumberOfMessagesNotVisible), delayed: count(a.ApproximateNumberOfMessagesDelayed) };
}

/**
 * The stack's queues under `prefix`, each paired with its DLQ. Only names the stack creates
 * count, so a longer prefix that starts the same way (`flotilla-x-...`) is never mixed in.
 */
async function stackQueues(sqs: SQSClient, prefix: string): Promise<{ dlqs: Array<{ name: string; url: string }>; sources: Array<{ name: string; url: string }> }> {
  const wanted = new Set(stackQueueSuffixes().map((s) => `${prefix}-${s}`));
  const wantedDlqs = new Set([...wanted].map(dlqOf));
  const all = (await listQueueUrls(sqs, `${prefix}-`)).map((url) => ({ name: queueNameOf(url), url }));
  return {
    dlqs: all.filter((q) => wantedDlqs.has(q.name)).sort((a, b) => a.name.localeCompare(b.name)),
    sources: all.filter((q) => wanted.has(q.name)),
  };
}

/** Maps each DLQ's ARN to the queue that dead-letters into it, from the sources' RedrivePolicy. */
async function sourcesByDlqArn(sqs: SQSClient, sources: Array<{ name: string; url: string }>): Promise<Map<string, { name: string; url: string }>> {
  const pairs = await Promise.all(
    sources.map(async (source) => {
      const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: source.url, AttributeNames: ['RedrivePolicy'] }));
      const raw = out.Attributes?.RedrivePolicy;
      if (!raw) return undefined;
      const policy = redrivePolicySchema.safeParse(JSON.parse(raw));
      return policy.success ? ([policy.data.deadLetterTargetArn, source] as const) : undefined;
    }),
  );
  return new Map(pairs.filter((p) => p !== undefined));
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new DeadLetterQueueNotFoundError(`queue ${queueUrl} has no ARN`, { queueUrl });
  return arn;
}

/**
 * Which DLQs a `--queue` selector names: the DLQ's own name, its source queue's name, or the
 * suffix after the prefix (`intake`, `intake-dlq`, `flotilla-intake-dlq` all name one queue).
 */
export function selectDeadLetterQueues<Q extends { name: string }>(dlqs: readonly Q[], prefix: string, selector: string | undefined): Q[] {
  if (selector === undefined) return [...dlqs];
  const candidates = new Set([selector, dlqOf(selector), `${prefix}-${selector}`, `${prefix}-${dlqOf(selector)}`]);
  return dlqs.filter((q) => candidates.has(q.name));
}

async function resolve(sqs: SQSClient, prefix: string, selector: string | undefined) {
  const { dlqs, sources } = await stackQueues(sqs, prefix);
  if (dlqs.length === 0) throw new DeadLetterQueueNotFoundError(`no dead-letter queues named ${prefix}-*-dlq (is the stack deployed under prefix ${prefix}?)`, { prefix });
  const selected = selectDeadLetterQueues(dlqs, prefix, selector);
  if (selected.length === 0) {
    throw new DeadLetterQueueNotFoundError(`no dead-letter queue matches ${selector}; there are: ${dlqs.map((q) => q.name).join(', ')}`, { prefix, selector });
  }
  const bySource = await sourcesByDlqArn(sqs, sources);
  return Promise.all(selected.map(async (dlq) => ({ ...dlq, source: bySource.get(await queueArn(sqs, dlq.url)) })));
}

const stringAttribute = (message: Message, name: string): string | undefined => message.MessageAttributes?.[name]?.StringValue;

/**
 * Reads up to `max` messages without consuming them: each is hidden for a few seconds at most
 * and made visible again right after it is read, so a consumer or a redrive still finds it.
 */
async function sample(sqs: SQSClient, queueUrl: string, max: number): Promise<DeadLetterSample[]> {
  if (max <= 0) return [];
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.min(10, max),
      VisibilityTimeout: SAMPLE_VISIBILITY_SECONDS,
      WaitTimeSeconds: 0,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
    }),
  );
  const messages = out.Messages ?? [];
  if (messages.length > 0) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
  return messages.map((m) => {
    const sent = Number(m.Attributes?.SentTimestamp);
    return {
      messageId: m.MessageId ?? '',
      body: (m.Body ?? '').slice(0, 500),
      failureReason: stringAttribute(m, 'FailureReason'),
      failureName: stringAttribute(m, 'FailureName'),
      receiveCount: stringAttribute(m, 'ReceiveCount'),
      sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined,
    };
  });
}

/** Every DLQ of the stack (or those `queue` names) with its depth, its source queue and up to `sampleSize` messages. */
export async function listDeadLetterQueues(sqs: SQSClient, prefix: string, options: { queue?: string | undefined; sampleSize?: number } = {}): Promise<DeadLetterQueue[]> {
  const dlqs = await resolve(sqs, prefix, options.queue);
  return Promise.all(
    dlqs.map(async (dlq) => {
      const depth = await queueDepth(sqs, dlq.url);
      return { ...dlq, depth, samples: depth.visible > 0 ? await sample(sqs, dlq.url, options.sampleSize ?? 3) : [] };
    }),
  );
}

/** The message's attributes as they were before it was dead-lettered. */
export function withoutFailureAttributes(attributes: Record<string, MessageAttributeValue> | undefined): Record<string, MessageAttributeValue> | undefined {
  if (!attributes) return undefined;
  const kept = Object.entries(attributes).filter(([name]) => !(FAILURE_ATTRIBUTES as readonly string[]).includes(name));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

async function moveAll(sqs: SQSClient, dlqUrl: string, sourceUrl: string, limit: number): Promise<number> {
  let moved = 0;
  while (moved < limit) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(10, limit - moved),
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      // Send before delete: a crash in between leaves a duplicate, never a lost message.
      await sqs.send(new SendMessageCommand({ QueueUrl: sourceUrl, MessageBody: message.Body ?? '', MessageAttributes: withoutFailureAttributes(message.MessageAttributes) }));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle }));
      moved += 1;
    }
  }
  return moved;
}

/**
 * Moves the messages each DLQ held when the call started back to its source queue (body and
 * attributes kept, failure attributes dropped). Messages that fail again and return to the DLQ
 * during the move are new arrivals, so the count bound keeps it from chasing its own tail.
 */
export async function redriveDeadLetters(sqs: SQSClient, prefix: string, options: { queue?: string | undefined } = {}): Promise<RedriveResult[]> {
  const dlqs = await resolve(sqs, prefix, options.queue);
  const results: RedriveResult[] = [];
  for (const dlq of dlqs) {
    const before = await queueDepth(sqs, dlq.url);
    if (!dlq.source) {
      results.push({ dlq: dlq.name, moved: 0, skipped: 'no queue names it in its RedrivePolicy', remaining: before.visible });
      continue;
    }
    const moved = before.visible > 0 ? await moveAll(sqs, dlq.url, dlq.source.url, before.visible) : 0;
    const after = await queueDepth(sqs, dlq.url);
    results.push({ dlq: dlq.name, source: dlq.source.name, moved, remaining: after.visible + after.inFlight });
  }
  return results;
}

/** Deletes every message of each DLQ (or of those `queue` names). */
export async function purgeDeadLetters(sqs: SQSClient, prefix: string, options: { queue?: string | undefined } = {}): Promise<PurgeResult[]> {
  const dlqs = await resolve(sqs, prefix, options.queue);
  return Promise.all(
    dlqs.map(async (dlq) => {
      const { visible, inFlight, delayed } = await queueDepth(sqs, dlq.url);
      await sqs.send(new PurgeQueueCommand({ QueueUrl: dlq.url }));
      return { dlq: dlq.name, purged: visible + inFlight + delayed };
    }),
  );
}
