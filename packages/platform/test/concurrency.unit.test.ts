import { describe, expect, it } from 'vitest';
import { forEachLimited, within } from '../src/concurrency.ts';

describe('forEachLimited', () => {
  it('runs every item once, starting them in order, never more than the bound at a time', async () => {
    const started: number[] = [];
    let inFlight = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const run = forEachLimited([0, 1, 2, 3, 4, 5, 6], 3, async (item) => {
      started.push(item);
      peak = Math.max(peak, ++inFlight);
      await new Promise<void>((resolve) => releases.push(resolve));
      inFlight--;
    });
    // Release one waiting item at a time until all have run: each release lets one more start.
    while (started.length < 7 || releases.length > 0) {
      await Promise.resolve();
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await run;
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(peak).toBe(3);
  });

  it('does nothing for no items, and treats a bound below 1 as 1', async () => {
    await forEachLimited([], 4, () => Promise.reject(new Error('never called')));
    const seen: number[] = [];
    await forEachLimited([1, 2], 0, (n) => {
      seen.push(n);
      return Promise.resolve();
    });
    expect(seen).toEqual([1, 2]);
  });

  it('fails with the first error', async () => {
    await expect(forEachLimited([1, 2, 3], 2, (n) => (n === 2 ? Promise.reject(new Error('two')) : Promise.resolve()))).rejects.toThrow('two');
  });
});

describe('within', () => {
  it('gives the outcome of work that settles in time, and says so when it does not', async () => {
    expect(await within(Promise.resolve(7), 1_000)).toEqual({ done: true, value: 7 });
    expect(await within(new Promise(() => undefined), 10)).toEqual({ done: false });
    await expect(within(Promise.reject(new Error('boom')), 1_000)).rejects.toThrow('boom');
  });
});
