/**
 * Poison in the log, through the whole fleet (issue 8, item 5, the stream relay's part; review
 * M3). A record that makes the relay's handler throw every time (an item put out of band whose
 * payload is not JSON) is quarantined with its reason, and the builds behind it proceed to
 * SUCCESS. An event of a newer schema than the orchestrator knows holds the relay (it is retried,
 * no build is failed) and crashes nothing.
 */
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildStream, createEventId } from '@flotilla/events';
import { EventStore, locate, Records, type Locator } from '@flotilla/platform';
import { corruptItem, eventually, newerSchemaItem, sampleBuildRequest, testAwsClients } from '@flotilla/platform/testing';
import { apiFetch, startTestFleet, type TestFleet } from '../support/test-fleet.ts';

const aws = testAwsClients();
let running: TestFleet;
let where: Locator;
let store: EventStore;

beforeAll(async () => {
  running = await startTestFleet(aws, 'poison');
  where = await locate(aws, running.stack.prefix);
  store = new EventStore(aws.dynamodb, where.names.tables.events);
});
afterAll(async () => {
  await running?.stop();
  aws.destroy();
});

const api = (path: string, init?: RequestInit) => apiFetch(`${running.fleet.url('build')}${path}`, init);

async function postBuild(): Promise<string> {
  const res = await api('/builds', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': createEventId() },
    body: JSON.stringify(sampleBuildRequest({ regions: ['us-east-1'], hostsPerRegion: 20 })),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { buildId: string }).buildId;
}

const finalStatus = (buildId: string) =>
  eventually(
    async () => {
      const res = await api(`/builds/${buildId}`);
      if (res.status !== 200) return undefined;
      const view = (await res.json()) as { status: string };
      return view.status === 'SUCCESS' || view.status === 'FAILED' ? view.status : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, description: `build ${buildId} to finish` },
  );

const orchestratorAlive = () => {
  const child = running.fleet.services.find((s) => s.name === 'orchestrator')?.child;
  return child !== undefined && child.exitCode === null && child.signalCode === null;
};

const putRaw = (item: Record<string, AttributeValue>) => aws.dynamodb.send(new PutItemCommand({ TableName: where.names.tables.events, Item: item }));

it('quarantines a poison record and relays the good builds behind it to SUCCESS', async () => {
  const poisoned = createEventId();
  await putRaw(corruptItem(poisoned, buildStream));
  const good = [await postBuild(), await postBuild()];
  expect(await Promise.all(good.map(finalStatus))).toEqual(['SUCCESS', 'SUCCESS']);
  const parked = await new Records(aws.dynamodb, where.names.tables.checkpoints).list<{ stream: string; reason: string }>('quarantine#relay');
  expect(parked).toEqual([expect.objectContaining({ stream: buildStream(poisoned), reason: expect.stringMatching(/^unreadable record: .*JSON/) as unknown })]);
  expect(running.logs.some((line) => line.startsWith('orchestrator') && line.includes('record quarantined'))).toBe(true);
  expect(orchestratorAlive()).toBe(true);
});

it('holds on an event of a newer schema, failing nothing and crashing nothing', async () => {
  const buildId = await postBuild();
  expect(await finalStatus(buildId)).toBe('SUCCESS');
  const head = await store.headVersion(buildStream(buildId));
  await putRaw(newerSchemaItem(buildStream(buildId), head + 1, buildId, { region: 'us-east-1', hosts: 20, synced: 20, failed: 0, rounds: 1 }));
  // The relay retries it (ReaderTooOldError, logged at each attempt) rather than failing or parking it.
  await eventually(() => Promise.resolve(running.logs.some((line) => line.startsWith('orchestrator') && line.includes('ReaderTooOldError')) ? true : undefined), {
    timeoutMs: 30_000,
    description: 'the relay to hold on the newer event',
  });
  expect(orchestratorAlive()).toBe(true);
  expect((await store.readStream(buildStream(buildId))).map((e) => e.type)).not.toContain('build.failed');
  const parked = await new Records(aws.dynamodb, where.names.tables.checkpoints).list<{ stream: string }>('quarantine#relay');
  expect(parked.map((p) => p.stream)).not.toContain(buildStream(buildId));
  expect((await api('/health')).status).toBe(200);
});
