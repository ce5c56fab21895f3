/**
 * Peer-to-peer spread of an artifact to every host of a region, simulated as a pure function.
 *
 * Round by round: the regional bucket seeds up to `bucketFanout` waiting hosts, and every host that
 * already holds the artifact serves one more. Each transfer fails with probability
 * `hostFailureRate`; a host that failed waits for a later round and gives up after `maxAttempts`.
 * Randomness is a hash of (seed, host, attempt), not a stateful generator, so the outcome of one
 * host does not depend on the order hosts are visited, and the same build and region always
 * spread the same way (node:crypto's sha256 is all this needs; no PRNG library).
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

export interface SpreadResult {
  hosts: HostOutcome[];
  rounds: number;
  synced: number;
  failed: number;
  healthy: boolean;
}

export const BUCKET_SOURCE = 'bucket';

export const hostName = (index: number, total: number): string => `host-${String(index + 1).padStart(Math.max(4, String(total).length), '0')}`;

/** A uniform draw in [0, 1) from the hash of its inputs. */
function draw(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join(':')).digest().readUInt32BE(0) / 2 ** 32;
}

export function spread(params: SpreadParams): SpreadResult {
  const { seed, hosts: total, hostFailureRate, maxAttempts, bucketFanout, minHealthyPercent } = params;
  const names = Array.from({ length: total }, (_, i) => hostName(i, total));
  // Waiting hosts in a seeded order, so which host gets served first is part of the seed.
  const orderKey = new Map(names.map((name) => [name, draw(seed, 'order', name)]));
  let waiting = [...names].sort((a, b) => (orderKey.get(a) ?? 0) - (orderKey.get(b) ?? 0));
  const attempts = new Map<string, number>();
  const outcomes = new Map<string, HostOutcome>();
  const holders: string[] = [];
  let round = 0;

  while (waiting.length > 0) {
    round++;
    const servers = [...Array<string>(bucketFanout).fill(BUCKET_SOURCE), ...holders];
    const served = waiting.slice(0, servers.length);
    const next: string[] = waiting.slice(servers.length);
    const gained: string[] = [];
    served.forEach((host, i) => {
      const source = servers[i] ?? BUCKET_SOURCE;
      const attempt = (attempts.get(host) ?? 0) + 1;
      attempts.set(host, attempt);
      if (draw(seed, 'transfer', host, attempt) >= hostFailureRate) {
        outcomes.set(host, { host, status: 'synced', source, round, attempts: attempt });
        gained.push(host);
      } else if (attempt >= maxAttempts) {
        outcomes.set(host, { host, status: 'failed', source, round, attempts: attempt });
      } else {
        next.push(host);
      }
    });
    // New holders start serving in the next round, not the one they received in.
    holders.push(...gained);
    waiting = next;
  }

  const hosts = names.map((name) => outcomes.get(name)).filter((o): o is HostOutcome => o !== undefined);
  const synced = hosts.filter((h) => h.status === 'synced').length;
  return { hosts, rounds: round, synced, failed: total - synced, healthy: synced * 100 >= minHealthyPercent * total };
}
