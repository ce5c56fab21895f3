/**
 * The cost of the peer-to-peer simulation per region, against a baseline that only makes the
 * host records (every host from the bucket, no rounds, no draws), run in the same process.
 */
import { bench, describe } from 'vitest';
import { hostName, spread } from '../src/domain/spread.ts';

for (const hosts of [1_000, 10_000]) {
  describe(`${hosts} hosts`, () => {
    bench('baseline: host records only', () => {
      Array.from({ length: hosts }, (_, i) => ({ host: hostName(i, hosts), status: 'synced', source: 'bucket', round: 1, attempts: 1 }));
    });
    bench('spread, no failures', () => {
      spread({ seed: 'b:us-east-1', hosts, hostFailureRate: 0, maxAttempts: 3, bucketFanout: 4, minHealthyPercent: 100 });
    });
    bench('spread, 20% transfer failures', () => {
      spread({ seed: 'b:us-east-1', hosts, hostFailureRate: 0.2, maxAttempts: 3, bucketFanout: 4, minHealthyPercent: 100 });
    });
  });
}
