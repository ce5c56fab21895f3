import { describe, expect, it } from 'vitest';
import { buildSummary, fillGap, foldBuild, initialBuildState, projectEvent } from '../src/index.ts';
import { BUILD_ID, history } from './fixtures.ts';

const events = [history.requested(), history.started(), history.failed(3)];

describe('projecting a build stream in version order', () => {
  it('applies the next version', () => {
    const step = projectEvent(initialBuildState, history.requested());
    expect(step.kind).toBe('apply');
    if (step.kind === 'apply') expect(step.state).toMatchObject({ status: 'PENDING', lastVersion: 1 });
  });

  it('skips a version at or below the stored one (a duplicate delivery)', () => {
    const stored = foldBuild(events.slice(0, 2));
    expect(projectEvent(stored, history.started())).toEqual({ kind: 'skip' });
    expect(projectEvent(stored, history.requested())).toEqual({ kind: 'skip' });
  });

  it('asks for the log when a version arrives before the ones it follows, then fills the gap in order', () => {
    const stored = foldBuild(events.slice(0, 1));
    expect(projectEvent(stored, history.failed(3))).toEqual({ kind: 'fill-gap', afterVersion: 1 });
    expect(fillGap(stored, events)).toMatchObject({ status: 'FAILED', lastVersion: 3 });
  });
});

describe('the build list row', () => {
  it('has none before build.requested is applied', () => {
    expect(buildSummary(initialBuildState)).toBeUndefined();
    expect(buildSummary(foldBuild([history.started()]))).toBeUndefined();
  });

  it('names the door and key, and carries times and the failure reason as the build moves on', () => {
    expect(buildSummary(foldBuild(events.slice(0, 1)))).toEqual({
      buildId: BUILD_ID,
      repo: 'payments-api',
      env: 'prod',
      version: '1.4.2',
      status: 'PENDING',
      door: 'http',
      key: 'key-1',
      requestedAt: '2026-11-22T10:00:01.000Z',
      regions: ['us-east-1', 'eu-west-1'],
      hostsPerRegion: 100,
    });
    expect(buildSummary(foldBuild(events))).toMatchObject({
      status: 'FAILED',
      startedAt: '2026-11-22T10:00:02.000Z',
      finishedAt: '2026-11-22T10:00:03.000Z',
      reason: 'replication failed',
    });
  });
});
