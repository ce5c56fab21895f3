/**
 * Helpers for integration and end-to-end tests: clients pointed at the emulator, unique stack
 * prefixes, polling with a deadline (tests never sleep to synchronise), and the emulator as a
 * Testcontainers module (MiniStackContainer).
 */
import { randomBytes } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createEventId, type TestRunRequest } from '@flotilla/events';
import type { WithMiddleware } from '../aws-call-recorder.ts';
import { createAwsClients, type AwsClients } from '../aws.ts';
import { REGIONS } from '../resources.ts';
import { deleteStack, deployStack } from '../stack.ts';
import { testEnv } from './config.ts';

export { testEnv, type TestEmulatorChoice } from './config.ts';
export {
  DEFAULT_MINISTACK_PORT,
  MINISTACK_CONTAINER_LABEL,
  MiniStackContainer,
  StartedMiniStackContainer,
} from './ministack-container.ts';
export { LOCAL_IMAGES, ministackImage, pinnedEmulatorVersion } from './local-images.ts';
export { containersLabelled, docker, dockerHost, DockerEngineMissingError, ensureLocalImages, removeContainersLabelled, type Container } from './docker.ts';
export { deployedRunnerDefinition, runnerDefinitionWithCommand, runnerLabels, runnerService, runningRunnerTasks, runRunnersWithCommand, WAIT_FOR_STOP } from './runners.ts';

/** Clients for the emulator at AWS_ENDPOINT_URL, or at `endpoint` (a test's own emulator). */
export function testAwsClients(endpoint: string = testEnv.AWS_ENDPOINT_URL): AwsClients {
  return createAwsClients({
    region: testEnv.AWS_REGION,
    endpoint,
    credentials: { accessKeyId: testEnv.AWS_ACCESS_KEY_ID, secretAccessKey: testEnv.AWS_SECRET_ACCESS_KEY },
  });
}

/** One SDK call as a watched client made it: the command (without "Command"), its input, and its output once answered. */
export interface WatchedCall {
  command: string;
  input: Record<string, unknown>;
  output?: Record<string, unknown>;
}

/**
 * Clients for the emulator, like testAwsClients, with every call they make listed in `calls`: for
 * tests that count the calls a piece of code makes against the real emulator (SDK middleware, no mock).
 */
export function watchedTestClients(endpoint?: string): { aws: AwsClients; calls: WatchedCall[] } {
  const aws = testAwsClients(endpoint);
  const calls: WatchedCall[] = [];
  for (const client of Object.values(aws)) {
    const stack = (client as Partial<WithMiddleware>).middlewareStack;
    if (!stack) continue;
    stack.add(
      (next, context) => async (args) => {
        const call: WatchedCall = { command: (context.commandName ?? 'unknown').replace(/Command$/, ''), input: (args.input ?? {}) as Record<string, unknown> };
        calls.push(call);
        const result = await next(args);
        call.output = (result.output ?? {}) as Record<string, unknown>;
        return result;
      },
      { step: 'initialize', name: 'watchedTestClients' },
    );
  }
  return { aws, calls };
}

/** A prefix no other test file uses, valid as a stack Prefix (lowercase, starts with a letter). */
export function uniquePrefix(label: string): string {
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 14).replace(/-+$/, '');
  return `t${slug ? `-${slug}` : ''}-${randomBytes(3).toString('hex')}`;
}

export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  description?: string;
}

/**
 * Polls `probe` until it returns a value other than undefined, or throws with the last error
 * once the deadline passes. The interval is a poll cadence, not a synchronisation sleep.
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 100, description = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.name}: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface TestStack {
  prefix: string;
  /** The logical regions this stack has (its sync queues and buckets), in the order of deploy/regions.json. */
  regions: readonly string[];
  outputs: Record<string, string>;
  destroy(): Promise<void>;
}

/**
 * The regions a test stack gets unless its test asks for others: the first five of
 * deploy/regions.json, the regions every stack had before the list grew, so each test's stack
 * costs what it did and the tests naming those regions keep their meaning.
 */
export const DEFAULT_TEST_REGIONS: readonly string[] = REGIONS.slice(0, 5);

