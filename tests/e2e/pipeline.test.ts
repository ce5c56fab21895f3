/**
 * The deployment pipeline end to end: every service runs as its own process, started by the run
 * command's processes (deploy/services.ts) and configuration (only the stack prefix and failure injection differ),
 * against a stack of its own in the emulator. Assertions go through HTTP and the AWS APIs.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, parseEvent, type BuildEvent } from '@flotilla/events';
import { EventStore, locate, readBuildEvents, Records, type Locator } from '@flotilla/platform';
import { eventually, sampleBuildRequest, subscribeTestQueue, testAwsClients, type TestStack } from '@flotilla/platform/testing';
import { ROOT, type Fleet } from '../../scripts/fleet.ts';
import { apiFetch, awsEnv, startTestFleet, type TestFleet } from '../support/test-fleet.ts';

const run = promisify(execFile);
const aws = testAwsClients();
const REGIONS_3 = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
/** Failure injection: this region's copies always fail; the happy paths never ask for it. */
const FAILING_REGION = 'eu-central-1';
const HOSTS = 1_000;

let stack: TestStack;
let fleet: Fleet;
let running: TestFleet;
let where: Locator;
let store: EventStore;
let alertsQueueUrl: string;
const since = new Date();

beforeAll(async () => {
  running = await startTestFleet(aws, 'pipeline', { overrides: { replication: { FAIL_REPLICATION_REGIONS: FAILING_REGION } } });
  ({ stack, fleet } = running);
  where = await locate(aws, stack.prefix);
  store = new EventStore(aws.dynamodb, where.names.tables.events);
  // A test queue on the alerts topic, to count alerts.
  alertsQueueUrl = await subscribeTestQueue(aws, where.topicArn(where.names.topics.alerts), `${stack.prefix}-test-alerts`);
});

afterAll(async () => {
  await running?.stop();
  aws.destroy();
});

// ---------------------------------------------------------------------------------- helpers

const api = (path: string, init?: RequestInit) => apiFetch(`${fleet.url('build')}${path}`, init);

function postBuild(body: Record<string, unknown>, key: string) {
  return api('/builds', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
}

const request = (overrides: Record<string, unknown> = {}) => sampleBuildRequest({ regions: REGIONS_3, hostsPerRegion: HOSTS, ...overrides });

async function finalStatus(buildId: string, timeoutMs = 90_000): Promise<Record<string, unknown>> {
  return eventually(
    async () => {
      const res = await api(`/builds/${buildId}`);
      if (res.status !== 200) return undefined;
      const view = (await res.json()) as Record<string, unknown>;
      return view.status === 'SUCCESS' || view.status === 'FAILED' ? view : undefined;
    },
    { timeoutMs, intervalMs: 250, description: `build ${buildId} to finish` },
  );
}

const history = (buildId: string): Promise<BuildEvent[]> => readBuildEvents(store, buildStream(buildId));

async function hostRecords(buildId: string, region: string): Promise<number> {
  const out = await aws.dynamodb.send(
    new QueryCommand({ TableName: where.names.tables.hosts, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `build#${buildId}#region#${region}` } }, Select: 'COUNT' }),
  );
  return out.Count ?? 0;
}

async function executionsOf(buildId: string): Promise<number> {
  const out = await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: where.stateMachineArn(), maxResults: 1000 }));
  return (out.executions ?? []).filter((e) => e.name?.endsWith(buildId)).length;
}

/** The build a door made, found by replaying the log in global order. */
async function buildFromDoor(door: string, key: (k: string) => boolean): Promise<string> {
  return eventually(
    async () => {
      for await (const page of store.readAll({ since })) {
        for (const e of page) {
          const event = parseEvent(e);
          if (event.type === 'build.requested' && event.data.source.door === door && key(event.data.source.key)) return event.data.buildId;
        }
      }
      return undefined;
    },
    { timeoutMs: 20_000, description: `a build from the ${door} door` },
  );
}

