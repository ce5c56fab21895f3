/** The console's live updates: when an event refreshes the build list, how often, and how a dropped stream waits. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildIdOfStream as buildIdOfTheLog } from '@flotilla/events';
import { buildIdOfStream, eventChangesPage, type VisiblePage } from '../web/src/model/list.ts';
import { reconnectDelay, RECONNECT_MAX_MS } from '../web/src/stream.ts';
import { debounce, throttle } from '../web/src/timing.ts';

const SHOWN = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';
const OTHER = '01JD0ZQ8X3V7K2M4N6P8R0T2W5';
const page = (change: Partial<VisiblePage> = {}): VisiblePage => ({ first: true, buildIds: new Set([SHOWN]), filters: {}, ...change });

describe('eventChangesPage', () => {
  it('refreshes for a new build only on the first page, and only if PENDING builds can show', () => {
    const requested = { stream: `build-${OTHER}`, type: 'build.requested' };
    expect(eventChangesPage(requested, page())).toBe(true);
    expect(eventChangesPage(requested, page({ first: false }))).toBe(false);
    expect(eventChangesPage(requested, page({ filters: { status: 'FAILED' } }))).toBe(false);
    expect(eventChangesPage(requested, page({ filters: { status: 'PENDING' } }))).toBe(true);
  });

  it('refreshes for an event of a build on the page', () => {
    expect(eventChangesPage({ stream: `build-${SHOWN}`, type: 'region.synced' }, page({ first: false }))).toBe(true);
  });

  it('ignores an event of a build elsewhere, unless a status filter can bring the build in or take it out', () => {
    const elsewhere = { stream: `build-${OTHER}`, type: 'build.failed' };
    expect(eventChangesPage(elsewhere, page())).toBe(false);
    expect(eventChangesPage(elsewhere, page({ filters: { status: 'FAILED' } }))).toBe(true);
  });

  it('ignores the other aggregates', () => {
    expect(eventChangesPage({ stream: `testrun-${SHOWN}`, type: 'testrun.completed' }, page({ filters: { status: 'FAILED' } }))).toBe(false);
    expect(buildIdOfStream('service-payments')).toBeUndefined();
    expect(buildIdOfStream(`build-${SHOWN}`)).toBe(SHOWN);
  });

  it("reads a stream's build id as @flotilla/events does", () => {
    for (const stream of [`build-${SHOWN}`, `build-${SHOWN.toLowerCase()}`, 'build-nope', `testrun-${SHOWN}`, `build-${SHOWN}x`, `build-8${SHOWN.slice(1)}`]) {
      expect(buildIdOfStream(stream), stream).toBe(buildIdOfTheLog(stream));
    }
  });
});

describe('reconnectDelay', () => {
  it('doubles from 1 s to 15 s', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 50].map((attempt) => reconnectDelay(attempt, middle))).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
  });

  it('jitters each wait by a quarter either way, never past 15 s', () => {
    expect(reconnectDelay(1, () => 0)).toBe(750);
    expect(reconnectDelay(1, () => 0.999_999)).toBe(1_250);
    expect(reconnectDelay(5, () => 0.999_999)).toBe(RECONNECT_MAX_MS);
  });
});

describe('throttle and debounce', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('throttle runs at once, then at most once a second, folding the calls in between into one', () => {
    const fn = vi.fn();
    const refresh = throttle(fn, 1_000, () => Date.now());
    refresh();
    expect(fn).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(50);
      refresh();
    }
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(500);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5_000);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('a cancelled throttle or debounce runs nothing', () => {
    const fn = vi.fn();
    const refresh = throttle(fn, 1_000, () => Date.now());
    refresh();
    refresh();
    refresh.cancel();
    const later = debounce(fn, 300);
    later();
    later.cancel();
    vi.advanceTimersByTime(5_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('debounce runs once, after the calls stop', () => {
    const fn = vi.fn();
    const refetch = debounce(fn, 300);
    for (let i = 0; i < 5; i++) {
      refetch();
      vi.advanceTimersByTime(200);
    }
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(300);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
