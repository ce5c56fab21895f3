/**
 * `pnpm load --profile light` end to end: the real command (load-tests/run-load.ts) against a test
 * fleet that already answers (so it starts none), its figures read from --json. The light profile's
 * thresholds hold, its counts add up (every scheduled request sent, every 202 a build, every build
 * awaited), and every build it created ends SUCCESS.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testAwsClients } from '@flotilla/platform/testing';
import { ROOT } from '../../scripts/fleet.ts';
import { SEED_BUILDS } from '../../load-tests/load.ts';
import { PROFILES } from '../../load-tests/profiles.ts';
import { formatLoad, type LoadRunFigures } from '../../load-tests/run-load.ts';
import { scheduledRequests, vegetaBinary } from '../../load-tests/vegeta.ts';
import { startTestFleet, TEST_API_TOKEN, type TestFleet } from '../support/test-fleet.ts';

const run = promisify(execFile);
const aws = testAwsClients();
let running: TestFleet;

beforeAll(async () => {
  running = await startTestFleet(aws, 'load');
});
afterAll(async () => {
  await running?.stop();
  aws.destroy();
});

it('the light profile holds its thresholds and every build it creates ends SUCCESS', async () => {
  const light = PROFILES.light;
  const vegeta = await vegetaBinary(process.env.FLOTILLA_VEGETA);
  const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'load-tests/run-load.ts'), '--profile', 'light', '--api-url', running.fleet.url('build'), '--settle', '60', '--max-wait', '150', '--json'], {
    cwd: ROOT,
    env: { ...process.env, FLOTILLA_API_TOKEN: TEST_API_TOKEN, FLOTILLA_VEGETA: vegeta },
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; code?: number }) => {
    throw new Error(`pnpm load exited ${error.code}:\n${error.stderr}\n${error.stdout}`);
  });
  const figures = JSON.parse(stdout) as LoadRunFigures;
  console.log(`${stderr}\n${formatLoad(figures)}`);

  // It used the test fleet, which answered, and started none of its own.
  expect(stderr).toContain('using the fleet already answering');
  expect(figures.summary.thresholds.filter((t) => !t.ok)).toEqual([]);
  expect(figures.summary.passed).toBe(true);

  // Every scheduled request was sent and answered as expected.
  const scheduled = (rate: number) => scheduledRequests(rate, light.durationSeconds);
  expect(figures.scenarios.submit?.sent).toBe(scheduled(light.scenarios.submit));
  expect(figures.scenarios.read?.sent).toBe(scheduled(light.scenarios.read));
  expect(figures.scenarios.follow?.sent).toBe(scheduled(light.scenarios.follow));
  expect(figures.summary.requests).toBe(scheduled(light.scenarios.submit) + scheduled(light.scenarios.read) + scheduled(light.scenarios.follow));
  expect(figures.summary.dropped).toBe(0);
  expect(figures.summary.statuses).toEqual({ '202': scheduled(light.scenarios.submit), '200': scheduled(light.scenarios.read) + scheduled(light.scenarios.follow) });
  expect(Date.parse(figures.summary.firstRequestAt ?? '')).toBeGreaterThan(0);

  // Every build the run created (the seeds and each 202) was awaited, and ended.
  expect(figures.builds.submitted).toBe(SEED_BUILDS + scheduled(light.scenarios.submit));
  expect(figures.builds).toMatchObject({ succeeded: figures.builds.submitted, failed: 0, notTerminal: 0 });
  expect(figures.drainSeconds).not.toBeNull();
  expect(figures.passed).toBe(true);
});
