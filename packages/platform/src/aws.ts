/**
 * AWS SDK clients, built once per process from one place. Everything else in the platform package
 * takes these clients; services never construct SDK clients themselves.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { recordCalls, type CallRecording } from './aws-call-recorder.ts';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** The middleware stack a call watcher adds to (the call recorder here, the tests' watched clients, the bench's timers). */
export type { WithMiddleware } from './aws-call-recorder.ts';

export interface AwsSettings {
  region: string;
  /** Set only for a local emulator; undefined means the real AWS endpoints. */
  endpoint?: string | undefined;
  /** Static credentials, for the emulator only; unset means the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Test only (FLOTILLA_TEST_AWS_CALLS): record every call to a JSONL file for the IAM test. */
  recordCalls?: CallRecording | undefined;
  /** Per-attempt timeouts (default DEFAULT_AWS_TIMEOUTS). */
  timeouts?: AwsTimeouts | undefined;
  /** Attempts per call, the first included (the SDK retries throttling, 5xx and timeouts). */
  maxAttempts?: number | undefined;
}

/**
 * Without these the SDK waits forever on an endpoint that accepted the connection and never
 * answers (node-http-handler has no default socket timeout), and the consumer that made the call
 * is wedged with it. Each timeout fails the attempt with a retryable TimeoutError.
 */
export interface AwsTimeouts {
  /** To establish the TCP (and TLS) connection. */
  connectMs: number;
  /** To the response's headers, and the longest silence while its body streams in. */
  requestMs: number;
}

export const DEFAULT_AWS_TIMEOUTS: AwsTimeouts = { connectMs: 3_000, requestMs: 10_000 };

/** SQS long polls (ReceiveMessage WaitTimeSeconds, at most 20 s) answer only after the wait: SQS gets that on top. */
const SQS_LONG_POLL_MS = 20_000;

/** Control-plane calls that may legitimately take long to answer (the emulator creates a stack's resources, or starts a container, before answering). */
const SLOW_CONTROL_PLANE_MS = 50_000;

function httpHandler(timeouts: AwsTimeouts, extraMs = 0): NodeHttpHandler {
  return new NodeHttpHandler({
    connectionTimeout: timeouts.connectMs,
    requestTimeout: timeouts.requestMs + extraMs,
    // Without this a request timeout only logs a warning.
    throwOnRequestTimeout: true,
    socketTimeout: timeouts.requestMs + extraMs,
  });
}

export interface AwsClients {
  readonly settings: AwsSettings;
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  readonly ecs: ECSClient;
  readonly cloudformation: CloudFormationClient;
  readonly sts: STSClient;
  destroy(): void;
}

/** Clients are created on first use, so a service pays only for the ones it touches. */
export function createAwsClients(settings: AwsSettings): AwsClients {
  const base = {
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    maxAttempts: settings.maxAttempts ?? 5,
  };
  const timeouts = settings.timeouts ?? DEFAULT_AWS_TIMEOUTS;
  // A handler per client: destroying a client destroys its handler's sockets.
  const withTimeouts = (extraMs = 0) => ({ ...base, requestHandler: httpHandler(timeouts, extraMs) });
  const cache = new Map<string, { destroy(): void }>();
  const lazy = <T extends { destroy(): void }>(key: string, make: () => T): T => {
    let client = cache.get(key) as T | undefined;
    if (!client) {
      client = make();
      if (settings.recordCalls) recordCalls(client, settings.recordCalls);
      cache.set(key, client);
    }
    return client;
  };
  return {
    settings,
    get dynamodb() { return lazy('dynamodb', () => new DynamoDBClient(withTimeouts())); },
    get streams() { return lazy('streams', () => new DynamoDBStreamsClient(withTimeouts())); },
    get sqs() { return lazy('sqs', () => new SQSClient(withTimeouts(SQS_LONG_POLL_MS))); },
    get sns() { return lazy('sns', () => new SNSClient(withTimeouts())); },
    // Path-style addressing: the emulator serves buckets under one host, not per-bucket DNS names.
    get s3() { return lazy('s3', () => new S3Client({ ...withTimeouts(), forcePathStyle: Boolean(settings.endpoint) })); },
    get sfn() { return lazy('sfn', () => new SFNClient(withTimeouts())); },
    get ecs() { return lazy('ecs', () => new ECSClient(withTimeouts(SLOW_CONTROL_PLANE_MS))); },
    get cloudformation() { return lazy('cloudformation', () => new CloudFormationClient(withTimeouts(SLOW_CONTROL_PLANE_MS))); },
    get sts() { return lazy('sts', () => new STSClient(withTimeouts())); },
    destroy() {
      for (const client of cache.values()) client.destroy();
      cache.clear();
    },
  };
}
