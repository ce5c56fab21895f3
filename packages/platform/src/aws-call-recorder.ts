/**
 * Test only: records every AWS call a process makes (client, command, and the resource
 * identifiers in its input) as one JSON line each, so tests/iam/evaluate.ts can check each call
 * against the service's task role in the rendered template. The emulator enforces no IAM, so a
 * missing permission would otherwise show only on AWS (review C1). Armed by FLOTILLA_TEST_AWS_CALLS
 * (a directory), which only tests set; unarmed, no middleware is added at all.
 *
 * Only identifiers are recorded, never item bodies, message bodies or object contents.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface CallRecording {
  /** Directory of the JSONL files; one file per process (service, prefix, pid). */
  directory: string;
  service: string;
  prefix: string;
}

/** One recorded call. `input` keeps only the identifier fields listed in IDENTIFIER_FIELDS. */
export interface RecordedCall {
  service: string;
  prefix: string;
  /** SDK client name without "Client", e.g. DynamoDB, DynamoDBStreams, SQS, S3. */
  client: string;
  /** SDK command name without "Command", e.g. TransactWriteItems. */
  command: string;
  input: Record<string, unknown>;
  /** Error name when the call failed (an emulator error, not an IAM decision). */
  error?: string;
}

/** Top-level input fields that name a resource (or change which IAM actions a call needs). */
const IDENTIFIER_FIELDS = [
  'TableName',
  'IndexName',
  'QueueUrl',
  'QueueName',
  'TopicArn',
  'TargetArn',
  'Bucket',
  'Key',
  'CopySource',
  'TaggingDirective',
  'Tagging',
  'StateMachineArn',
  'executionArn',
  'stateMachineArn',
  'StreamArn',
  'cluster',
  'service',
  // ECS: DescribeServices names services, DescribeTasks tasks, ListTasks a service by name.
  'services',
  'tasks',
  'serviceName',
] as const;

/** The part of an SDK v3 client that call watchers use: its middleware stack, at the initialize step. */
export interface WithMiddleware {
  middlewareStack: {
    add(
      middleware: (next: (args: { input: unknown }) => Promise<{ output: unknown }>, context: { clientName?: string; commandName?: string }) => (args: { input: unknown }) => Promise<{ output: unknown }>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/** DynamoDB Streams' GetRecords names its stream only through the iterator: remember whose each is. */
const iteratorStreams = new Map<string, string>();

function identifiers(command: string, input: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const field of IDENTIFIER_FIELDS) if (input[field] !== undefined) kept[field] = input[field];
  // Multi-table and multi-kind calls: keep the table and the kind of each item, not its content.
  if (Array.isArray(input.TransactItems)) {
    kept.TransactItems = (input.TransactItems as Array<Record<string, { TableName?: string }>>).map((item) => {
      const [kind, body] = Object.entries(item)[0] ?? ['unknown', {}];
      return { kind, TableName: body.TableName };
    });
  }
  if (input.RequestItems && typeof input.RequestItems === 'object') {
    kept.RequestItems = Object.fromEntries(
      Object.entries(input.RequestItems as Record<string, unknown>).map(([table, requests]) => [
        table,
        Array.isArray(requests) ? [...new Set(requests.map((r: Record<string, unknown>) => Object.keys(r)[0]))] : ['Keys'],
      ]),
    );
  }
  if (command === 'GetRecords' && typeof input.ShardIterator === 'string') kept.StreamArn = iteratorStreams.get(input.ShardIterator) ?? 'unknown';
  return kept;
}

function noteIterators(command: string, input: Record<string, unknown>, output: Record<string, unknown>): void {
  if (command === 'GetShardIterator' && typeof output.ShardIterator === 'string' && typeof input.StreamArn === 'string') {
    iteratorStreams.set(output.ShardIterator, input.StreamArn);
  }
  if (command === 'GetRecords' && typeof input.ShardIterator === 'string') {
    const stream = iteratorStreams.get(input.ShardIterator);
    iteratorStreams.delete(input.ShardIterator);
    if (stream && typeof output.NextShardIterator === 'string') iteratorStreams.set(output.NextShardIterator, stream);
  }
}

/** Adds the recording middleware to one SDK client. */
export function recordCalls(client: unknown, recording: CallRecording): void {
  mkdirSync(recording.directory, { recursive: true });
  const file = join(recording.directory, `${recording.service}-${recording.prefix}-${process.pid}.jsonl`);
  (client as WithMiddleware).middlewareStack.add(
    (next, context) => async (args) => {
      const clientName = (context.clientName ?? 'unknown').replace(/Client$/, '');
      const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
      const input = (args.input ?? {}) as Record<string, unknown>;
      const call: RecordedCall = { service: recording.service, prefix: recording.prefix, client: clientName, command, input: identifiers(command, input) };
      try {
        const result = await next(args);
        noteIterators(command, input, (result.output ?? {}) as Record<string, unknown>);
        return result;
      } catch (error) {
        call.error = error instanceof Error ? error.name : 'unknown';
        throw error;
      } finally {
        // Synchronous: a process killed right after a call still leaves the line behind.
        appendFileSync(file, `${JSON.stringify(call)}\n`);
      }
    },
    { step: 'initialize', name: 'flotillaTestCallRecorder' },
  );
}
