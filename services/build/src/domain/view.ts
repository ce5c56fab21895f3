/**
 * The build view: the folded state, shaped for GET /builds/:id, with per-region host counters.
 * A projection applies a stream's events in version order: an event at or below the stored
 * version is a duplicate and is skipped; one past the next version means events are missing
 * (SNS does not keep order), so the log is read first to fill the gap.
 */
import { evolveBuild, foldBuild, type BuildEvent, type BuildState } from '@flotilla/events';

export type ProjectionStep = { kind: 'skip' } | { kind: 'apply'; state: BuildState } | { kind: 'fill-gap'; afterVersion: number };

export function projectEvent(stored: BuildState, event: BuildEvent): ProjectionStep {
  if (event.version <= stored.lastVersion) return { kind: 'skip' };
  if (event.version > stored.lastVersion + 1) return { kind: 'fill-gap', afterVersion: stored.lastVersion };
  return { kind: 'apply', state: evolveBuild(stored, event) };
}

export const fillGap = (stored: BuildState, missing: readonly BuildEvent[]): BuildState => foldBuild(missing.filter((e) => e.version > stored.lastVersion), stored);

export interface HostCounters {
  hosts: number;
  synced: number;
  failed: number;
}

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
