/**
 * Test runs end to end, with runners as real containers: the fleet runs as processes against a
 * stack of its own; the emulator's ECS starts each runner task as a container of the runner image
 * on the Docker engine (host networking), whose agent reads its assignment from S3, reports through
 * intake and loads this fleet's API with the self-test profile (Flotilla load-testing itself).
 *
 * - Three regions, each runner's ready message also published many times at once by the test: the
 *   log holds one start_scheduled; each region's first request is within 1 s of startAt; the run
 *   completes with the merged results; no task runs and no container is left.
 * - Two regions, one whose runner never reports (its command swapped for one that only waits for
 *   its stop): the run aborts at its deadline, naming that region, and both are torn down.
 * - One region through the CLI (start, cancel once its runner is ready, watch, get): CANCELLED,
 *   torn down, nothing left.
 * The runs go on at once (their regions differ, so their leases do not meet).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishBatchCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRunStream, type TestRunView } from '@flotilla/events';
import { EventStore, loadAggregate, locate, resourceNames, testRunAggregate, type Locator, type ResourceNames } from '@flotilla/platform';
import {
  containersLabelled,
  ensureLocalImages,
  eventually,
  removeContainersLabelled,
  runnerLabels,
  runnerService,
  runningRunnerTasks,
  runRunnersWithCommand,
  testAwsClients,
  WAIT_FOR_STOP,
} from '@flotilla/platform/testing';
import { PROFILES } from '../../load-tests/profiles.ts';
import { runTestRun } from '../../load-tests/testrun.ts';
import { apiFetch, fleetCliEnv, runCli, startTestFleet, TEST_API_TOKEN, type TestFleet } from '../support/test-fleet.ts';

const aws = testAwsClients();
const THREE = ['us-east-1', 'us-west-2', 'eu-west-1'];
const HUNG_PAIR = ['eu-central-1', 'ap-southeast-2'];
const HUNG = 'ap-southeast-2';
const CANCELLED = 'us-east-2';
/** Copies of each runner's ready message the test publishes at once, on top of the runner's own. */
const READY_COPIES = 12;
const START_BUFFER_MS = 4_000;

let running: TestFleet;
let names: ResourceNames;
let where: Locator;
let store: EventStore;
let clusterArn: string;

/** `pnpm flotilla <args>` against this fleet, configured through the environment as the README shows. */
const flotilla = (args: string[]) => runCli(args, fleetCliEnv(running.fleet, running.stack.prefix));

const api = (path: string, init?: RequestInit) => apiFetch(`${running.fleet.url('build')}${path}`, init);

async function startRun(regions: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const body = { script: PROFILES['self-test'], regions, startBufferMs: START_BUFFER_MS, vusPerRegion: 200, target: running.fleet.url('build'), ...extra };
  const res = await api('/testruns', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `e2e-${regions.join('-')}-${Date.now()}` }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { runId: string }).runId;
}

const view = async (runId: string) => (await (await api(`/testruns/${runId}`)).json()) as TestRunView;

const finished = (runId: string, timeoutMs: number) =>
  eventually(
    async () => {
      const v = await view(runId);
      return v.finished ? v : undefined;
    },
    { timeoutMs, intervalMs: 500, description: `test run ${runId} to be finished` },
  );

const eventTypes = async (runId: string) => (await loadAggregate(store, testRunStream(runId), testRunAggregate)).history;

/** No RUNNING task in ListTasks and no container of the region's runners, running or not. */
async function nothingLeft(region: string) {
  const [tasks, containers] = await Promise.all([runningRunnerTasks(aws, names, region), containersLabelled(runnerLabels(clusterArn, names, region))]);
  return { tasks, containers: containers.map((c) => `${c.ID} ${c.State}`) };
}

/**
 * Publishes each running runner task's ready message READY_COPIES times at once, all regions
 * together, as soon as each region's task is RUNNING: the same messages the runners send, racing
 * theirs to the barrier.
 */
async function floodReady(runId: string, regions: string[]): Promise<number> {
  const intake = where.topicArn(names.topics.intake);
  const tasks = await Promise.all(
    regions.map((region) =>
      eventually(
        async () => {
          const arns = await runningRunnerTasks(aws, names, region);
          return arns.length > 0 ? arns.map((task) => ({ region, task })) : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100, description: `a RUNNING runner task in ${region}` },
      ),
    ),
  );
  const messages = tasks.flat().flatMap(({ region, task }) => Array.from({ length: READY_COPIES }, () => JSON.stringify({ type: 'testrun.region_ready', runId, region, task })));
  const batches = Array.from({ length: Math.ceil(messages.length / 10) }, (_, i) => messages.slice(i * 10, i * 10 + 10));
  await Promise.all(
    batches.map((batch, b) => aws.sns.send(new PublishBatchCommand({ TopicArn: intake, PublishBatchRequestEntries: batch.map((Message, i) => ({ Id: `m${b}-${i}`, Message })) }))),
  );
  return messages.length;
}

beforeAll(async () => {
  // scripts/images.sh runner: cached by its source hash, so a no-op when the test command built it.
  await ensureLocalImages('runner');
  running = await startTestFleet(aws, 'testruns', { regions: [...THREE, ...HUNG_PAIR, CANCELLED] });
  names = resourceNames(running.stack.prefix);
  where = await locate(aws, running.stack.prefix);
  store = new EventStore(aws.dynamodb, names.tables.events);
  clusterArn = (await runnerService(aws, names, THREE[0] ?? '')).clusterArn ?? '';
  await runRunnersWithCommand(aws, names, HUNG, WAIT_FOR_STOP);
});

