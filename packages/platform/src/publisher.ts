/** Publishing to SNS topics, with string message attributes that subscriptions filter on. */
import { PublishBatchCommand, PublishCommand, type MessageAttributeValue, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';

export type MessageAttributes = Record<string, string | undefined>;

function messageAttributes(attributes: MessageAttributes): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined) out[key] = { DataType: 'String', StringValue: value };
  }
  return out;
}

const body = (message: unknown): string => (typeof message === 'string' ? message : JSON.stringify(message));

export async function publish(sns: SNSClient, topicArn: string, message: unknown, attributes: MessageAttributes = {}): Promise<string> {
  const out = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: body(message), MessageAttributes: messageAttributes(attributes) }));
  return out.MessageId ?? '';
}

/** SNS's bounds on one PublishBatch: ten entries, 256 KiB in all. */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

/** One or more entries of a PublishBatch were refused: nothing says which others were delivered but those not named. */
export class PublishBatchError extends Error {
  readonly failed: ReadonlyArray<{ id: string; code: string; message: string }>;

  constructor(failed: ReadonlyArray<{ id: string; code: string; message: string }>) {
    super(`SNS refused ${failed.length} message(s) of a batch: ${failed.map((f) => `${f.code}: ${f.message}`).join('; ')}`);
    this.name = 'PublishBatchError';
    this.failed = failed;
  }
}

/**
 * Publishes `messages` in as few PublishBatch requests as SNS allows (ten entries and 256 KiB each),
 * one request after another, telling `onSent` the index of each message SNS accepted. Throws
 * PublishBatchError naming any entry SNS refused, after sending the rest: the caller retries those,
 * and subscribers may see a message more than once, never less.
 */
export async function publishAll(
  sns: SNSClient,
  topicArn: string,
  messages: ReadonlyArray<{ message: unknown; attributes?: MessageAttributes }>,
  onSent: (index: number) => void = () => undefined,
): Promise<void> {
  const failed: Array<{ id: string; code: string; message: string }> = [];
  let entries: PublishBatchRequestEntry[] = [];
  let bytes = 0;
  const flush = async () => {
    if (entries.length === 0) return;
    const out = await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }));
    for (const f of out.Failed ?? []) failed.push({ id: f.Id ?? '?', code: f.Code ?? 'Failed', message: f.Message ?? '' });
    for (const sent of out.Successful ?? []) onSent(Number(sent.Id));
    entries = [];
    bytes = 0;
  };
  for (const [i, { message, attributes = {} }] of messages.entries()) {
    const entry: PublishBatchRequestEntry = { Id: String(i), Message: body(message), MessageAttributes: messageAttributes(attributes) };
    const size = Buffer.byteLength(entry.Message ?? '') + Buffer.byteLength(JSON.stringify(entry.MessageAttributes));
    if (entries.length === MAX_BATCH_ENTRIES || (entries.length > 0 && bytes + size > MAX_BATCH_BYTES)) await flush();
    entries.push(entry);
    bytes += size;
  }
  await flush();
  if (failed.length > 0) throw new PublishBatchError(failed);
}
