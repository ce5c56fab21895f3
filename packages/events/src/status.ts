/**
 * The build's state as a pure fold of its stream: PENDING (requested) -> IN_PROGRESS (started) ->
 * SUCCESS | FAILED. Terminal states absorb: a late worker event after the terminal one is kept in
 * the log but changes no status. Every view (GET /builds/:id, the orchestrator's decisions)
 * derives from this one fold.
 */
import type { BuildEvent, EventData } from './registry.ts';

export type BuildStatus = 'PENDING' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED';

export interface RegionProgress {
  replicated: boolean;
  replicationFailure?: string;
  synced: boolean;
  syncFailure?: string;
  hosts?: number;
  syncedHosts?: number;
  failedHosts?: number;
  rounds?: number;
}

export interface BuildState {
  /** null until build.requested has been applied. */
  status: BuildStatus | null;
  buildId?: string;
  request?: EventData<'build.requested'>;
  executionArn?: string;
  artifact?: EventData<'artifact.published'>;
  regions: Record<string, RegionProgress>;
  requestedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  failure?: EventData<'build.failed'>;
  /** Version of the last event applied; a projection skips events at or below it. */
  lastVersion: number;
}

// Frozen: every fold starts from this one object, so a caller that mutated it would corrupt the next.
export const initialBuildState: BuildState = Object.freeze({ status: null, regions: Object.freeze({}), lastVersion: 0 });

export const isTerminal = (status: BuildStatus | null): boolean => status === 'SUCCESS' || status === 'FAILED';

const STATUS_RANK: Record<BuildStatus, number> = { PENDING: 1, IN_PROGRESS: 2, SUCCESS: 3, FAILED: 3 };

/** Status only moves forward: a `build.requested` read after `build.started` leaves IN_PROGRESS. */
function advance(current: BuildStatus | null, next: BuildStatus): BuildStatus {
  return current !== null && STATUS_RANK[current] >= STATUS_RANK[next] ? current : next;
}

function region(state: BuildState, name: string, change: Partial<RegionProgress>): Record<string, RegionProgress> {
  const current = state.regions[name] ?? { replicated: false, synced: false };
  return { ...state.regions, [name]: { ...current, ...change } };
}

const hostCounts = (data: { hosts: number; synced: number; failed: number }) => ({ hosts: data.hosts, syncedHosts: data.synced, failedHosts: data.failed });

export function evolveBuild(state: BuildState, event: BuildEvent): BuildState {
  const next = { ...state, lastVersion: Math.max(state.lastVersion, event.version) };
  if (isTerminal(state.status)) return next;
  switch (event.type) {
    case 'build.requested':
      return {
        ...next,
        status: advance(state.status, 'PENDING'),
        buildId: event.data.buildId,
        request: event.data,
        requestedAt: event.occurredAt,
        // Progress already recorded for a region (an out-of-order read) is kept, never reset.
        regions: { ...Object.fromEntries(event.data.regions.map((r) => [r, { replicated: false, synced: false }])), ...state.regions },
      };
    case 'build.started':
      return { ...next, status: advance(state.status, 'IN_PROGRESS'), executionArn: event.data.executionArn, startedAt: event.occurredAt };
    case 'artifact.published':
      return { ...next, artifact: event.data };
    case 'region.replicated':
      return { ...next, regions: region(state, event.data.region, { replicated: true }) };
    case 'region.replication_failed':
      return { ...next, regions: region(state, event.data.region, { replicated: false, replicationFailure: event.data.reason }) };
    case 'region.synced':
      return { ...next, regions: region(state, event.data.region, { synced: true, ...hostCounts(event.data), rounds: event.data.rounds }) };
    case 'region.sync_failed':
      return { ...next, regions: region(state, event.data.region, { synced: false, syncFailure: event.data.reason, ...hostCounts(event.data) }) };
    case 'build.succeeded':
      return { ...next, status: 'SUCCESS', finishedAt: event.occurredAt };
    case 'build.failed':
      return { ...next, status: 'FAILED', finishedAt: event.occurredAt, failure: event.data };
    default: {
      // A compile error here means a build event type has no case above.
      const _never: never = event;
      void _never;
      return next;
    }
  }
}

export const foldBuild = (events: readonly BuildEvent[], from: BuildState = initialBuildState): BuildState => events.reduce(evolveBuild, from);

/** The build fold under the decider names: `evolve(state, event)` from `initialState`. */
export const evolve = evolveBuild;
export const initialState = initialBuildState;
