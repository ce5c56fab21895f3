/**
 * The test-run start barrier and leases against the emulator's DynamoDB. The emulator serialises
 * requests, so a read-modify-write barrier could pass a concurrency test by luck: here two deciders
 * are made to read the same version on purpose, and only one of their appends can win. Leases
 * raced for the same region go to one run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventId, decideTestRun, foldTestRun, testRunStream } from '@flotilla/events';
import {
  claimTestRunLeases,
  ConcurrencyError,
  decideAndAppendTo,
  EventStore,
  leasedTestRuns,
  loadAggregate,
  Records,
  releaseTestRunLeases,
  resourceNames,
  testRunAggregate,
} from '@flotilla/platform';
import { deployTestStack, sampleTestRunRequest, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
let stack: TestStack;
let store: EventStore;
let leases: Records;

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
const request = sampleTestRunRequest(REGIONS, { startBufferMs: 2_000 });

async function requestedRun(): Promise<string> {
  const runId = createEventId();
  const meta = { correlationId: runId, causationId: 'test', now: Date.now() };
  await store.append(testRunStream(runId), decideTestRun(foldTestRun([]), { kind: 'request', runId, request }, meta), 0);
  return runId;
}

const ready = (runId: string, region: string, task: string) =>
  decideAndAppendTo(store, testRunStream(runId), testRunAggregate, (state) => decideTestRun(state, { kind: 'report-ready', region, task }, { correlationId: runId, causationId: task, now: Date.now() }));

const typesOf = async (runId: string) => (await loadAggregate(store, testRunStream(runId), testRunAggregate)).history.map((e) => e.type);

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('barrier'), { regions: REGIONS });
  const names = resourceNames(stack.prefix);
  store = new EventStore(aws.dynamodb, names.tables.events);
  leases = new Records(aws.dynamodb, names.tables.checkpoints);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('the start barrier', () => {
  it('two deciders that read the same version both decide to open it; only one append wins', async () => {
    const runId = await requestedRun();
    await ready(runId, 'us-east-1', 'a');
    const meta = { correlationId: runId, causationId: 'race', now: Date.now() };
    // With two of three ready, the third opens it: two deciders read that same version, each the third.
    await ready(runId, 'us-west-2', 'b');
    const { state: twoReady } = await loadAggregate(store, testRunStream(runId), testRunAggregate);
    const one = decideTestRun(twoReady, { kind: 'report-ready', region: 'eu-west-1', task: 'c1' }, meta);
    const other = decideTestRun(twoReady, { kind: 'report-ready', region: 'eu-west-1', task: 'c2' }, meta);
    expect(one.map((e) => e.type)).toEqual(['testrun.region_ready', 'testrun.start_scheduled']);
    expect(other.map((e) => e.type)).toEqual(['testrun.region_ready', 'testrun.start_scheduled']);
    const results = await Promise.allSettled([store.append(testRunStream(runId), one, twoReady.lastVersion), store.append(testRunStream(runId), other, twoReady.lastVersion)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.reason).toBeInstanceOf(ConcurrencyError);
    expect((await typesOf(runId)).filter((t) => t === 'testrun.start_scheduled')).toHaveLength(1);
  });

  it('every region reporting ready many times at once appends one ready per task and one start', async () => {
    const runId = await requestedRun();
    await Promise.all(REGIONS.flatMap((region) => Array.from({ length: 8 }, () => ready(runId, region, `task-${region}`))));
    const types = await typesOf(runId);
    expect(types.filter((t) => t === 'testrun.region_ready')).toHaveLength(3);
    expect(types.filter((t) => t === 'testrun.start_scheduled')).toHaveLength(1);
  });
});

describe('leases', () => {
  it('of two runs racing for overlapping regions, one gets them all and the other none', async () => {
    const [first, second] = [createEventId(), createEventId()];
    const outcomes = await Promise.all([claimTestRunLeases(leases, first, REGIONS), claimTestRunLeases(leases, second, [...REGIONS].reverse())]);
    const winners = outcomes.filter((o) => o === undefined);
    expect(winners).toHaveLength(1);
    expect(outcomes.find((o) => o !== undefined)).toMatchObject({ kind: 'region-busy' });
    const held = (await leasedTestRuns(leases)).map((r) => r.runId);
    expect(held).toHaveLength(1);
    // Claiming again for the holder succeeds (a retried request); releasing frees every region.
    const holder = held[0] ?? '';
    expect(await claimTestRunLeases(leases, holder, REGIONS)).toBeUndefined();
    await releaseTestRunLeases(leases, holder);
    expect(await leasedTestRuns(leases)).toEqual([]);
  });

  it('a late release by a run that no longer holds a lease frees nothing of another run', async () => {
    const [old, current] = [createEventId(), createEventId()];
    expect(await claimTestRunLeases(leases, current, ['us-east-1'])).toBeUndefined();
    await releaseTestRunLeases(leases, old);
    expect((await leasedTestRuns(leases)).map((r) => r.runId)).toEqual([current]);
    expect(await claimTestRunLeases(leases, old, ['us-east-1'])).toMatchObject({ kind: 'region-busy', region: 'us-east-1', heldBy: current });
    await releaseTestRunLeases(leases, current);
  });
});
