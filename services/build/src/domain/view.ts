/**
 * The build view as GET /builds/:id answers it: the folded state (kept by the projector, see
 * BuildProjections) with per-region host counters and progress.
 */
import type { BuildEvent, BuildState, BuildStatus, EventData, RegionProgress } from '@flotilla/events';
import type { HostCounters } from '@flotilla/platform';

/**
 * A region's live progress. `countersCatchingUp`: the log says the region's host records are all
 * written (region.synced or region.sync_failed, with their count) but the counters, which trail the
 * writes by the host table's stream, have not counted them all yet; so a SUCCESS build shows
 * either 100% or says why not, and then reaches 100%.
 */
export type RegionView = RegionProgress & { progress?: HostCounters & { expectedHosts: number; percent: number; countersCatchingUp: boolean } };

/** A point in a build's history: after a given stream version, or at an instant. */
export type PointInTime = { version: number } | { time: Date };

/** The events of a stream (in version order) that had happened at `at`. */
export function eventsAt(events: readonly BuildEvent[], at: PointInTime): BuildEvent[] {
  if ('version' in at) return events.filter((e) => e.version <= at.version);
  const cutoff = at.time.getTime();
  return events.filter((e) => Date.parse(e.occurredAt) <= cutoff);
}

export interface BuildView {
  buildId: string;
  status: BuildStatus;
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
  source: EventData<'build.requested'>['source'];
  executionArn?: string;
  artifact?: EventData<'artifact.published'>;
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  failure?: EventData<'build.failed'>;
  lastVersion: number;
  regions: Record<string, RegionView>;
}

/**
 * The view of `state`; undefined until its build.requested is folded in (no build to show). With
 * `counters` (the live host counters) each region carries its progress; without them (a view of
 * the past, which the counters cannot give) it carries none.
 */
export function buildView(state: BuildState, counters?: Record<string, HostCounters>): BuildView | undefined {
  const { request, status, requestedAt } = state;
  if (!request || !status || !requestedAt) return undefined;
  const regions: Record<string, RegionView> = {};
  for (const [region, progress] of Object.entries(state.regions)) {
    const counted = counters?.[region] ?? { hosts: 0, synced: 0, failed: 0 };
    const expected = request.hostsPerRegion;
    const countersCatchingUp = progress.hosts !== undefined && counted.hosts < progress.hosts;
    regions[region] = counters
      ? { ...progress, progress: { expectedHosts: expected, ...counted, percent: expected ? Math.floor((counted.synced * 100) / expected) : 0, countersCatchingUp } }
      : progress;
  }
  return {
    buildId: request.buildId,
    status,
    repo: request.repo,
    env: request.env,
    version: request.version,
    branch: request.branch,
    commit: request.commit,
    source: request.source,
    executionArn: state.executionArn,
    artifact: state.artifact,
    requestedAt,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    failure: state.failure,
    lastVersion: state.lastVersion,
    regions,
  };
}