export interface TestStackOptions {
  /** The stack's regions (default DEFAULT_TEST_REGIONS). */
  regions?: readonly string[];
  /**
   * The API token the stack's secret holds, which its runner tasks get as FLOTILLA_API_TOKEN: the
   * token of the fleet the runners call (tests/support/test-fleet.ts TEST_API_TOKEN). Unset: empty.
   */
  apiToken?: string;
}

/**
 * Deploys the project's template under `prefix`, as the run command does, for `regions` only
 * (default DEFAULT_TEST_REGIONS; each region adds a queue, its DLQ, a bucket and a runner service
 * to deploy); `destroy` deletes it.
 */
export async function deployTestStack(clients: AwsClients, prefix: string, options: TestStackOptions = {}): Promise<TestStack> {
  const { regions = DEFAULT_TEST_REGIONS, apiToken } = options;
  const parameters: Record<string, string> = apiToken === undefined ? {} : { ApiToken: apiToken };
  const outputs = await deployStack({ clients, prefix, target: 'local', regions, parameters });
  return { prefix, regions: REGIONS.filter((r) => regions.includes(r)), outputs, destroy: () => deleteStack({ clients, prefix }) };
}

export type SampleBuildRequest = Record<string, unknown> & {
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
  regions: string[];
  hostsPerRegion: number;
};

/** A valid test-run request for `regions`: a small script of one submission a second, for 5 s. */
export function sampleTestRunRequest(regions: string[], overrides: Partial<TestRunRequest> = {}): TestRunRequest {
  return {
    script: {
      name: 'sample',
      durationSeconds: 5,
      scenarios: { submit: 1, read: 0, follow: 0 },
      build: { regions: ['us-east-1'], hostsPerRegion: 1 },
      thresholds: { p95Ms: 500, failedRate: 0.01, droppedIterations: 0 },
    },
    regions,
    startBufferMs: 1_000,
    vusPerRegion: 10,
    target: 'http://127.0.0.1:8080',
    ...overrides,
  };
}

/** A valid build request body (a fresh version each call), with `overrides` applied (they may be invalid on purpose). */
export function sampleBuildRequest(overrides: Record<string, unknown> = {}): SampleBuildRequest {
  return {
    repo: 'payments-api',
    env: 'prod',
    version: `1.${Math.floor(Math.random() * 1e6)}.0`,
    branch: 'main',
    commit: 'abc1234',
    regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'],
    hostsPerRegion: 20,
    ...overrides,
  };
}

/**
 * A queue of the test's own subscribed to `topicArn` (raw delivery), to count what the topic
 * sends (alerts, events). Returns its URL; deleting the stack does not delete it.
 */
export async function subscribeTestQueue(clients: AwsClients, topicArn: string, queueName: string): Promise<string> {
  const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl ?? '';
  const queueArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
  const policy = { Statement: [{ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: queueArn, Condition: { ArnEquals: { 'aws:SourceArn': topicArn } } }] };
  await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(policy) } }));
  await clients.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'true' } }));
  return queueUrl;
}

/**
 * A stored item of the events table as a later writer would put it: a region.synced at a
 * schemaVersion this code does not know (99), for tests of what readers do with the future.
 */
export function newerSchemaItem(stream: string, version: number, correlationId: string, data: Record<string, unknown>): Record<string, AttributeValue> {
  const now = new Date().toISOString();
  return {
    stream: { S: stream },
    version: { N: String(version) },
    bucket: { S: now.slice(0, 10) },
    id: { S: createEventId() },
    type: { S: 'region.synced' },
    schemaVersion: { N: '99' },
    occurredAt: { S: now },
    correlationId: { S: correlationId },
    causationId: { S: 'a-newer-writer' },
    data: { S: JSON.stringify({ ...data, somethingNew: true }) },
  };
}

/** A stored item of the events table that no writer of this code would make: a build.requested whose payload is not JSON. */
export function corruptItem(buildId: string, streamOf: (id: string) => string): Record<string, AttributeValue> {
  return {
    stream: { S: streamOf(buildId) },
    version: { N: '1' },
    bucket: { S: new Date().toISOString().slice(0, 10) },
    id: { S: buildId },
    type: { S: 'build.requested' },
    schemaVersion: { N: '1' },
    data: { S: '{"buildId": not json' },
  };
}
