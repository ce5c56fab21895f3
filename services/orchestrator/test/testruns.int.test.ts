/**
 * The orchestrator's test-run handlers against the emulator, without runners (the end-to-end test
 * runs them as containers): runner reports through intake decide on the run's stream (a repeat
 * decides nothing, a report for no run is refused with the reason), and the supervisor gives back
 * the leases of a run that never reached the log once they are old, not before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventId, decideTestRun, foldTestRun, testRunStream } from '@flotilla/events';
import { claimTestRunLeases, createLogger, InvalidMessageError, leasedTestRuns, loadAggregate, releaseTestRunLeases, testRunAggregate, type ReceivedMessage } from '@flotilla/platform';
import { deployTestStack, sampleTestRunRequest, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import type { OrchestratorDeps } from '../src/handlers/deps.ts';
import { intakeHandler } from '../src/handlers/intake.ts';
import { ORPHAN_LEASE_MS, superviseTestRun } from '../src/handlers/testruns.ts';
import { orchestratorTestDeps } from './support.ts';

const aws = testAwsClients();
let stack: TestStack;
let deps: OrchestratorDeps;
const REGIONS = ['us-east-1', 'us-west-2'];

const request = sampleTestRunRequest(REGIONS);

const received = (body: unknown): ReceivedMessage => ({
  message: {},
  body: JSON.stringify(body),
  receiveCount: 1,
  attributes: {},
  logger: createLogger('testruns-test', 'silent'),
});

async function requestedRun(): Promise<string> {
  const runId = createEventId();
  await deps.store.append(testRunStream(runId), decideTestRun(foldTestRun([]), { kind: 'request', runId, request }, { correlationId: runId, causationId: 'test', now: Date.now() }), 0);
  return runId;
}

const typesOf = async (runId: string) => (await loadAggregate(deps.store, testRunStream(runId), testRunAggregate)).history.map((e) => e.type);

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('testruns'), { regions: REGIONS });
  deps = await orchestratorTestDeps(aws, stack);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('runner reports through intake', () => {
  it('ready from each region opens the start once; the same reports again decide nothing', async () => {
    const runId = await requestedRun();
    const handle = intakeHandler(deps);
    const reports = REGIONS.map((region) => ({ type: 'testrun.region_ready', runId, region, task: `task-${region}` }));
    for (let round = 0; round < 3; round++) await Promise.all(reports.map((r) => handle(received(r))));
    expect(await typesOf(runId)).toEqual(['testrun.requested', 'testrun.region_ready', 'testrun.region_ready', 'testrun.start_scheduled']);
  });

  it('refuses, with the reason, a report for a run that does not exist, a region not in the run, or a malformed one', async () => {
    const handle = intakeHandler(deps);
    await expect(handle(received({ type: 'testrun.region_ready', runId: createEventId(), region: 'us-east-1', task: 't' }))).rejects.toThrow(/no such test run/);
    const runId = await requestedRun();
    await expect(handle(received({ type: 'testrun.region_ready', runId, region: 'eu-west-1', task: 't' }))).rejects.toThrow(/eu-west-1 is not part of/);
    const malformed = handle(received({ type: 'testrun.region_completed', runId, region: 'us-east-1', task: 't' }));
    await expect(malformed).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(malformed).rejects.toThrow(/summary/);
  });
});

describe('the supervisor', () => {
  it(`gives back the leases of a run that never reached the log after ${ORPHAN_LEASE_MS / 1000} s, not before`, async () => {
    const runId = createEventId();
    expect(await claimTestRunLeases(deps.leases, runId, REGIONS)).toBeUndefined();
    const since = new Date();
    await superviseTestRun(deps, runId, since, since.getTime() + ORPHAN_LEASE_MS - 1_000);
    expect((await leasedTestRuns(deps.leases)).map((r) => r.runId)).toContain(runId);
    await superviseTestRun(deps, runId, since, since.getTime() + ORPHAN_LEASE_MS);
    expect((await leasedTestRuns(deps.leases)).map((r) => r.runId)).not.toContain(runId);
    await releaseTestRunLeases(deps.leases, runId);
  });
});
