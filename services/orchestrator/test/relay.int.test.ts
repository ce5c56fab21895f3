/**
 * The stream relay against the emulator: a record the orchestrator can never act on fails its
 * build with the reason, and the reader moves on to the next record instead of holding the shard.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildStream, createEventId, newEvent } from '@flotilla/events';
import { createLogger, EventStore, IdempotencyStore, locate, readBuildEvents, Records, StreamReader } from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import type { OrchestratorDeps } from '../src/handlers/deps.ts';
import { relayHandler } from '../src/handlers/relay.ts';

const aws = testAwsClients();
let stack: TestStack;
let deps: OrchestratorDeps;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('relay'));
  const locator = await locate(aws, stack.prefix);
  deps = {
    aws,
    store: new EventStore(aws.dynamodb, locator.names.tables.events),
    idempotency: new IdempotencyStore(aws.dynamodb, locator.names.tables.idempotency),
    inFlight: new Records(aws.dynamodb, locator.names.tables.checkpoints),
    locator,
    logger: createLogger('relay-test', 'silent'),
    // A state machine that does not exist: StartExecution fails, and retrying cannot help.
    stateMachineArn: locator.stateMachineArn().replace(/deploy$/, 'missing'),
    syncQueueUrls: { 'us-east-1': await locator.queueUrl(locator.names.syncQueue('us-east-1')) },
    defaults: { regions: ['us-east-1'], hostsPerRegion: 1 },
  };
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

it('fails the build whose record cannot be acted on, and moves on', async () => {
  const requested = (buildId: string) =>
    newEvent({
      type: 'build.requested',
      data: { buildId, repo: 'payments-api', env: 'prod', version: '1.0.0', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 1, source: { door: 'http', key: buildId } },
      correlationId: buildId,
      causationId: 'test',
    });
  const doomed = createEventId();
  await deps.store.append(buildStream(doomed), [requested(doomed)], 0);
  const reader = new StreamReader({
    name: 'relay-test',
    db: aws.dynamodb,
    streams: aws.streams,
    tableName: deps.locator.names.tables.events,
    checkpointTable: deps.locator.names.tables.checkpoints,
    logger: deps.logger,
    handle: relayHandler(deps),
  });
  // requested -> started (appended by the relay) -> StartExecution fails -> build.failed.
  await reader.drainOnce();
  await reader.drainOnce();
  const events = await readBuildEvents(deps.store, buildStream(doomed));
  expect(events.map((e) => e.type)).toEqual(['build.requested', 'build.started', 'build.failed']);
  const failed = events[2];
  expect(failed?.type === 'build.failed' && failed.data.reason).toMatch(/^orchestrator could not act on build\.started v2: /);
  // The reader was not held: a later record is still relayed and acted on.
  const next = createEventId();
  await deps.store.append(buildStream(next), [requested(next)], 0);
  await reader.drainOnce();
  expect((await deps.store.readStream(buildStream(next))).map((e) => e.type)).toContain('build.started');
});
