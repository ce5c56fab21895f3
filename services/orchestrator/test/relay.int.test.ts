/**
 * The stream relay against the emulator. A record whose event cannot be acted on (it cannot be
 * decided) fails its build with the reason, and the reader moves on; a publish or AWS failure
 * fails nothing and holds the shard (review M2); a record that cannot even be read (corrupt, put
 * out of band) is quarantined with its reason and the records behind it proceed; an event of a
 * newer schema than this reader knows holds the shard without failing anything (review M3).
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { PublishBatchCommandInput, PublishBatchCommandOutput, PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, createEventId, newEvent } from '@flotilla/events';
import { isRetryable, locate, readBuildEvents, StreamReader, type StreamBatchHandler } from '@flotilla/platform';
import { corruptItem, deployTestStack, newerSchemaItem, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import type { OrchestratorDeps } from '../src/handlers/deps.ts';
import { catchUpFromLog } from '../src/handlers/catch-up.ts';
import { orchestratorTestDeps } from './support.ts';
import { QUARANTINE_PK, relayHandler } from '../src/handlers/relay.ts';

const aws = testAwsClients();
let stack: TestStack;
let deps: OrchestratorDeps;

const requested = (buildId: string, regions = ['us-east-1']) =>
  newEvent({
    type: 'build.requested',
    data: { buildId, repo: 'payments-api', env: 'prod', version: '1.0.0', branch: 'main', commit: 'abc1234', regions, hostsPerRegion: 1, source: { door: 'http', key: buildId } },
    correlationId: buildId,
    causationId: 'test',
  });

const reader = (name: string, handle: StreamBatchHandler) =>
  new StreamReader({
    name,
    db: aws.dynamodb,
    streams: aws.streams,
    tableName: deps.locator.names.tables.events,
    checkpointTable: deps.locator.names.tables.checkpoints,
    logger: deps.logger,
    handle,
    retryDeadlineMs: 1_000,
  });

const types = async (buildId: string) => (await readBuildEvents(deps.store, buildStream(buildId))).map((e) => e.type);

/** Every record so far, relayed by a reader of its own, so that each test starts after the previous ones' records. */
async function skipToNow(name: string) {
  await reader(name, () => Promise.resolve()).drainOnce();
}

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('relay'));
  const locator = await locate(aws, stack.prefix);
  // Only us-east-1 has a sync queue here: a build for another region cannot be decided.
  deps = await orchestratorTestDeps(aws, stack, { syncQueueUrls: { 'us-east-1': await locator.queueUrl(locator.names.syncQueue('us-east-1')) } });

});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('relay', () => {
  it('fails the build whose event cannot be decided, and moves on', async () => {
    await skipToNow('decide');
    const doomed = createEventId();
    await deps.store.append(buildStream(doomed), [requested(doomed, ['eu-west-1'])], 0);
    const r = reader('decide', relayHandler(deps));
    // requested -> started (appended by the relay) -> no sync queue for eu-west-1 -> build.failed.
    await r.drainOnce();
    await r.drainOnce();
    const events = await readBuildEvents(deps.store, buildStream(doomed));
    expect(events.map((e) => e.type)).toEqual(['build.requested', 'build.started', 'build.failed']);
    const failed = events[2];
    expect(failed?.type === 'build.failed' && failed.data.reason).toMatch(/^orchestrator could not act on build\.started v2: region eu-west-1 has no sync queue/);
    // The reader was not held: a later record is still relayed and acted on.
    const next = createEventId();
    await deps.store.append(buildStream(next), [requested(next)], 0);
    await r.drainOnce();
    expect(await types(next)).toContain('build.started');
  });

  it('holds the shard on a publish failure and fails no build (review M2)', async () => {
    await skipToNow('publish');
    const buildId = createEventId();
    await deps.store.append(buildStream(buildId), [requested(buildId)], 0);
    const broken: OrchestratorDeps = { ...deps, locator: { ...deps.locator, topicArn: (name) => deps.locator.topicArn(`${name}-missing`) } };
    const error = await reader('publish', relayHandler(broken))
      .drainOnce()
      .catch((e: unknown) => e);
    expect(isRetryable(error)).toBe(true);
    expect(await types(buildId)).toEqual(['build.requested']);
    // Once publishing works again, the same record is relayed and acted on.
    await reader('publish', relayHandler(deps)).drainOnce();
    expect(await types(buildId)).toEqual(['build.requested', 'build.started']);
  });

  it('quarantines a corrupt record with its reason, and the records behind it proceed (review M3)', async () => {
    await skipToNow('poison');
    const poisoned = createEventId();
    // Out of band: an item no writer of this code would make (its payload is not JSON).
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName: deps.locator.names.tables.events,
        Item: corruptItem(poisoned, buildStream),
      }),
    );
    const good = createEventId();
    await deps.store.append(buildStream(good), [requested(good)], 0);
    const r = reader('poison', relayHandler(deps));
    await r.drainOnce();
    await r.drainOnce();
    expect(await types(good)).toEqual(['build.requested', 'build.started']);
    const parked = await deps.inFlight.list<{ stream: string; version: number; reason: string }>(QUARANTINE_PK);
    expect(parked).toEqual([expect.objectContaining({ stream: buildStream(poisoned), version: 1, reason: expect.stringMatching(/JSON/) as unknown })]);
    // Read again from the start, the poison is parked once, not twice, and nothing throws.
    for (const c of await deps.inFlight.list('stream#poison')) await deps.inFlight.delete(c);
    await reader('poison', relayHandler(deps)).drainOnce();
    expect(await deps.inFlight.list(QUARANTINE_PK)).toHaveLength(1);
  });

  it('catches up from the log past a corrupt item, parking it once (review M3)', async () => {
    // The log since the relay's watermark holds the corrupt item of the test before.
    const caughtUp = await catchUpFromLog(deps);
    expect(caughtUp.relayed).toBeGreaterThan(0);
    expect(await deps.inFlight.list(QUARANTINE_PK)).toHaveLength(1);
  });

  it('holds on an event of a newer schema than it knows, without failing the build (review M3)', async () => {
    await skipToNow('newer');
    const buildId = createEventId();
    await deps.store.append(buildStream(buildId), [requested(buildId)], 0);
    await reader('newer', relayHandler(deps)).drainOnce();
    const started = await deps.store.readStream(buildStream(buildId));
    const from = started.at(-1);
    if (!from) throw new Error('no build.started');
    // A later writer's event at a schemaVersion this code does not know.
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName: deps.locator.names.tables.events,
        Item: newerSchemaItem(buildStream(buildId), from.version + 1, buildId, { region: 'us-east-1', hosts: 1, synced: 1, failed: 0, rounds: 1 }),
      }),
    );
    const error = await reader('newer', relayHandler(deps))
      .drainOnce()
      .catch((e: unknown) => e);
    expect(isRetryable(error)).toBe(true);
    expect((error as Error).message).toMatch(/newer/);
    expect((await deps.store.readStream(buildStream(buildId))).map((e) => e.type)).not.toContain('build.failed');
    expect(await deps.inFlight.list<{ stream: string }>(QUARANTINE_PK)).not.toContainEqual(expect.objectContaining({ stream: buildStream(buildId) }));
  });

  it('retries a batch from the record that failed, not republishing the ones SNS accepted (review L7)', async () => {
    await skipToNow('per-record');
    const first = createEventId();
    const second = createEventId();
    await deps.store.append(buildStream(first), [requested(first)], 0);
    await deps.store.append(buildStream(second), [requested(second)], 0);
    // A client of its own, counting the relay's publishes of each event, and SNS refusing the
    // second event's first one (its entry taken out of the batch and answered as failed).
    const counted = testAwsClients();
    const published: string[] = [];
    counted.sns.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'PublishBatchCommand') return next(args);
        const input = args.input as PublishBatchCommandInput;
        const refused: PublishBatchRequestEntry[] = [];
        input.PublishBatchRequestEntries = (input.PublishBatchRequestEntries ?? []).filter((entry) => {
          if (entry.MessageAttributes?.type?.StringValue !== 'build.requested') return true;
          const { stream } = JSON.parse(entry.Message ?? '{}') as { stream?: string };
          published.push(stream ?? '?');
          const refuse = stream === buildStream(second) && published.filter((s) => s === stream).length === 1;
          if (refuse) refused.push(entry);
          return !refuse;
        });
        const result = await next(args);
        const output = result.output as PublishBatchCommandOutput;
        output.Failed = [...(output.Failed ?? []), ...refused.map((entry) => ({ Id: entry.Id, Code: 'InternalError', Message: 'injected', SenderFault: false }))];
        return result;
      },
      { step: 'initialize', name: 'countPublishes' },
    );
    try {
      await reader('per-record', relayHandler({ ...deps, aws: counted })).drainOnce();
    } finally {
      counted.destroy();
    }
    expect(published).toEqual([buildStream(first), buildStream(second), buildStream(second)]);
    expect(await types(second)).toEqual(['build.requested', 'build.started']);
  });
});
