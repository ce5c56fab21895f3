import { describe, expect, it } from 'vitest';
import { forEachLimited, KeyedTurns, within } from '../src/concurrency.ts';

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

describe('KeyedTurns', () => {
  it('runs one key’s work one at a time in the order given, other keys beside it, and forgets idle keys', async () => {
    const turns = new KeyedTurns();
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const step = (name: string) => () =>
      new Promise<string>((resolve) => {
        log.push(`start ${name}`);
        gates.set(name, () => {
          log.push(`end ${name}`);
          resolve(name);
        });
      });
    const a1 = turns.run('a', step('a1'));
    const a2 = turns.run('a', step('a2'));
    const b1 = turns.run('b', step('b1'));
    await Promise.resolve();
    await Promise.resolve();
    // a2 waits for a1; b1 runs beside a1.
    expect(log).toEqual(['start a1', 'start b1']);
    gates.get('b1')?.();
    gates.get('a1')?.();
    expect(await a1).toBe('a1');
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['start a1', 'start b1', 'end b1', 'end a1', 'start a2']);
    gates.get('a2')?.();
    expect(await Promise.all([a2, b1])).toEqual(['a2', 'b1']);
    await Promise.resolve();
    expect(turns.size).toBe(0);
  });

  it('goes on with the next turn after one fails, and gives the failure to its own caller only', async () => {
    const turns = new KeyedTurns();
    const failed = turns.run('a', () => Promise.reject(new Error('lost')));
    const next = turns.run('a', () => Promise.resolve('next'));
    await expect(failed).rejects.toThrow('lost');
    expect(await next).toBe('next');
  });
});
