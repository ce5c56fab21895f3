/** Idempotent effects against the emulator: once per key, stored outcomes, leases, first-wins mapping. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream } from '@flotilla/events';
import { EventStore, IdempotencyInProgressError, IdempotencyKeyReusedError, IdempotencyLeaseLostError, IdempotencyStore, requestBuild, resourceNames } from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';

const aws = testAwsClients();
let stack: TestStack;
let store: IdempotencyStore;
let events: EventStore;
const key = (label: string) => `${label}#${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('idempotency'));
  store = new IdempotencyStore(aws.dynamodb, resourceNames(stack.prefix).tables.idempotency);
  events = new EventStore(aws.dynamodb, resourceNames(stack.prefix).tables.events);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('runOnce', () => {
  it('acts once; a repeat gets the stored result without acting', async () => {
    const k = key('once');
    let calls = 0;
    const effect = () => Promise.resolve({ n: ++calls });
    expect(await store.runOnce(k, effect)).toEqual({ result: { n: 1 }, duplicate: false });
    expect(await store.runOnce(k, effect)).toEqual({ result: { n: 1 }, duplicate: true });
    expect(calls).toBe(1);
  });

  /** Starts runOnce with an effect that signals when it runs (the claim is then written) and never ends unless released. */
  function hold(k: string, options?: Parameters<IdempotencyStore['runOnce']>[2]) {
    let release: (value: string) => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    const outcome = store.runOnce(
      k,
      () =>
        new Promise<string>((resolve) => {
          release = resolve;
          started();
        }),
      options,
    );
    return { running, outcome, release: (value: string) => release(value) };
  }

  it('refuses a second attempt while the first holds its lease, with a retryable error', async () => {
    const k = key('busy');
    const first = hold(k);
    await first.running;
    const error = await store.runOnce(k, () => Promise.resolve('second')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyInProgressError);
    expect((error as IdempotencyInProgressError).retryable).toBe(true);
    first.release('done');
    expect(await first.outcome).toEqual({ result: 'done', duplicate: false });
  });

  it('lets a later attempt take over a claim whose lease expired (its holder crashed)', async () => {
    const k = key('crash');
    // A holder whose lease ran out a minute ago and that never finishes.
    const crashed = hold(k, { leaseMs: 1, now: () => Date.now() - 60_000 });
    await crashed.running;
    expect(await store.runOnce(k, () => Promise.resolve('recovered'))).toEqual({ result: 'recovered', duplicate: false });
  });

  it('fences a holder that lost its lease: its failure does not release, nor its result overwrite, the new holder\'s claim', async () => {
    const k = key('fenced');
    // A's lease ran out a minute ago (its clock, say, or a long pause); B takes the task over.
    const a = hold(k, { leaseMs: 1, now: () => Date.now() - 60_000 });
    await a.running;
    const b = hold(k);
    await b.running;
    // A wakes up and finishes: its result must not replace B's claim.
    a.release('a-result');
    await expect(a.outcome).rejects.toBeInstanceOf(IdempotencyLeaseLostError);
    const meanwhile = await store.runOnce(k, () => Promise.resolve('third')).catch((e: unknown) => e);
    expect(meanwhile).toBeInstanceOf(IdempotencyInProgressError);
    b.release('b-result');
    expect(await b.outcome).toEqual({ result: 'b-result', duplicate: false });
    expect(await store.runOnce(k, () => Promise.resolve('later'))).toEqual({ result: 'b-result', duplicate: true });
  });

  it('fences a failing holder that lost its lease: it does not delete the new holder\'s claim', async () => {
    const k = key('fenced-fail');
    let failA: (error: Error) => void = () => undefined;
    let aStarted: () => void = () => undefined;
    const aRunning = new Promise<void>((resolve) => (aStarted = resolve));
    const a = store.runOnce(k, () => new Promise<string>((_, reject) => { failA = reject; aStarted(); }), { leaseMs: 1, now: () => Date.now() - 60_000 });
    await aRunning;
    const b = hold(k);
    await b.running;
    failA(new Error('a failed late'));
    await expect(a).rejects.toThrow('a failed late');
    const meanwhile = await store.runOnce(k, () => Promise.resolve('third')).catch((e: unknown) => e);
    expect(meanwhile).toBeInstanceOf(IdempotencyInProgressError);
    b.release('b-result');
    expect(await b.outcome).toEqual({ result: 'b-result', duplicate: false });
  });

  it('releases the key when the effect fails, so a retry can act', async () => {
    const k = key('fail');
    await expect(store.runOnce(k, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await store.runOnce(k, () => Promise.resolve('second try'))).toEqual({ result: 'second try', duplicate: false });
  });
});

describe('mapOnce', () => {
  it('keeps the first value for a key and hands it to every later caller', async () => {
    const k = key('map');
    expect(await store.mapOnce(k, 'build-A')).toEqual({ value: 'build-A', existing: false, sameRequest: true });
    expect(await store.mapOnce(k, 'build-B')).toEqual({ value: 'build-A', existing: true, sameRequest: true });
  });

  it('tells a later caller whether its fingerprint is the one stored with the mapping', async () => {
    const k = key('fingerprint');
    expect(await store.mapOnce(k, 'build-A', { fingerprint: 'f1' })).toEqual({ value: 'build-A', existing: false, sameRequest: true });
    expect(await store.mapOnce(k, 'build-B', { fingerprint: 'f1' })).toEqual({ value: 'build-A', existing: true, sameRequest: true });
    expect(await store.mapOnce(k, 'build-C', { fingerprint: 'f2' })).toEqual({ value: 'build-A', existing: true, sameRequest: false });
  });

  it('counts a mapping stored before fingerprints existed as a match', async () => {
    const k = key('legacy');
    await store.mapOnce(k, 'build-A');
    expect(await store.mapOnce(k, 'build-B', { fingerprint: 'f1' })).toEqual({ value: 'build-A', existing: true, sameRequest: true });
  });

  it('lets exactly one of many racing callers win', async () => {
    const k = key('race');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.mapOnce(k, `build-${i}`)));
    expect(new Set(results.map((r) => r.value)).size).toBe(1);
    expect(results.filter((r) => !r.existing)).toHaveLength(1);
  });
});

describe('requestBuild: an intake key is bound to its request', () => {
  const request = { repo: 'payments-api', env: 'prod', version: '1.4.2', branch: 'main', commit: 'abc1234', regions: ['us-east-1', 'eu-west-1'], hostsPerRegion: 5 };

  it('a repeat (regions in another order) finds the same build; a different request under the key is refused, naming it', async () => {
    const deps = { store: events, idempotency: store };
    const k = key('intake');
    const first = await requestBuild(deps, { door: 'http', key: k, request });
    expect(first.duplicate).toBe(false);
    const repeat = await requestBuild(deps, { door: 'http', key: k, request: { ...request, regions: ['eu-west-1', 'us-east-1'] } });
    expect(repeat).toEqual({ buildId: first.buildId, duplicate: true });
    const error = await requestBuild(deps, { door: 'http', key: k, request: { ...request, hostsPerRegion: 6 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect((error as IdempotencyKeyReusedError).retryable).toBe(false);
    expect((error as Error).message).toContain(k);
    expect((error as Error).message).toContain(first.buildId);
    // Only the first request reached the log.
    expect((await events.readStream(buildStream(first.buildId))).map((e) => e.type)).toEqual(['build.requested']);
  });
});