/** The full success contract for one build over the requested regions. */
async function expectSucceeded(buildId: string, regions: string[], hosts: number) {
  const view = await finalStatus(buildId);
  expect(view.status).toBe('SUCCESS');
  const events = await history(buildId);
  const types = events.map((e) => e.type);
  expect(types[0]).toBe('build.requested');
  expect(types[1]).toBe('build.started');
  expect(types.at(-1)).toBe('build.succeeded');
  expect(types.filter((t) => t === 'artifact.published')).toHaveLength(1);
  expect(events.filter((e) => e.type === 'region.replicated').map((e) => (e.type === 'region.replicated' ? e.data.region : '')).sort()).toEqual([...regions].sort());
  expect(events.filter((e) => e.type === 'region.synced').map((e) => (e.type === 'region.synced' ? e.data.region : '')).sort()).toEqual([...regions].sort());
  expect(types).toHaveLength(4 + 2 * regions.length);
  // build.started comes before every worker's event.
  expect(types.indexOf('build.started')).toBeLessThan(types.indexOf('artifact.published'));
  let total = 0;
  for (const region of regions) {
    const records = await hostRecords(buildId, region);
    expect(records, region).toBe(hosts);
    total += records;
  }
  expect(total).toBe(hosts * regions.length);
  // The stream-fed counters reach the same numbers (they trail the writes, so poll).
  await eventually(
    async () => {
      const current = (await (await api(`/builds/${buildId}`)).json()) as { regions: Record<string, { progress: { hosts: number; synced: number; failed: number } }> };
      return regions.every((r) => current.regions[r]?.progress.hosts === hosts && current.regions[r]?.progress.synced === hosts && current.regions[r]?.progress.failed === 0) ? true : undefined;
    },
    { timeoutMs: 20_000, description: 'host counters to match the host records' },
  );
  expect(await executionsOf(buildId)).toBe(1);
}

async function receiveAll(queueUrl: string, quietSeconds: number): Promise<Message[]> {
  const got: Message[] = [];
  for (;;) {
    const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: quietSeconds, MaxNumberOfMessages: 10 }));
    if (!out.Messages?.length) return got;
    got.push(...out.Messages);
    for (const m of out.Messages) await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

const awslocal = (args: string[]) => run(join(ROOT, '.tools/venv/bin/awslocal'), args, { env: { ...process.env, ...awsEnv } });

// ---------------------------------------------------------------------------------- tests

