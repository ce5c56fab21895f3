/**
 * The local log survives a restart (issue 6). This file starts its own emulator (persisting, on a
 * private port, with its state in a temp directory) and the fleet with its default configuration,
 * puts builds in flight, appends one build.requested while the orchestrator is down (so the relay
 * never saw it), then stops everything the way Ctrl-C on ./scripts/run.sh does: every service with
 * SIGTERM, then the emulator gracefully (it saves its state). After starting both again, every
 * earlier build is listed, and every build that had not ended ends within 2 minutes.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildStream, isTerminal, type BuildRequest, type BuildStatus } from '@flotilla/events';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { createAwsClients, deployStack, EventStore, hostPartition, IdempotencyStore, loadBuild, requestBuild, resourceNames, type AwsClients } from '@flotilla/platform';
import { eventually, testEnv, uniquePrefix } from '@flotilla/platform/testing';
import { ROOT, startFleet, waitHealthy, type Fleet } from '../../scripts/fleet.ts';
import { answers, privateEmulator, type PrivateEmulator } from '../support/private-emulator.ts';
import { apiFetch, TEST_API_TOKEN } from '../support/test-fleet.ts';

/** The issue's bound: every build in flight at the stop ends within this long of the restart. */
const END_WITHIN_MS = 120_000;
const PERSIST = { EMULATOR_PERSIST: '1' };
/** Small builds finish before the stop; large ones are still running at it. */
const SMALL = { regions: ['us-east-1'], hostsPerRegion: 200 };
const LARGE = { regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'], hostsPerRegion: 4_000 };
const UNRELAYED = { regions: ['us-west-2', 'eu-central-1'], hostsPerRegion: 1_000 };

const prefix = uniquePrefix('restart');
const names = resourceNames(prefix);
const logs: string[] = [];
let emulator: PrivateEmulator | undefined;
let aws: AwsClients | undefined;
let fleet: Fleet | undefined;

afterAll(async () => {
  await fleet?.stop(5_000);
  aws?.destroy();
  await emulator?.cleanup();
  // The services' logs of both runs, for reading after a failure.
  mkdirSync(join(ROOT, '.reports'), { recursive: true });
  writeFileSync(join(ROOT, '.reports', `e2e-${prefix}.log`), logs.join('\n'));
});

function request(shape: { regions: string[]; hostsPerRegion: number }, n: number): BuildRequest {
  return { repo: 'restart-api', env: 'prod', version: `1.${n}.${randomBytes(3).readUIntBE(0, 3)}`, branch: 'main', commit: 'abc1234', ...shape };
}

async function startServices(endpoint: string): Promise<Fleet> {
  const started = await startFleet({
    prefix,
    env: { AWS_ENDPOINT_URL: endpoint, AWS_REGION: testEnv.AWS_REGION, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', LOG_LEVEL: 'info' },
    apiToken: TEST_API_TOKEN,
    ports: 'ephemeral',
    onLog: (service, line) => logs.push(`${service} ${line}`),
  });
  fleet = started;
  await waitHealthy(started);
  return started;
}

interface View {
  buildId: string;
  status: BuildStatus;
  failure?: { reason: string };
  regions: Record<string, { progress?: { hosts: number; synced: number } }>;
}

async function view(api: string, buildId: string): Promise<View | undefined> {
  const res = await apiFetch(`${api}/builds/${buildId}`);
  return res.status === 200 ? ((await res.json()) as View) : undefined;
}

async function listed(api: string): Promise<Set<string>> {
  const res = await apiFetch(`${api}/builds?limit=100`);
  if (res.status !== 200) return new Set();
  return new Set(((await res.json()) as { builds: { buildId: string }[] }).builds.map((b) => b.buildId));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

it('builds in flight at a Ctrl-C stop, one requested but not yet relayed, all end within 2 minutes of the restart; every build stays listed', async () => {
  emulator = await privateEmulator();
  const { endpoint } = emulator;
  await emulator.script(['start'], PERSIST);
  const clients = createAwsClients({ region: testEnv.AWS_REGION, endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  aws = clients;
  await deployStack({ clients, prefix, target: 'local' });
  const store = new EventStore(clients.dynamodb, names.tables.events);
  let running = await startServices(endpoint);

  // --- builds in flight ---------------------------------------------------------------------
  const shapes = [SMALL, SMALL, LARGE, LARGE, LARGE, LARGE];
  const builds: string[] = [];
  const hostsOf = new Map<string, number>();
  for (const [n, shape] of shapes.entries()) {
    const res = await apiFetch(`${running.url('build')}/builds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${prefix}-${n}` },
      body: JSON.stringify(request(shape, n)),
    });
    expect(res.status).toBe(202);
    const { buildId } = (await res.json()) as { buildId: string };
    builds.push(buildId);
    hostsOf.set(buildId, shape.hostsPerRegion);
  }
  const submittedAt = Date.now();
  const api = running.url('build');
  await eventually(
    async () => {
      const views = await Promise.all(builds.map((id) => view(api, id)));
      const ended = views.filter((v) => v && isTerminal(v.status)).length;
      const inFlight = views.filter((v) => v?.status === 'IN_PROGRESS').length;
      return ended >= 1 && inFlight >= 2 ? true : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, description: 'one build ended and others in flight' },
  );
  console.log(`restart: one build ended and others in flight ${seconds(Date.now() - submittedAt)} after submitting ${builds.length}`);

  // --- a build.requested the relay never sees before the restart ------------------------------
  await running.stopService('orchestrator');
  const unrelayed = await requestBuild(
    { store, idempotency: new IdempotencyStore(clients.dynamodb, names.tables.idempotency) },
    { door: 'http', key: `${prefix}-unrelayed`, request: request(UNRELAYED, 99) },
  );
  builds.push(unrelayed.buildId);
  hostsOf.set(unrelayed.buildId, UNRELAYED.hostsPerRegion);

  // --- Ctrl-C: services (SIGTERM), then the emulator once it has saved its state ---------------
  const stopStart = Date.now();
  await running.stop();
  fleet = undefined;
  const servicesStoppedMs = Date.now() - stopStart;
  // Which builds had not ended, read from the log itself (the truth) while the emulator still runs.
  const atStop = new Map<string, BuildStatus | null>();
  for (const id of builds) atStop.set(id, (await loadBuild(store, buildStream(id))).state.status);
  const emulatorStopStart = Date.now();
  const stop = await emulator.script(['stop'], PERSIST);
  const emulatorStoppedMs = Date.now() - emulatorStopStart;
  expect(stop.stderr).toContain('saving its state');
  expect(await answers(endpoint)).toBe(false);
  const inFlight = builds.filter((id) => !isTerminal(atStop.get(id) ?? null));
  expect(atStop.get(unrelayed.buildId)).toBe('PENDING');
  expect(inFlight.length).toBeGreaterThanOrEqual(2);
  expect(inFlight.length).toBeLessThan(builds.length);
  console.log(`restart: stopped services in ${seconds(servicesStoppedMs)}, emulator (saving its state) in ${seconds(emulatorStoppedMs)}`);
  console.log(`restart: at the stop ${[...atStop].map(([id, status]) => `${id} ${status}`).join(', ')}`);

  // --- start again: same state directory, same prefix ------------------------------------------
  const restartAt = Date.now();
  await emulator.script(['start'], PERSIST);
  const emulatorUpMs = Date.now() - restartAt;
  running = await startServices(endpoint);
  const fleetUpMs = Date.now() - restartAt;
  console.log(`restart: emulator up in ${seconds(emulatorUpMs)}, fleet healthy ${seconds(fleetUpMs)} after the restart began`);
  const restartedApi = running.url('build');

  // Every earlier build is listed (the projections catch up from the log's relay).
  await eventually(
    async () => {
      const ids = await listed(restartedApi);
      return builds.every((id) => ids.has(id)) ? true : undefined;
    },
    { timeoutMs: END_WITHIN_MS - (Date.now() - restartAt), intervalMs: 500, description: 'every earlier build listed by GET /builds' },
  );

  // Every build that had not ended ends, within the bound counted from the restart.
  const ended = new Map<string, { view: View; afterMs: number }>();
  await eventually(
    async () => {
      for (const id of inFlight) {
        if (ended.has(id)) continue;
        const current = await view(restartedApi, id);
        if (current && isTerminal(current.status)) ended.set(id, { view: current, afterMs: Date.now() - restartAt });
      }
      return ended.size === inFlight.length ? true : undefined;
    },
    { timeoutMs: Math.max(0, END_WITHIN_MS - (Date.now() - restartAt)), intervalMs: 500, description: `every build in flight at the stop to end (${inFlight.join(', ')})` },
  );
  const allEndedMs = Math.max(...[...ended.values()].map((e) => e.afterMs));
  expect(allEndedMs).toBeLessThanOrEqual(END_WITHIN_MS);
  console.log(`restart: every build in flight at the stop ended ${seconds(allEndedMs)} after the restart began`);
  for (const id of builds) {
    const final = ended.get(id)?.view ?? (await view(restartedApi, id));
    console.log(`restart:   ${id} ${atStop.get(id)} -> ${final?.status}${final?.failure ? ` (${final.failure.reason})` : ''}${ended.has(id) ? ` after ${seconds(ended.get(id)?.afterMs ?? 0)}` : ''}`);
    expect(final?.status === 'SUCCESS' || final?.status === 'FAILED').toBe(true);
    // The only way a build may fail here: its execution was lost with the emulator.
    if (final?.status === 'FAILED') expect(final.failure?.reason).toContain('States.ServiceRestart');
  }

  // Host counters agree with the host records of every build and region (recounted at the restart,
  // counted from the stream after it), and a build that succeeded shows every host synced.
  const hostRecords = async (buildId: string, region: string) =>
    (
      await clients.dynamodb.send(
        new QueryCommand({ TableName: names.tables.hosts, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: hostPartition(buildId, region) } }, Select: 'COUNT', ConsistentRead: true }),
      )
    ).Count ?? 0;
  await eventually(
    async () => {
      for (const id of builds) {
        const current = await view(restartedApi, id);
        for (const [region, { progress }] of Object.entries(current?.regions ?? {})) {
          const records = await hostRecords(id, region);
          if ((progress?.hosts ?? 0) !== records) throw new Error(`${id} ${region}: counters say ${progress?.hosts ?? 0} hosts, the host table holds ${records}`);
          if (current?.status === 'SUCCESS' && progress?.synced !== hostsOf.get(id)) throw new Error(`${id} ${region}: SUCCESS with ${progress?.synced} of ${hostsOf.get(id)} hosts synced`);
        }
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 500, description: 'host counters equal to the host records' },
  );

  // The build.requested appended while the orchestrator was down was acted on after the restart.
  const { history } = await loadBuild(store, buildStream(unrelayed.buildId));
  expect(history.map((e) => e.type)).toContain('build.started');
}, 360_000);
