import { describe, expect, it } from 'vitest';
import { BUCKET_SOURCE, spread, type SpreadParams } from '../src/domain/spread.ts';

const params = (overrides: Partial<SpreadParams> = {}): SpreadParams => ({
  seed: '01JBUILD:us-east-1',
  hosts: 1_000,
  hostFailureRate: 0,
  maxAttempts: 3,
  bucketFanout: 4,
  minHealthyPercent: 100,
  ...overrides,
});

describe('spread: peer-to-peer distribution in rounds', () => {
  it('syncs every host when nothing fails, each host once', () => {
    const result = spread(params());
    expect(result.synced).toBe(1_000);
    expect(result.failed).toBe(0);
    expect(result.healthy).toBe(true);
    expect(new Set(result.hosts.map((h) => h.host)).size).toBe(1_000);
  });

  it('grows the holders geometrically: far fewer rounds than hosts', () => {
    const result = spread(params());
    // Holders roughly double each round, so 1,000 hosts take about log2(1000 / 4) + a few rounds.
    expect(result.rounds).toBeLessThanOrEqual(12);
    expect(result.rounds).toBeGreaterThanOrEqual(8);
  });

  it('only serves from the bucket or from a host that held the artifact in an earlier round', () => {
    const result = spread(params({ hostFailureRate: 0.2 }));
    const roundOf = new Map(result.hosts.filter((h) => h.status === 'synced').map((h) => [h.host, h.round]));
    for (const host of result.hosts) {
      if (host.source === BUCKET_SOURCE) continue;
      const sourceRound = roundOf.get(host.source);
      expect(sourceRound, `${host.host} served by ${host.source}`).toBeDefined();
      expect(sourceRound).toBeLessThan(host.round);
    }
  });

  it('is a function of its seed: same seed, same spread; another region, another spread', () => {
    const a = spread(params({ hostFailureRate: 0.1 }));
    expect(spread(params({ hostFailureRate: 0.1 }))).toEqual(a);
    const b = spread(params({ hostFailureRate: 0.1, seed: '01JBUILD:eu-west-1' }));
    expect(b.hosts.map((h) => h.source)).not.toEqual(a.hosts.map((h) => h.source));
  });

  it('retries a failed host in later rounds, at most maxAttempts times', () => {
    const result = spread(params({ hostFailureRate: 0.3 }));
    expect(Math.max(...result.hosts.map((h) => h.attempts))).toBe(3);
    expect(result.hosts.some((h) => h.status === 'synced' && h.attempts > 1)).toBe(true);
    for (const h of result.hosts.filter((x) => x.status === 'failed')) expect(h.attempts).toBe(3);
  });

  it('fails every host when every transfer fails, and reports the region unhealthy', () => {
    const result = spread(params({ hosts: 10, hostFailureRate: 1 }));
    expect(result.synced).toBe(0);
    expect(result.failed).toBe(10);
    expect(result.healthy).toBe(false);
  });

  it('is healthy when at least minHealthyPercent of hosts synced', () => {
    const result = spread(params({ hostFailureRate: 0.5, maxAttempts: 1 }));
    const percent = (result.synced * 100) / 1_000;
    expect(spread(params({ hostFailureRate: 0.5, maxAttempts: 1, minHealthyPercent: Math.floor(percent) })).healthy).toBe(true);
    expect(spread(params({ hostFailureRate: 0.5, maxAttempts: 1, minHealthyPercent: Math.floor(percent) + 1 })).healthy).toBe(false);
  });
});
