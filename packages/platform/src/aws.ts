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

export interface AwsSettings {
  region: string;
  /** Set only for a local emulator; undefined means the real AWS endpoints. */
  endpoint?: string | undefined;
  /** Static credentials, for the emulator only; unset means the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Test only (FLOTILLA_TEST_AWS_CALLS): record every call to a JSONL file for the IAM test. */
  recordCalls?: CallRecording | undefined;
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
    maxAttempts: 5,
  };
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
    get dynamodb() { return lazy('dynamodb', () => new DynamoDBClient(base)); },
    get streams() { return lazy('streams', () => new DynamoDBStreamsClient(base)); },
    get sqs() { return lazy('sqs', () => new SQSClient(base)); },
    get sns() { return lazy('sns', () => new SNSClient(base)); },
    // Path-style addressing: the emulator serves buckets under one host, not per-bucket DNS names.
    get s3() { return lazy('s3', () => new S3Client({ ...base, forcePathStyle: Boolean(settings.endpoint) })); },
    get sfn() { return lazy('sfn', () => new SFNClient(base)); },
    get ecs() { return lazy('ecs', () => new ECSClient(base)); },
    get cloudformation() { return lazy('cloudformation', () => new CloudFormationClient(base)); },
    get sts() { return lazy('sts', () => new STSClient(base)); },
    destroy() {
      for (const client of cache.values()) client.destroy();
      cache.clear();
    },
  };
}
