import { describe, expect, it } from 'vitest';
import { monotonicFactory } from 'ulid';
import { bucketOfId, bucketsBetween } from '../src/event-store.ts';

describe('global order buckets', () => {
  it('places an id in the UTC day of its timestamp', () => {
    const id = monotonicFactory()(Date.parse('2026-11-22T23:59:59.999Z'));
    expect(bucketOfId(id)).toBe('2026-11-22');
    expect(bucketOfId(monotonicFactory()(Date.parse('2026-11-23T00:00:00.000Z')))).toBe('2026-11-23');
  });

  it('lists every day from the day of `since` to `until`, inclusive and in order', () => {
    expect(bucketsBetween(new Date('2026-02-27T18:00:00Z'), new Date('2026-03-02T01:00:00Z'))).toEqual([
      '2026-02-27',
      '2026-02-28',
      '2026-03-01',
      '2026-03-02',
    ]);
  });

  it('gives one bucket when since and until share a day, none when until is earlier', () => {
    expect(bucketsBetween(new Date('2026-11-22T01:00:00Z'), new Date('2026-11-22T02:00:00Z'))).toEqual(['2026-11-22']);
    expect(bucketsBetween(new Date('2026-11-22T01:00:00Z'), new Date('2026-11-21T02:00:00Z'))).toEqual([]);
  });
});