describe('three doors, one pipeline', () => {
  it('POST /builds for 3 regions x 1,000 hosts reaches SUCCESS, with the whole story in the log', async () => {
    const res = await postBuild(request(), `http-${Date.now()}`);
    expect(res.status).toBe(202);
    const { buildId } = (await res.json()) as { buildId: string };
    expect(res.headers.get('location')).toBe(`/builds/${buildId}`);
    // Follow it live from the start: the stream stays open while the build runs.
    const live = api(`/builds/${buildId}/stream`).then((r) => r.text());
    await expectSucceeded(buildId, REGIONS_3, HOSTS);

    // The live stream carried the whole log in order and ended with the build; Last-Event-ID resumes it.
    const types = (await history(buildId)).map((e) => e.type);
    expect([...(await live).matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(types);
    const replay = await (await api(`/builds/${buildId}/stream`)).text();
    expect([...replay.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(types);
    const resumed = await (await api(`/builds/${buildId}/stream`, { headers: { 'last-event-id': '8' } })).text();
    expect([...resumed.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([9, 10]);
    const events = (await (await api(`/builds/${buildId}/events`)).json()) as { events: Array<{ version: number }> };
    expect(events.events.map((e) => e.version)).toEqual(types.map((_, i) => i + 1));
  });

  it('the awslocal SNS door builds the same way', async () => {
    const requestId = `req-${Date.now()}`;
    const message = { type: 'build.requested', requestId, ...request() };
    await awslocal(['sns', 'publish', '--topic-arn', where.topicArn(where.names.topics.intake), '--message', JSON.stringify(message)]);
    const buildId = await buildFromDoor('sns', (k) => k === requestId);
    await expectSucceeded(buildId, REGIONS_3, HOSTS);
  });

  it('the S3 door (a prebuilt artifact under incoming/) builds the same way, verifying its digest', async () => {
    const file = join(tmpdir(), `flotilla-e2e-${Date.now()}.zip`);
    writeFileSync(file, `prebuilt artifact ${Date.now()}`);
    const version = `9.${Date.now() % 100000}.0`;
    const metadata = { branch: 'main', commit: '0123abc', regions: REGIONS_3.join(','), hosts: String(HOSTS) };
    await awslocal(['s3', 'cp', file, `s3://${where.names.globalBucket}/incoming/search-api/prod/${version}.zip`, '--metadata', JSON.stringify(metadata)]);
    const buildId = await buildFromDoor('s3', (k) => k.includes(`incoming/search-api/prod/${version}.zip#`));
    await expectSucceeded(buildId, REGIONS_3, HOSTS);
    const published = (await history(buildId)).find((e) => e.type === 'artifact.published');
    expect(published?.type === 'artifact.published' && published.data.prebuilt).toBe(true);
  });

  it('refuses an invalid request with 400 naming the field, and nothing reaches the log', async () => {
    const res = await postBuild(request({ env: 'PROD!', regions: ['mars-1'] }), `bad-${Date.now()}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { fields: string[] };
    expect(body.fields.join('\n')).toMatch(/^env: /m);
    expect(body.fields.join('\n')).toMatch(/^regions\.0: must be one of: /m);
    const unknown = await api('/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4');
    expect(unknown.status).toBe(404);
    const missingKey = await api('/builds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request()) });
    expect(missingKey.status).toBe(400);
  });

  it('dead-letters an invalid intake message with the reason attached, and nothing reaches the log', async () => {
    const requestId = `bad-${Date.now()}`;
    await awslocal(['sns', 'publish', '--topic-arn', where.topicArn(where.names.topics.intake), '--message', JSON.stringify({ type: 'build.requested', requestId, repo: 'bad repo!' })]);
    const dlq = await where.queueUrl(`${where.names.queues.intake}-dlq`);
    const dead = await eventually(async () => {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }));
      return out.Messages?.find((m) => m.Body?.includes(requestId));
    }, { timeoutMs: 20_000, description: 'the dead-lettered intake message' });
    expect(dead.MessageAttributes?.FailureName?.StringValue).toBe('InvalidMessageError');
    expect(dead.MessageAttributes?.FailureReason?.StringValue).toMatch(/repo: /);
    let requested = 0;
    for await (const page of store.readAll({ since })) requested += page.filter((e) => JSON.stringify(e.data).includes(requestId)).length;
    expect(requested).toBe(0);
  });
});

describe('an intake key is bound to its request', () => {
  it('a second SNS message with the same requestId but a different request is dead-lettered naming the key', async () => {
    const requestId = `reused-${Date.now()}`;
    const first = { type: 'build.requested', requestId, ...request({ regions: ['us-east-1'], hostsPerRegion: 5 }) };
    await awslocal(['sns', 'publish', '--topic-arn', where.topicArn(where.names.topics.intake), '--message', JSON.stringify(first)]);
    const buildId = await buildFromDoor('sns', (k) => k === requestId);
    await awslocal(['sns', 'publish', '--topic-arn', where.topicArn(where.names.topics.intake), '--message', JSON.stringify({ ...first, hostsPerRegion: 6 })]);
    const dlq = await where.queueUrl(`${where.names.queues.intake}-dlq`);
    const dead = await eventually(async () => {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }));
      return out.Messages?.find((m) => m.Body?.includes(requestId));
    }, { timeoutMs: 20_000, description: 'the dead-lettered intake message' });
    expect(JSON.parse(dead.Body ?? '{}')).toMatchObject({ requestId, hostsPerRegion: 6 });
    expect(dead.MessageAttributes?.FailureName?.StringValue).toBe('IdempotencyKeyReusedError');
    expect(dead.MessageAttributes?.FailureReason?.StringValue).toContain(requestId);
    expect(dead.MessageAttributes?.FailureReason?.StringValue).toContain(buildId);
    // The first request's build goes on as asked.
    expect((await finalStatus(buildId)).status).toBe('SUCCESS');
    expect((await history(buildId)).filter((e) => e.type === 'build.requested')).toHaveLength(1);
  });
});

describe('failure', () => {
  it('an injected replication failure ends FAILED, syncs no region, and raises exactly one alert', async () => {
    const regions = ['us-east-1', FAILING_REGION, 'us-west-2'];
    const res = await postBuild(request({ regions, hostsPerRegion: 50 }), `fail-${Date.now()}`);
    const { buildId } = (await res.json()) as { buildId: string };
    const view = (await finalStatus(buildId)) as { status: string; failure: { reason: string; failedRegions: Array<{ region: string; reason: string }> } };
    expect(view.status).toBe('FAILED');
    expect(view.failure.failedRegions.map((f) => f.region)).toEqual([FAILING_REGION]);
    expect(view.failure.failedRegions[0]?.reason).toContain('injected copy failure');
    expect(view.failure.reason).toContain(FAILING_REGION);
    const events = await history(buildId);
    expect(events.filter((e) => e.type === 'region.synced' || e.type === 'region.sync_failed')).toHaveLength(0);
    const failed = events.find((e) => e.type === 'region.replication_failed');
    expect(failed?.type === 'region.replication_failed' && failed.data.region).toBe(FAILING_REGION);
    expect(events.at(-1)?.type).toBe('build.failed');
    for (const region of regions) expect(await hostRecords(buildId, region)).toBe(0);

    const alerts = await eventually(async () => {
      const got = await receiveAll(alertsQueueUrl, 3);
      return got.length > 0 ? got : undefined;
    }, { timeoutMs: 30_000, description: 'the alert' });
    expect(alerts).toHaveLength(1);
    const alert = JSON.parse(alerts[0]?.Body ?? '{}') as { buildId: string; failedRegions: Array<{ region: string; reason: string }>; text: string };
    expect(alert.buildId).toBe(buildId);
    expect(alert.failedRegions.map((f) => f.region)).toEqual([FAILING_REGION]);
    expect(alert.text).toContain(FAILING_REGION);
  });
});

describe('duplicates make one build, one execution, one build.started', () => {
  const startedCount = async (buildId: string) => (await history(buildId)).filter((e) => e.type === 'build.started').length;

  it('the same HTTP request twice with one Idempotency-Key', async () => {
    const key = `dup-${Date.now()}`;
    const body = request({ hostsPerRegion: 20 });
    const first = (await (await postBuild(body, key)).json()) as { buildId: string; duplicate: boolean };
    const second = (await (await postBuild(body, key)).json()) as { buildId: string; duplicate: boolean };
    expect(second.buildId).toBe(first.buildId);
    expect([first.duplicate, second.duplicate]).toEqual([false, true]);
    expect((await finalStatus(first.buildId)).status).toBe('SUCCESS');
    expect(await startedCount(first.buildId)).toBe(1);
    expect(await executionsOf(first.buildId)).toBe(1);
  });

  it('an intake message sent twice', async () => {
    const requestId = `dup-req-${Date.now()}`;
    const message = JSON.stringify({ type: 'build.requested', requestId, ...request({ hostsPerRegion: 20 }) });
    for (let i = 0; i < 2; i++) await awslocal(['sns', 'publish', '--topic-arn', where.topicArn(where.names.topics.intake), '--message', message]);
    const buildId = await buildFromDoor('sns', (k) => k === requestId);
    expect((await finalStatus(buildId)).status).toBe('SUCCESS');
    let requested = 0;
    for await (const page of store.readAll({ since })) {
      requested += page.filter((e) => e.type === 'build.requested' && (e.data as { source: { key: string } }).source.key === requestId).length;
    }
    expect(requested).toBe(1);
    expect(await startedCount(buildId)).toBe(1);
    expect(await executionsOf(buildId)).toBe(1);
  });

  it('a task message re-sent from a captured copy while the original is in flight', async () => {
    await fleet.stopService('replication');
    const replicationQueue = await where.queueUrl(where.names.queues.replication);
    const { buildId } = (await (await postBuild(request({ regions: ['us-east-1'], hostsPerRegion: 20 }), `dup-task-${Date.now()}`)).json()) as { buildId: string };
    // Capture the task while no worker runs, send a copy, and let the original be delivered again too.
    const original = await eventually(async () => {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: replicationQueue, WaitTimeSeconds: 1, MaxNumberOfMessages: 1, VisibilityTimeout: 30 }));
      return out.Messages?.[0];
    }, { timeoutMs: 30_000, description: 'the replication task' });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: replicationQueue, MessageBody: original.Body ?? '' }));
    await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: replicationQueue, ReceiptHandle: original.ReceiptHandle, VisibilityTimeout: 0 }));
    await fleet.startService('replication');
    expect((await finalStatus(buildId)).status).toBe('SUCCESS');
    const replicated = (await history(buildId)).filter((e) => e.type === 'region.replicated');
    expect(replicated).toHaveLength(1);
    expect(await startedCount(buildId)).toBe(1);
    expect(await executionsOf(buildId)).toBe(1);
  });

  it('the stream re-delivered by restarting the orchestrator with its checkpoint rewound', async () => {
    const before = (await (await postBuild(request({ hostsPerRegion: 20 }), `dup-stream-${Date.now()}`)).json()) as { buildId: string };
    expect((await finalStatus(before.buildId)).status).toBe('SUCCESS');
    await fleet.stopService('orchestrator');
    const checkpoints = new Records(aws.dynamodb, where.names.tables.checkpoints);
    const rewound = await checkpoints.list('stream#orchestrator-relay');
    expect(rewound.length).toBeGreaterThan(0);
    for (const c of rewound) await checkpoints.delete({ pk: c.pk, sk: c.sk });
    await fleet.startService('orchestrator');
    // A build requested after the restart finishing proves the reader re-read everything before it.
    const after = (await (await postBuild(request({ hostsPerRegion: 20 }), `dup-stream-after-${Date.now()}`)).json()) as { buildId: string };
    expect((await finalStatus(after.buildId)).status).toBe('SUCCESS');
    expect(await startedCount(before.buildId)).toBe(1);
    expect(await executionsOf(before.buildId)).toBe(1);
    expect((await history(before.buildId)).at(-1)?.type).toBe('build.succeeded');
    // The failed build's alert is not raised again by the replay.
    expect(await receiveAll(alertsQueueUrl, 2)).toHaveLength(0);
  });
});