afterAll(async () => {
  // Whatever a failed test left running: the test command fails on a leftover container.
  for (const region of [...THREE, ...HUNG_PAIR, CANCELLED]) {
    if (names && clusterArn) await removeContainersLabelled(runnerLabels(clusterArn, names, region));
  }
  await running?.stop();
  aws.destroy();
});

describe('test runs on ECS', () => {
  it.concurrent('three regions, ready sent many times at once: one start, first requests within 1 s of it, completed with merged results, nothing left running', async () => {
    // pnpm testrun's own code path, the test's copies of each ready message racing the runners'.
    let flooded: Promise<number> | undefined;
    const figures = await runTestRun({
      apiUrl: running.fleet.url('build'),
      token: TEST_API_TOKEN,
      profile: 'self-test',
      regions: THREE,
      startBufferMs: START_BUFFER_MS,
      progress: (line) => console.info(line),
      onRequested: (runId) => {
        flooded = floodReady(runId, THREE);
        // Awaited below; marked handled so a failure is reported there, not as an unhandled rejection.
        flooded.catch(() => undefined);
      },
    });
    expect(await flooded).toBe(THREE.length * READY_COPIES);
    const done = figures.run;
    const { runId } = done;
    expect(done.finished).toBe(true);
    const history = await eventTypes(runId);
    expect(history.filter((e) => e.type === 'testrun.start_scheduled')).toHaveLength(1);
    expect(history.filter((e) => e.type === 'testrun.region_ready')).toHaveLength(THREE.length);
    expect(done.status, done.reason).toBe('COMPLETED');
    const startAt = Date.parse(done.startAt ?? '');
    const completed = history.find((e) => e.type === 'testrun.completed');
    expect(completed?.type).toBe('testrun.completed');
    const results = completed?.type === 'testrun.completed' ? completed.data : undefined;
    expect(Object.keys(results?.regions ?? {}).sort()).toEqual([...THREE].sort());
    for (const region of THREE) {
      const result = results?.regions[region];
      expect(result?.containers, region).toBe(1);
      expect(result?.requests, region).toBeGreaterThan(0);
      const first = Date.parse(result?.firstRequestAt ?? '');
      console.info(`test run ${region}: first request ${first - startAt} ms from startAt, ${result?.requests} requests, p95 ${result?.p95Ms} ms, failed ${result?.failedRate}, ${result?.passed ? 'passed' : 'failed'}`);
      expect(Math.abs(first - startAt), `${region}: first request ${result?.firstRequestAt} vs startAt ${done.startAt}`).toBeLessThanOrEqual(1_000);
      expect(done.regions[region]?.tornDown, region).toBe(true);
      expect(await nothingLeft(region), region).toEqual({ tasks: [], containers: [] });
    }
    // The verdict is the thresholds': passed exactly when every region's did.
    expect(results?.verdict).toBe(THREE.every((r) => results?.regions[r]?.passed) ? 'passed' : 'failed');
    expect(figures.passed).toBe(done.verdict === 'passed');
    expect(Object.keys(figures.firstRequestOffsetMs).sort()).toEqual([...THREE].sort());
  });

  it.concurrent('a region that never reports: aborted at the deadline, naming it, and every region torn down', async () => {
    const script = PROFILES['self-test'];
    const deadline = new Date(Date.now() + START_BUFFER_MS + script.durationSeconds * 1_000 + 15_000);
    const runId = await startRun(HUNG_PAIR, { deadline: deadline.toISOString() });
    const done = await finished(runId, 120_000);
    expect(done.status).toBe('ABORTED');
    expect(done.reason).toContain(`regions not ready: ${HUNG}`);
    const aborted = (await eventTypes(runId)).find((e) => e.type === 'testrun.aborted');
    expect(Date.parse(aborted?.occurredAt ?? '')).toBeGreaterThanOrEqual(deadline.getTime());
    for (const region of HUNG_PAIR) {
      expect(done.regions[region]?.tornDown, region).toBe(true);
      expect(await nothingLeft(region), region).toEqual({ tasks: [], containers: [] });
    }
  });

  it.concurrent('through the CLI: started, cancelled once its runner is ready, watched to CANCELLED with its region torn down, nothing left running', async () => {
    const scriptFile = join(mkdtempSync(join(tmpdir(), 'testrun-')), 'script.json');
    writeFileSync(scriptFile, JSON.stringify(PROFILES['self-test']));
    const started = await flotilla(['testruns', 'start', '--script', scriptFile, '--regions', CANCELLED, '--buffer', '60000', '--json']);
    expect(started.code, started.stderr).toBe(0);
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    await eventually(async () => ((await view(runId)).regions[CANCELLED]?.ready.length ?? 0) > 0 || undefined, { timeoutMs: 60_000, intervalMs: 250, description: `the runner of ${CANCELLED} ready` });
    const cancelled = await flotilla(['testruns', 'cancel', runId]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`test run ${runId}: CANCELLED`);
    // watch follows it until every region is torn down, and exits 1: it did not complete and pass.
    const watched = await flotilla(['testruns', 'watch', runId, '--interval', '250', '--json']);
    expect(watched.code, watched.stderr).toBe(1);
    expect(JSON.parse(watched.stdout)).toMatchObject({ runId, status: 'CANCELLED', finished: true, regions: { [CANCELLED]: { tornDown: true } } });
    const got = await flotilla(['testruns', 'get', runId]);
    expect(got.stdout).toMatch(new RegExp(`${CANCELLED}\\s+1/1\\s+0/1(\\s+-){4}\\s+yes`));
    expect(await nothingLeft(CANCELLED)).toEqual({ tasks: [], containers: [] });
  });
});
