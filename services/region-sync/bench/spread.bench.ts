/**
 * The cost of the peer-to-peer simulation per region, against a baseline that only makes the
 * host records (every host from the bucket, no rounds, no draws), run in the same process. The
 * streamed spread (what a sync task runs: outcomes pulled one at a time, none kept) against the
 * array one (every outcome kept, then sorted by host) shows what the stream costs or saves.
 */
import { bench, describe } from 'vitest';
import { hostName, spread, spreadHosts } from '../src/domain/spread.ts';

for (const hosts of [1_000, 10_000]) {
  describe(`${hosts} hosts`, () => {
    bench('baseline: host records only', () => {
      Array.from({ length: hosts }, (_, i) => ({ host: hostName(i, hosts), status: 'synced', source: 'bucket', round: 1, attempts: 1 }));
    });
    bench('spread, no failures', () => {
      spread({ seed: 'b:us-east-1', hosts, hostFailureRate: 0, maxAttempts: 3, bucketFanout: 4, minHealthyPercent: 100 });
    });
    bench('spreadHosts (streamed, nothing kept), no failures', () => {
      let synced = 0;
      for (const outcome of { [Symbol.iterator]: () => spreadHosts({ seed: 'b:us-east-1', hosts, hostFailureRate: 0, maxAttempts: 3, bucketFanout: 4, minHealthyPercent: 100 }) }) {
        if (outcome.status === 'synced') synced++;
      }
      if (synced !== hosts) throw new Error(`${synced} of ${hosts} synced`);
    });
    bench('spread, 20% transfer failures', () => {
      spread({ seed: 'b:us-east-1', hosts, hostFailureRate: 0.2, maxAttempts: 3, bucketFanout: 4, minHealthyPercent: 100 });
    });
  });
}
