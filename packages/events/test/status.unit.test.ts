import { describe, expect, it } from 'vitest';
import { initialBuildState, isTerminal } from '../src/index.ts';
import { BUILD_ID, given, history } from './fixtures.ts';

describe('build status fold', () => {
  it('has no status before the build is requested', () => {
    given([]).then({ status: null, lastVersion: 0 });
    expect(isTerminal(initialBuildState.status)).toBe(false);
  });

  it('is PENDING once requested, with every requested region waiting', () => {
    given([]).when(history.requested()).then({
      status: 'PENDING',
      buildId: BUILD_ID,
      regions: { 'us-east-1': { replicated: false, synced: false }, 'eu-west-1': { replicated: false, synced: false } },
      lastVersion: 1,
    });
  });

  it('is IN_PROGRESS once started, recording the execution ARN and when', () => {
    const state = given([history.requested()]).when(history.started()).then({ status: 'IN_PROGRESS' });
    expect(state.executionArn).toContain(':execution:');
    expect(state.startedAt).toBe('2026-11-22T10:00:02.000Z');
  });

  it('tracks per-region progress while in progress', () => {
    given([history.requested(), history.started()])
      .when(history.replicated('us-east-1', 3), history.replicated('eu-west-1', 4), history.synced('us-east-1', 5))
      .then({
        status: 'IN_PROGRESS',
        regions: {
          'us-east-1': { replicated: true, synced: true, hosts: 100, syncedHosts: 100 },
          'eu-west-1': { replicated: true, synced: false },
        },
        lastVersion: 5,
      });
  });

  it('is SUCCESS once succeeded', () => {
    const state = given([history.requested(), history.started()]).when(history.succeeded(3)).then({ status: 'SUCCESS' });
    expect(isTerminal(state.status)).toBe(true);
    expect(state.finishedAt).toBe('2026-11-22T10:00:03.000Z');
  });

  it('is FAILED once failed, keeping the reason and each failed region', () => {
    given([history.requested(), history.started(), history.replicationFailed('eu-west-1', 3)])
      .when(history.failed(4))
      .then({
        status: 'FAILED',
        failure: { reason: 'replication failed', failedRegions: [{ region: 'eu-west-1', reason: 'copy failed' }] },
        regions: { 'eu-west-1': { replicated: false, synced: false, replicationFailure: 'copy failed' } },
      });
  });

  it('absorbs events after a terminal one: status and regions stay, the version moves on', () => {
    given([history.requested(), history.started(), history.failed(3)])
      .when(history.replicated('us-east-1', 4), history.succeeded(5))
      .then({ status: 'FAILED', regions: { 'us-east-1': { replicated: false, synced: false } }, lastVersion: 5 });
  });
});
