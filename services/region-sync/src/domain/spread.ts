/**
 * Peer-to-peer spread of an artifact to every host of a region, simulated as a pure function.
 *
 * Round by round: the regional bucket seeds up to `bucketFanout` waiting hosts, and every host that
 * already holds the artifact serves one more. Each transfer fails with probability
 * `hostFailureRate`; a host that failed waits for a later round and gives up after `maxAttempts`.
 * Randomness is a hash of (seed, host, attempt), not a stateful generator, so the outcome of one
 * host does not depend on the order hosts are visited, and the same build and region always
 * spread the same way (node:crypto's sha256 is all this needs; no PRNG library).
 *
 * The spread is a generator (`spreadHosts`): it yields each host's final outcome as the round that
 * decides it is simulated, so a caller that writes the outcomes as they come holds only its own
 * window of them (review H6: the whole region's outcomes, 100,000 objects, and their records were
 * held at once). What it keeps for the whole region is per host index, in typed arrays: the queue
 * of waiting hosts, the attempts so far and the holders (about 12 bytes a host).
 */
import { createHash } from 'node:crypto';

export interface SpreadParams {
  /** `${buildId}:${region}`: the same seed gives the same spread. */
  seed: string;
  hosts: number;
  hostFailureRate: number;
  maxAttempts: number;
  bucketFanout: number;
  minHealthyPercent: number;
}

export type HostOutcome =
  | { host: string; status: 'synced'; source: string; round: number; attempts: number }
  | { host: string; status: 'failed'; source: string; round: number; attempts: number };

/** What a whole spread came to; the generator's return value. */
export interface SpreadSummary {
  rounds: number;
  synced: number;
  failed: number;
  healthy: boolean;
}

export interface SpreadResult extends SpreadSummary {
  hosts: HostOutcome[];
}

export const BUCKET_SOURCE = 'bucket';

export const hostName = (index: number, total: number): string => `host-${String(index + 1).padStart(Math.max(4, String(total).length), '0')}`;

/** A uniform draw in [0, 1) from the hash of its inputs. */
function draw(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join(':')).digest().readUInt32BE(0) / 2 ** 32;
}

/** Host indices in the seeded order in which they wait to be served (ties in index order). */
function seededOrder(seed: string, total: number): Int32Array {
  const keys = new Float64Array(total);
  for (let i = 0; i < total; i++) keys[i] = draw(seed, 'order', hostName(i, total));
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  return order.sort((a, b) => (keys[a] ?? 0) - (keys[b] ?? 0) || a - b);
}

/**
 * Yields every host's outcome once, in the order the rounds decide them, and returns the summary.
 * The outcomes are the same as `spread`'s, host for host; only their order differs (`spread` sorts
 * them by host).
 */
export function* spreadHosts(params: SpreadParams): Generator<HostOutcome, SpreadSummary, undefined> {
  const { seed, hosts: total, hostFailureRate, maxAttempts, bucketFanout, minHealthyPercent } = params;
  const name = (index: number) => hostName(index, total);
  // A queue of host indices: served from the head, retries appended at the tail, as a list would be.
  let waiting = seededOrder(seed, total);
  let waitingCount = total;
  const attempts = new Uint8Array(total);
  // Hosts holding the artifact, in the order they got it: holder i serves the i-th host after the bucket's.
  const holders = new Int32Array(total);
  let holderCount = 0;
  let round = 0;
  let synced = 0;

  while (waitingCount > 0) {
    round++;
    const servers = bucketFanout + holderCount;
    const servedCount = Math.min(servers, waitingCount);
    // The hosts not served this round keep their place; this round's failures queue behind them.
    const next = new Int32Array(waitingCount);
    next.set(waiting.subarray(servedCount, waitingCount));
    let nextCount = waitingCount - servedCount;
    // New holders start serving in the next round, not the one they received in: servedCount is
    // at most bucketFanout + the holders at the round's start, so i - bucketFanout never reaches them.
    for (let i = 0; i < servedCount; i++) {
      const host = waiting[i] ?? 0;
      const source = i < bucketFanout ? BUCKET_SOURCE : name(holders[i - bucketFanout] ?? 0);
      const attempt = (attempts[host] ?? 0) + 1;
      attempts[host] = attempt;
      if (draw(seed, 'transfer', name(host), attempt) >= hostFailureRate) {
        holders[holderCount++] = host;
        synced++;
        yield { host: name(host), status: 'synced', source, round, attempts: attempt };
      } else if (attempt >= maxAttempts) {
        yield { host: name(host), status: 'failed', source, round, attempts: attempt };
      } else {
        next[nextCount++] = host;
      }
    }
    waiting = next;
    waitingCount = nextCount;
  }

  return { rounds: round, synced, failed: total - synced, healthy: synced * 100 >= minHealthyPercent * total };
}

/** The whole spread at once, hosts in host order: for tests and benchmarks, not for a region's writes. */
export function spread(params: SpreadParams): SpreadResult {
  const hosts: HostOutcome[] = [];
  const outcomes = spreadHosts(params);
  for (;;) {
    const next = outcomes.next();
    if (next.done) return { hosts: hosts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)), ...next.value };
    hosts.push(next.value);
  }
}
