/**
 * The build view as GET /builds/:id answers it: the folded state (kept by the projector, see
 * BuildProjections) with per-region host counters and progress.
 */
import type { BuildState } from '@flotilla/events';
import type { HostCounters } from '@flotilla/platform';

export function buildView(state: BuildState, counters: Record<string, HostCounters>) {
  const request = state.request;
  return {
    buildId: state.buildId,
    status: state.status,
    repo: request?.repo,
    env: request?.env,
    version: request?.version,
    branch: request?.branch,
    commit: request?.commit,
    source: request?.source,
    executionArn: state.executionArn,
    artifact: state.artifact,
    requestedAt: state.requestedAt,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    failure: state.failure,
    lastVersion: state.lastVersion,
    regions: Object.fromEntries(
      Object.entries(state.regions).map(([region, progress]) => {
        const counted = counters[region] ?? { hosts: 0, synced: 0, failed: 0 };
        const expected = request?.hostsPerRegion ?? 0;
        return [region, { ...progress, progress: { expectedHosts: expected, ...counted, percent: expected ? Math.floor((counted.synced * 100) / expected) : 0 } }];
      }),
    ),
  };
}
