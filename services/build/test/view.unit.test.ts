import { describe, expect, it } from 'vitest';
import { buildStream, foldBuild, newEvent, type BuildEvent } from '@flotilla/events';
import { buildView, eventsAt } from '../src/domain/view.ts';

const BUILD_ID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';
const events: BuildEvent[] = [
  newEvent({
    type: 'build.requested',
    data: { buildId: BUILD_ID, repo: 'r', env: 'prod', version: '1', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 4, source: { door: 'http', key: 'k' } },
    correlationId: 'c',
    causationId: 'k',
  }),
  newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:x' }, correlationId: 'c', causationId: 'k' }),
  newEvent({ type: 'build.succeeded', data: {}, correlationId: 'c', causationId: 'k' }),
].map((e, i) => ({ ...e, stream: buildStream(BUILD_ID), version: i + 1 }));

describe('the build view', () => {
  it('shows per-region progress from the host counters', () => {
    const view = buildView(foldBuild(events.slice(0, 2)), { 'us-east-1': { hosts: 4, synced: 3, failed: 1 } });
    expect(view?.regions['us-east-1']?.progress).toEqual({ expectedHosts: 4, hosts: 4, synced: 3, failed: 1, percent: 75 });
  });

  it('shows no progress for a view of the past, which the live counters cannot give', () => {
    expect(buildView(foldBuild(events.slice(0, 2)))?.regions['us-east-1']).toEqual({ replicated: false, synced: false });
  });

  it('has no view of a build whose build.requested is not folded in', () => {
    expect(buildView(foldBuild(events.slice(1, 2)))).toBeUndefined();
  });
});

describe('a build as it was', () => {
  const timed = events.map((e, i) => ({ ...e, occurredAt: `2026-01-01T00:00:0${i}.000Z` }));

  it('keeps the events up to a version', () => {
    expect(eventsAt(timed, { version: 2 }).map((e) => e.version)).toEqual([1, 2]);
  });

  it('keeps the events that had occurred at an instant, that instant included', () => {
    expect(eventsAt(timed, { time: new Date('2026-01-01T00:00:01.000Z') }).map((e) => e.version)).toEqual([1, 2]);
    expect(eventsAt(timed, { time: new Date('2025-12-31T23:59:59.000Z') })).toEqual([]);
  });
});
