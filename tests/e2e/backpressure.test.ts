/**
 * Intake back-pressure (issue 9): with a tiny backlog configured (INTAKE_MAX_BACKLOG=1), POST
 * /builds answers 503 with Retry-After while a build is open, appends nothing for the refused
 * request, and takes builds again (202) once the open ones have ended. The whole fleet runs, so
 * "ended" is the pipeline's own doing, not the test's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, sampleBuildRequest, testAwsClients } from '@flotilla/platform/testing';
import type { Fleet } from '../../scripts/fleet.ts';
import { apiFetch, startTestFleet, type TestFleet } from '../support/test-fleet.ts';

const aws = testAwsClients();
let running: TestFleet;
let fleet: Fleet;

beforeAll(async () => {
  running = await startTestFleet(aws, 'backpressure', {
    overrides: { build: { INTAKE_MAX_BACKLOG: '1', INTAKE_BACKLOG_REFRESH_MS: '100', INTAKE_RETRY_AFTER_SECONDS: '2' } },
  });
  ({ fleet } = running);
});
afterAll(async () => {
  await running?.stop();
  aws.destroy();
});

const submit = (key: string) =>
  apiFetch(`${fleet.url('build')}/builds`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(sampleBuildRequest({ repo: 'backpressure', version: key, regions: ['us-east-1'], hostsPerRegion: 5 })),
  });

const statusOf = async (buildId: string) => ((await (await apiFetch(`${fleet.url('build')}/builds/${buildId}`)).json()) as { status: string }).status;

it('answers 503 with Retry-After past the backlog, and 202 again once it has drained', async () => {
  // Builds are taken until the count sees one open; each probe that is taken adds one more.
  const accepted: string[] = [];
  const refused = await eventually(
    async () => {
      const res = await submit(`bp-${accepted.length}`);
      if (res.status === 202) {
        accepted.push(((await res.json()) as { buildId: string }).buildId);
        return undefined;
      }
      return res;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('2');
  expect(((await refused.json()) as { error: string }).error).toBe('backlog_full');
  expect(accepted.length).toBeGreaterThanOrEqual(1);
  const refusedKey = `bp-${accepted.length}`;

  // The pipeline ends every build it took; then intake takes the refused key, as a new build.
  await eventually(async () => ((await Promise.all(accepted.map(statusOf))).every((s) => s === 'SUCCESS') ? true : undefined), { timeoutMs: 90_000, intervalMs: 250 });
  const retried = await eventually(
    async () => {
      const res = await submit(refusedKey);
      return res.status === 202 ? res : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  expect(((await retried.json()) as { duplicate: boolean }).duplicate).toBe(false);
}, 180_000);
