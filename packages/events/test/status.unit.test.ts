import { describe, expect, it } from 'vitest';
import { evolve, evolveBuild, foldBuild, given, initialBuildState, initialState, isTerminal, type BuildEvent } from '../src/index.ts';
import { BUILD_ID, history, requestedData } from './fixtures.ts';

const AT = (seconds: number) => new Date(Date.parse('2026-11-22T10:00:00Z') + seconds * 1000).toISOString();

describe('build status fold', () => {
  it('has no status before the build is requested', () => {
    given([]).then({ status: null, lastVersion: 0, regions: {} });
    expect(isTerminal(initialState.status)).toBe(false);
  });

  it('is PENDING once requested, with every requested region waiting', () => {
    given([])
      .when(history.requested())
      .then({
        status: 'PENDING',
        buildId: BUILD_ID,
        request: { hostsPerRegion: 100, regions: ['us-east-1', 'eu-west-1'] },
        requestedAt: AT(1),
        regions: { 'us-east-1': { replicated: false, synced: false }, 'eu-west-1': { replicated: false, synced: false } },
        lastVersion: 1,
      });
  });

  it('is IN_PROGRESS once started, recording the execution ARN and when', () => {
    const state = given([history.requested()]).when(history.started()).then({ status: 'IN_PROGRESS', startedAt: AT(2), lastVersion: 2 });
    expect(state.executionArn).toContain(':execution:');
    expect(state.finishedAt).toBeUndefined();
  });

  it('records the published artifact', () => {
    given([history.requested(), history.started()])
      .when(history.published(3))
      .then({ status: 'IN_PROGRESS', artifact: { key: 'artifacts/payments-api/prod/1.4.2.zip', sha256: 'e'.repeat(64), prebuilt: false } });
  });

  it('tracks per-region progress while in progress', () => {
    given([history.requested(), history.started()])
      .when(history.replicated('us-east-1', 3), history.replicated('eu-west-1', 4), history.synced('us-east-1', 5))
      .then({
        status: 'IN_PROGRESS',
        regions: {
          'us-east-1': { replicated: true, synced: true, hosts: 100, syncedHosts: 100, failedHosts: 0, rounds: 7 },
          'eu-west-1': { replicated: true, synced: false },
        },
        lastVersion: 5,
      });
  });

  it('keeps the reason a region failed to replicate or to sync', () => {
    given([history.requested(), history.started(), history.replicated('us-east-1', 3)])
      .when(history.replicationFailed('eu-west-1', 4), history.syncFailed('us-east-1', 5))
      .then({
        status: 'IN_PROGRESS',
        regions: {
          'eu-west-1': { replicated: false, replicationFailure: 'copy failed' },
          'us-east-1': { replicated: true, synced: false, syncFailure: '60% healthy, 90% required', syncedHosts: 60, failedHosts: 40 },
        },
      });
  });

  it('is SUCCESS once succeeded', () => {
    const state = given([history.requested(), history.started()]).when(history.succeeded(3)).then({ status: 'SUCCESS', finishedAt: AT(3) });
    expect(isTerminal(state.status)).toBe(true);
  });

  it('is FAILED once failed, keeping the reason and each failed region', () => {
    const state = given([history.requested(), history.started(), history.replicationFailed('eu-west-1', 3)])
      .when(history.failed(4))
      .then({
        status: 'FAILED',
        finishedAt: AT(4),
        failure: { reason: 'replication failed', failedRegions: [{ region: 'eu-west-1', reason: 'copy failed' }] },
        regions: { 'eu-west-1': { replicated: false, synced: false, replicationFailure: 'copy failed' } },
      });
    expect(isTerminal(state.status)).toBe(true);
  });

  it('can fail straight from PENDING (the execution never started)', () => {
    given([history.requested()]).when(history.failed(2, [])).then({ status: 'FAILED', startedAt: undefined, finishedAt: AT(2) });
  });
});

describe('terminal states absorb later events', () => {
  it('FAILED stays FAILED: status, regions and finish time stay, the version moves on', () => {
    given([history.requested(), history.started(), history.failed(3)])
      .when(history.replicated('us-east-1', 4), history.succeeded(5))
      .then({ status: 'FAILED', finishedAt: AT(3), regions: { 'us-east-1': { replicated: false, synced: false } }, lastVersion: 5 });
  });

  it('SUCCESS stays SUCCESS after a late failure or a late start', () => {
    given([history.requested(), history.started(), history.succeeded(3)])
      .when(history.failed(4), history.started(5))
      .then({ status: 'SUCCESS', finishedAt: AT(3), failure: undefined, startedAt: AT(2), lastVersion: 5 });
  });
});

describe('out-of-order-ish input', () => {
  it('a build.requested read after build.started does not move the status back to PENDING', () => {
    given([history.started(2)]).when(history.requested(1)).then({ status: 'IN_PROGRESS', buildId: BUILD_ID, lastVersion: 2 });
  });

  it('region progress recorded before build.requested is kept when the request arrives', () => {
    given([history.replicated('eu-west-1', 3)])
      .when(history.requested(1))
      .then({ status: 'PENDING', regions: { 'eu-west-1': { replicated: true }, 'us-east-1': { replicated: false, synced: false } } });
  });

  it('a region event for a region the request did not name is tracked, not dropped', () => {
    given([history.requested(), history.started()]).when(history.synced('ap-south-1', 3)).then({ regions: { 'ap-south-1': { synced: true, replicated: false } } });
  });

  it('lastVersion never goes down when an older event is applied', () => {
    given([history.requested(), history.started(), history.replicated('us-east-1', 7)]).when(history.replicated('eu-west-1', 4)).then({ lastVersion: 7 });
  });

  it('a duplicate delivery changes nothing but what the first one did', () => {
    const events: BuildEvent[] = [history.requested(), history.started(), history.replicated('us-east-1', 3)];
    expect(foldBuild([...events, history.replicated('us-east-1', 3)])).toEqual(foldBuild(events));
  });
});

describe('the fold is pure', () => {
  it('never mutates its input state, and the initial state is frozen', () => {
    const before = foldBuild([history.requested()]);
    const snapshot = structuredClone(before);
    evolve(before, history.replicated('us-east-1', 2));
    expect(before).toEqual(snapshot);
    expect(Object.isFrozen(initialBuildState)).toBe(true);
    expect(initialState).toBe(initialBuildState);
    expect(evolve).toBe(evolveBuild);
  });

  it('folds from a stored state as if from the whole history', () => {
    const all = [history.requested(), history.started(), history.replicated('us-east-1', 3), history.succeeded(4)];
    expect(foldBuild(all.slice(2), foldBuild(all.slice(0, 2)))).toEqual(foldBuild(all));
    expect(foldBuild(all).request).toEqual(requestedData);
  });
});
