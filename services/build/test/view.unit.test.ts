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
    expect(view?.regions['us-east-1']?.progress).toEqual({ expectedHosts: 4, hosts: 4, synced: 3, failed: 1, percent: 75, countersCatchingUp: false });
  });

  it('shows no progress for a view of the past, which the live counters cannot give', () => {
    expect(buildView(foldBuild(events.slice(0, 2)))?.regions['us-east-1']).toEqual({ replicated: false, synced: false });
  });

  it('has no view of a build whose build.requested is not folded in', () => {
    expect(buildView(foldBuild(events.slice(1, 2)))).toBeUndefined();
  });
});

describe('the build view of a SUCCESS build: 100%, or says its counters are catching up', () => {
  const synced = newEvent({ type: 'region.synced', data: { region: 'us-east-1', hosts: 4, synced: 4, failed: 0, rounds: 2 }, correlationId: 'c', causationId: 'k' });
  const success = [events[0], events[1], { ...synced, stream: buildStream(BUILD_ID), version: 3 }, { ...events[2], version: 4 }].filter((e): e is BuildEvent => e !== undefined);

  it('says the counters are catching up while they hold fewer hosts than the log says were written', () => {
    const view = buildView(foldBuild(success), { 'us-east-1': { hosts: 2, synced: 2, failed: 0 } });
    expect(view?.status).toBe('SUCCESS');
    expect(view?.regions['us-east-1']?.progress).toMatchObject({ percent: 50, countersCatchingUp: true });
  });

  it('shows 100% and no catching up once every host is counted', () => {
    const view = buildView(foldBuild(success), { 'us-east-1': { hosts: 4, synced: 4, failed: 0 } });
    expect(view?.regions['us-east-1']?.progress).toMatchObject({ percent: 100, countersCatchingUp: false });
  });

  it('does not call a region that is still writing its hosts catching up: its count is not known yet', () => {
    const view = buildView(foldBuild(events.slice(0, 2)), { 'us-east-1': { hosts: 1, synced: 1, failed: 0 } });
    expect(view?.regions['us-east-1']?.progress).toMatchObject({ percent: 25, countersCatchingUp: false });
  });

  it('counts no counters at all (the stream has not delivered a record yet) as catching up', () => {
    const view = buildView(foldBuild(success), {});
    expect(view?.regions['us-east-1']?.progress).toMatchObject({ hosts: 0, percent: 0, countersCatchingUp: true });
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
