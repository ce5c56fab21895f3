/**
 * What the console's build page derives from a build's view: stages, region bars, event lines.
 * The views are made by the API's own buildView from real events, so the console reads what the
 * API answers.
 */
import { describe, expect, it } from 'vitest';
import { buildStream, foldBuild, newEvent, type BuildEvent, type EventData } from '@flotilla/events';
import { buildView } from '../src/domain/view.ts';
import type { BuildView, EventEnvelope } from '../web/src/api.ts';
import { deriveStages, hostsLine, mergeEvents, needsStream, regionBars, summarizeEvent, type StageState } from '../web/src/model/build.ts';

const BUILD_ID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';
const SHA = 'a'.repeat(64);
const REGIONS = ['eu-west-1', 'us-east-1'];

type Fact = { [T in BuildEvent['type']]: [T, EventData<T>] }[BuildEvent['type']];

const requested: Fact = [
  'build.requested',
  { buildId: BUILD_ID, repo: 'payments', env: 'prod', version: '1.2.3', branch: 'main', commit: 'abc1234', regions: REGIONS, hostsPerRegion: 50, source: { door: 'http', key: 'k' } },
];
const started: Fact = ['build.started', { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:builds:payments-prod-x' }];
const published: Fact = ['artifact.published', { bucket: 'global', key: 'artifacts/a.zip', sha256: SHA, sizeBytes: 2_048, prebuilt: false }];
const replicated = (region: string): Fact => ['region.replicated', { bucket: `b-${region}`, key: 'artifacts/a.zip', sha256: SHA, region, attempts: 1 }];
const synced = (region: string): Fact => ['region.synced', { region, hosts: 50, synced: 50, failed: 0, rounds: 6 }];

function events(...facts: Fact[]): EventEnvelope[] {
  return facts.map(([type, data], i) => ({ ...newEvent({ type, data, correlationId: BUILD_ID, causationId: 'test' }), stream: buildStream(BUILD_ID), version: i + 1 }));
}

function viewOf(facts: Fact[], counters?: Record<string, { hosts: number; synced: number; failed: number }>): BuildView {
  const view = buildView(foldBuild(events(...facts) as BuildEvent[]), counters);
  if (!view) throw new Error('no view');
  return view;
}

const states = (view: BuildView): Record<string, StageState> => Object.fromEntries(deriveStages(view).map((s) => [s.name, s.state]));

describe('deriveStages', () => {
  it('shows a requested build waiting to start', () => {
    expect(states(viewOf([requested]))).toEqual({ requested: 'done', started: 'current', built: 'pending', replicated: 'pending', synced: 'pending', finished: 'pending' });
  });

  it('shows a build replicating while one region is still copying', () => {
    expect(states(viewOf([requested, started, published, replicated('eu-west-1')]))).toEqual({
      requested: 'done',
      started: 'done',
      built: 'done',
      replicated: 'current',
      synced: 'pending',
      finished: 'pending',
    });
  });

  it('shows a build whose regions synced waiting for its outcome', () => {
    const view = viewOf([requested, started, published, ...REGIONS.map(replicated), ...REGIONS.map(synced)]);
    expect(states(view).finished).toBe('current');
  });

  it('fails the stage a failed build ended in', () => {
    const failedReplication = viewOf([
      requested,
      started,
      published,
      replicated('eu-west-1'),
      ['region.replication_failed', { region: 'us-east-1', reason: 'digest mismatch', attempts: 3 }],
      ['build.failed', { reason: 'replication failed', failedRegions: [{ region: 'us-east-1', reason: 'digest mismatch' }] }],
    ]);
    expect(states(failedReplication)).toEqual({ requested: 'done', started: 'done', built: 'done', replicated: 'failed', synced: 'pending', finished: 'pending' });
  });

  it('fails `started` for a build cancelled before it started', () => {
    const cancelled = viewOf([requested, ['build.failed', { reason: 'cancelled', failedRegions: [] }]]);
    expect(states(cancelled).started).toBe('failed');
    expect(deriveStages(cancelled)[0]).toEqual({ name: 'requested', state: 'done', at: cancelled.requestedAt });
  });

  it('has every stage done for a build that succeeded, with the times the view has', () => {
    const view = viewOf([requested, started, published, ...REGIONS.map(replicated), ...REGIONS.map(synced), ['build.succeeded', {}]]);
    const stages = deriveStages(view);
    expect(stages.every((s) => s.state === 'done')).toBe(true);
    expect(stages.find((s) => s.name === 'finished')?.at).toBe(view.finishedAt);
  });
});

describe('regionBars', () => {
  it('reads the live counters as integer percentages of the expected hosts', () => {
    const view = viewOf([requested, started, published, ...REGIONS.map(replicated)], { 'eu-west-1': { hosts: 38, synced: 37, failed: 1 } });
    const [eu, us] = regionBars(view);
    expect(eu).toEqual({ region: 'eu-west-1', expected: 50, synced: 37, failed: 1, syncedPercent: 74, failedPercent: 2, phase: 'syncing', catchingUp: false });
    expect(us).toMatchObject({ region: 'us-east-1', expected: 50, synced: 0, failed: 0, syncedPercent: 0, phase: 'replicated' });
    expect(hostsLine(eu ?? { expected: 0, synced: 0, failed: 0 })).toBe('37 / 50 hosts synced · 1 failed');
  });

  it('falls back to the counts the log recorded when the view has no counters (a view of the past)', () => {
    const view = viewOf([requested, started, published, ...REGIONS.map(replicated), ['region.sync_failed', { region: 'eu-west-1', hosts: 50, synced: 20, failed: 30, minHealthyPercent: 90, reason: 'too many hosts failed' }]]);
    expect(regionBars(view)[0]).toEqual({
      region: 'eu-west-1',
      expected: 50,
      synced: 20,
      failed: 30,
      syncedPercent: 40,
      failedPercent: 60,
      phase: 'failed',
      catchingUp: false,
      failure: 'too many hosts failed',
    });
  });

  it('says when the counters are still catching up with the log', () => {
    const view = viewOf([requested, started, published, ...REGIONS.map(replicated), synced('eu-west-1')], { 'eu-west-1': { hosts: 40, synced: 40, failed: 0 } });
    expect(regionBars(view)[0]).toMatchObject({ syncedPercent: 80, catchingUp: true, phase: 'synced' });
  });

  it('never leaves 0-100 and shows 0% of nothing', () => {
    const view = viewOf([requested]);
    const over: BuildView = { ...view, regions: { a: { replicated: true, synced: false, progress: { expectedHosts: 10, hosts: 12, synced: 12, failed: 0, percent: 120, countersCatchingUp: false } }, b: { replicated: false, synced: false } } };
    expect(regionBars(over).map((r) => [r.syncedPercent, r.expected])).toEqual([
      [100, 10],
      [0, 0],
    ]);
  });
});

describe('needsStream', () => {
  it('follows a build until it ended and its counters caught up', () => {
    const running = viewOf([requested, started]);
    const done = [requested, started, published, ...REGIONS.map(replicated), ...REGIONS.map(synced), ['build.succeeded', {}] as Fact];
    expect(needsStream(running)).toBe(true);
    expect(needsStream(viewOf(done, { 'eu-west-1': { hosts: 49, synced: 49, failed: 0 }, 'us-east-1': { hosts: 50, synced: 50, failed: 0 } }))).toBe(true);
    expect(needsStream(viewOf(done, { 'eu-west-1': { hosts: 50, synced: 50, failed: 0 }, 'us-east-1': { hosts: 50, synced: 50, failed: 0 } }))).toBe(false);
  });
});

describe('mergeEvents', () => {
  it('keeps one event per version, in order, when a reconnect repeats some', () => {
    const [a, b, c] = events(requested, started, published);
    if (!a || !b || !c) throw new Error('three events');
    expect(mergeEvents([a, b], [b, c]).map((e) => e.version)).toEqual([1, 2, 3]);
    expect(mergeEvents([a, c], [b]).map((e) => e.version)).toEqual([1, 2, 3]);
  });
});

describe('summarizeEvent', () => {
  it('says what each build event says, in a line', () => {
    const lines = events(requested, started, published, replicated('eu-west-1'), synced('eu-west-1'), ['build.failed', { reason: 'sync failed', failedRegions: [{ region: 'us-east-1', reason: 'hosts failed' }] }]).map(summarizeEvent);
    expect(lines).toEqual([
      'payments 1.2.3 to prod (main@abc1234), eu-west-1, us-east-1 × 50 hosts, via http',
      'execution payments-prod-x',
      'artifact 2.0 KiB, sha256 aaaaaaaaaaaa',
      'eu-west-1: copied and verified',
      'eu-west-1: 50 / 50 hosts synced, 0 failed, in 6 rounds',
      'sync failed [us-east-1: hosts failed]',
    ]);
  });

  it('shows the payload of an event type it does not know', () => {
    const [event] = events(requested);
    if (!event) throw new Error('one event');
    expect(summarizeEvent({ ...event, type: 'build.retagged', data: { tag: 'v2' } })).toBe('{"tag":"v2"}');
  });
});
