/** The live stream's limits (review M5), without AWS: how long it waits between reads, and how many may be open. */
import { describe, expect, it } from 'vitest';
import { nextPollDelay, StreamSlots } from '../src/http/stream.ts';

describe('nextPollDelay', () => {
  const limits = { pollMs: 500, maxPollMs: 5_000 };

  it('doubles while nothing happens, up to the ceiling', () => {
    const delays = [limits.pollMs];
    for (let i = 0; i < 6; i++) delays.push(nextPollDelay(delays.at(-1) ?? 0, false, limits));
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
  });

  it('drops back to the shortest wait as soon as events arrive', () => {
    expect(nextPollDelay(5_000, true, limits)).toBe(500);
  });
});

describe('StreamSlots', () => {
  it('refuses a client past its own cap, and anyone past the global cap; a release frees the slot', () => {
    const slots = new StreamSlots({ maxStreams: 3, maxStreamsPerClient: 2 });
    const a1 = slots.acquire('a');
    const a2 = slots.acquire('a');
    expect(typeof a1).toBe('function');
    expect(typeof a2).toBe('function');
    expect(slots.acquire('a')).toBe('client');
    const b1 = slots.acquire('b');
    expect(typeof b1).toBe('function');
    expect(slots.acquire('c')).toBe('global');
    if (typeof a1 !== 'function') throw new Error('unreachable');
    a1();
    a1(); // releasing twice frees one slot, not two
    expect(slots.open).toBe(2);
    expect(typeof slots.acquire('c')).toBe('function');
    expect(slots.acquire('a')).toBe('global');
  });
});
