/**
 * The build projections' pure steps, shared by the live projector (build service) and replay
 * (`flotilla replay`), so a rebuilt table is made by the very code that made the live one.
 *
 * A projection applies a stream's events in version order: an event at or below the stored
 * version is a duplicate and is skipped; one past the next version means events are missing (SNS
 * does not keep order, a global read may trail), so the stream is read first to fill the gap.
 */
import { foldBuild, evolveBuild, type BuildState, type BuildStatus } from './status.ts';
import type { Door } from './build.ts';
import type { BuildEvent } from './registry.ts';

export type ProjectionStep = { kind: 'skip' } | { kind: 'apply'; state: BuildState } | { kind: 'fill-gap'; afterVersion: number };

export function projectEvent(stored: BuildState, event: BuildEvent): ProjectionStep {
  if (event.version <= stored.lastVersion) return { kind: 'skip' };
  if (event.version > stored.lastVersion + 1) return { kind: 'fill-gap', afterVersion: stored.lastVersion };
  return { kind: 'apply', state: evolveBuild(stored, event) };
}

/** Folds the events read from the stream after a gap onto the stored state, skipping what it already has. */
export const fillGap = (stored: BuildState, missing: readonly BuildEvent[]): BuildState => foldBuild(missing.filter((e) => e.version > stored.lastVersion), stored);

/** One row of the build list: what `GET /builds` filters and shows, derived from the folded state. */
export interface BuildSummary {
  buildId: string;
  repo: string;
  env: string;
  version: string;
  status: BuildStatus;
  door: Door;
  key: string;
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  regions: string[];
  hostsPerRegion: number;
}

/** The list row for a build, or undefined while its stream has no build.requested applied. */
export function buildSummary(state: BuildState): BuildSummary | undefined {
  const request = state.request;
  if (!request || !state.status || !state.requestedAt) return undefined;
  return {
    buildId: request.buildId,
    repo: request.repo,
    env: request.env,
    version: request.version,
    status: state.status,
    door: request.source.door,
    key: request.source.key,
    requestedAt: state.requestedAt,
    ...(state.startedAt ? { startedAt: state.startedAt } : {}),
    ...(state.finishedAt ? { finishedAt: state.finishedAt } : {}),
    ...(state.failure ? { reason: state.failure.reason } : {}),
    regions: request.regions,
    hostsPerRegion: request.hostsPerRegion,
  };
}
