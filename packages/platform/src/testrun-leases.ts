/**
 * Who may run a test now. A region's runner service serves one run at a time (its bucket holds one
 * assignment), and at most MAX_CONCURRENT_TEST_RUNS runs are open at once. Each is a lease: a
 * record in the idempotency table that names its owner run, taken with a conditional put. The API
 * takes a run's leases before it appends `testrun.requested`; the orchestrator releases them once
 * the run has ended and every region is torn down. The leases are also the orchestrator's list of
 * the runs it supervises, so there is no second list to drift from them.
 *
 * Leases are taken one by one in a fixed order (a slot, then the regions sorted by name), and a
 * request that loses one gives back what it took: of two requests that race for a region, the one
 * that loses cannot be holding a region the winner still needs (it would come earlier in the order),
 * so at least one of them gets everything.
 */
import { MAX_CONCURRENT_TEST_RUNS } from '@flotilla/events';
import type { Records } from './records.ts';

const LEASE_PK = 'testrun-lease';
const regionKey = (region: string) => ({ pk: LEASE_PK, sk: `region#${region}` });
const slotKey = (slot: number) => ({ pk: LEASE_PK, sk: `slot#${slot}` });

export type LeaseRefusal = { kind: 'region-busy'; region: string; heldBy: string } | { kind: 'too-many-runs'; limit: number };

type Lease = { owner: string; claimedAt: string };

/**
 * Takes a slot and every region's lease for `runId`, or none of them. Taking them again for the
 * same run succeeds (a retried request). Returns the refusal when another run holds what it needs.
 */
export async function claimTestRunLeases(leases: Records, runId: string, regions: readonly string[], now = new Date()): Promise<LeaseRefusal | undefined> {
  const value = { claimedAt: now.toISOString() };
  const taken: Array<{ pk: string; sk: string }> = [];
  const giveBack = async () => void (await Promise.all(taken.map((key) => leases.release(key, runId))));
  // A run that already holds a slot (a retry) finds it again before it could take a second one.
  const held = (await leases.list<Lease>(LEASE_PK, 'slot#')).find((s) => s.owner === runId);
  let slot = held ? slotKey(Number(held.sk.slice('slot#'.length))) : undefined;
  for (let i = 0; !slot && i < MAX_CONCURRENT_TEST_RUNS; i++) {
    if (await leases.claim(slotKey(i), runId, value)) slot = slotKey(i);
  }
  if (!slot) return { kind: 'too-many-runs', limit: MAX_CONCURRENT_TEST_RUNS };
  taken.push(slot);
  for (const region of [...regions].sort()) {
    if (!(await leases.claim(regionKey(region), runId, value))) {
      const holder = await leases.get<Lease>(regionKey(region));
      await giveBack();
      return { kind: 'region-busy', region, heldBy: holder?.owner ?? 'another run' };
    }
    taken.push(regionKey(region));
  }
  return undefined;
}

/** Gives back every lease `runId` holds. */
export async function releaseTestRunLeases(leases: Records, runId: string): Promise<void> {
  const held = (await leases.list<Lease>(LEASE_PK)).filter((l) => l.owner === runId);
  await Promise.all(held.map((l) => leases.release(l, runId)));
}

/** The runs holding leases, each with when it took its first: the runs to supervise. */
export async function leasedTestRuns(leases: Records): Promise<Array<{ runId: string; since: Date }>> {
  const runs = new Map<string, Date>();
  for (const lease of await leases.list<Lease>(LEASE_PK)) {
    const since = new Date(lease.claimedAt);
    const known = runs.get(lease.owner);
    if (!known || since < known) runs.set(lease.owner, since);
  }
  return [...runs].map(([runId, since]) => ({ runId, since }));
}
