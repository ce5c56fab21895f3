import { describe, expect, it } from 'vitest';
import { countChanges } from '@flotilla/platform';

const host = (status: string, region = 'us-east-1') => ({ buildId: 'B1', region, status });

describe('countChanges: host counters from the host table stream', () => {
  it('counts a new host once, under its status', () => {
    const totals = countChanges([{ eventName: 'INSERT', newImage: host('synced') }, { eventName: 'INSERT', newImage: host('failed') }]);
    expect([...totals.values()]).toEqual([{ buildId: 'B1', region: 'us-east-1', add: { hosts: 2, synced: 1, failed: 1 } }]);
  });

  it('moves one count when a host changes status, and none when it is rewritten unchanged', () => {
    const totals = countChanges([
      { eventName: 'MODIFY', oldImage: host('failed'), newImage: host('synced') },
      { eventName: 'MODIFY', oldImage: host('synced'), newImage: host('synced') },
    ]);
    expect([...totals.values()]).toEqual([{ buildId: 'B1', region: 'us-east-1', add: { failed: -1, synced: 1 } }]);
  });

  it('keeps builds and regions apart, and ignores removals', () => {
    const totals = countChanges([
      { eventName: 'INSERT', newImage: host('synced', 'us-east-1') },
      { eventName: 'INSERT', newImage: host('synced', 'eu-west-1') },
      { eventName: 'REMOVE', oldImage: host('synced', 'eu-west-1') },
    ]);
    expect(totals.size).toBe(2);
    expect(totals.get('B1#eu-west-1')?.add).toEqual({ hosts: 1, synced: 1 });
  });
});
