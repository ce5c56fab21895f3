/**
 * Replay at size, over a log the real services wrote: the fleet runs (its own stack, default
 * configuration), at least 500 builds to every region go through the whole pipeline, making at
 * least 10,000 events; then `flotilla replay` (the CLI, as the README runs it) rebuilds every
 * projection into fresh tables and reports 0 differences, with its events/s. The row-level
 * reporting (a deleted, changed and extra row of each kind) is packages/platform/test/replay.int.test.ts.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_TEST_REGIONS, eventually, testAwsClients, testEnv } from '@flotilla/platform/testing';
import { ROOT, type Fleet } from '../../scripts/fleet.ts';
import { apiFetch, startTestFleet, type TestFleet } from '../support/test-fleet.ts';

/** The test fleet's stack has these (startTestFleet's default); every build goes to all of them. */
const REGIONS = DEFAULT_TEST_REGIONS;
/** Events one build to every region of the test stack makes: requested, started, published, per region replicated and synced, succeeded. */
const EVENTS_PER_BUILD = 4 + 2 * REGIONS.length;
const BUILDS = Math.max(500, Math.ceil(10_000 / EVENTS_PER_BUILD));
const HOSTS = 2;
/** Requests in flight at once while submitting. */
const SUBMIT_CONCURRENCY = 16;

const aws = testAwsClients();
const repo = `replay-${Date.now().toString(36)}`;
let running: TestFleet;
let fleet: Fleet;

beforeAll(async () => {
  running = await startTestFleet(aws, 'replay-e2e');
  fleet = running.fleet;
});

afterAll(async () => {
  await running?.stop();
  aws.destroy();
});

type Summary = { buildId: string; status: string };
type View = { status: string; regions: Record<string, { progress?: { synced: number; expectedHosts: number } }> };

async function getJson<T>(path: string): Promise<T> {
  const res = await apiFetch(`${fleet.url('build')}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every build of this test's repo, from the build list, page by page. */
async function listed(): Promise<Summary[]> {
  const all: Summary[] = [];
  let cursor: string | undefined;
  do {
    const page = await getJson<{ builds: Summary[]; nextCursor?: string }>(`/builds?repo=${repo}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    all.push(...page.builds);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

it(`replays ${BUILDS} builds to ${REGIONS.length} regions (at least 10,000 events) with 0 differences`, { timeout: 900_000 }, async () => {
  const started = Date.now();
  let next = 0;
  const submit = async () => {
    while (next < BUILDS) {
      const i = next++;
      const res = await apiFetch(`${fleet.url('build')}/builds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${repo}-${i}` },
        body: JSON.stringify({ repo, env: 'prod', version: `1.0.${i}`, branch: 'main', commit: 'abc1234', regions: [...REGIONS], hostsPerRegion: HOSTS }),
      });
      expect(res.status).toBe(202);
    }
  };
  await Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, submit));
  const submitted = Date.now();

  // Every build ended, as the build list shows it...
  const builds = await eventually(
    async () => {
      const all = await listed();
      return all.length === BUILDS && all.every((b) => b.status === 'SUCCESS' || b.status === 'FAILED') ? all : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 2_000, description: `all ${BUILDS} builds to end` },
  );
  const ended = Date.now();
  expect(builds.filter((b) => b.status !== 'SUCCESS')).toEqual([]);
  // ...and every host counted (the counters trail the host writes a little).
  await eventually(
    async () => {
      for (const { buildId } of builds) {
        const view = await getJson<View>(`/builds/${buildId}`);
        if (!Object.values(view.regions).every((r) => r.progress && r.progress.synced === r.progress.expectedHosts)) return undefined;
      }
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, description: 'every host counted' },
  );

  const replay = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['packages/cli/src/index.ts', 'replay', '--json'],
      { cwd: ROOT, env: { ...process.env, AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL, FLOTILLA_PREFIX: running.stack.prefix }, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
  const report = JSON.parse(replay.stdout) as { eventsRead: number; builds: number; eventsPerSecond: number; seconds: number; differences: unknown[]; unreadable: unknown[] };
  console.log(
    `replay e2e: ${BUILDS} builds submitted in ${((submitted - started) / 1000).toFixed(1)} s, all ended ${((ended - started) / 1000).toFixed(1)} s after the first; ` +
      `replay read ${report.eventsRead} events of ${report.builds} builds in ${report.seconds.toFixed(1)} s (${Math.round(report.eventsPerSecond)} events/s), ${report.differences.length} differences`,
  );
  expect(report.differences).toEqual([]);
  expect(report.unreadable).toEqual([]);
  expect(replay.code).toBe(0);
  expect(report.builds).toBe(BUILDS);
  expect(report.eventsRead).toBeGreaterThanOrEqual(10_000);
  expect(report.eventsPerSecond).toBeGreaterThan(0);
  // Progress went to stderr, phase by phase.
  expect(replay.stderr).toMatch(/replay: reading the log/);
  expect(replay.stderr).toMatch(/replay: comparing/);
});
