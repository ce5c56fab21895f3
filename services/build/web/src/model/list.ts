/**
 * When a live event changes the build list's visible page. Pure: the list view asks this for each
 * frame of the global stream and refreshes the page (at most once a second) when it says so.
 */
import type { BuildFilters } from '../router.ts';

const BUILD_STREAM = /^build-([0-7][0-9A-HJKMNP-TV-Z]{25})$/;

/**
 * The build id of a `build-<id>` stream, or undefined for another aggregate's stream. The same
 * rule as @flotilla/events' buildIdOfStream, written again here because importing that module
 * would bundle zod and ulid into the page for two lines (console-live.unit.test.ts checks both agree).
 */
export function buildIdOfStream(stream: string): string | undefined {
  return BUILD_STREAM.exec(stream)?.[1];
}

export interface VisiblePage {
  /** The newest page (no cursor): only there can a new build appear. */
  first: boolean;
  /** The builds on it. */
  buildIds: ReadonlySet<string>;
  filters: BuildFilters;
}

/**
 * Whether the event can change what the page shows. A new build (build.requested) appears only on
 * the first page, and only if the page may show PENDING builds. Any other build event changes its own row; with a status filter it can also
 * move a build into or out of the page, so it counts wherever the build is. Events of other
 * aggregates (test runs, services) never change the list.
 */
export function eventChangesPage(event: { stream: string; type: string }, page: VisiblePage): boolean {
  const buildId = buildIdOfStream(event.stream);
  if (buildId === undefined) return false;
  if (event.type === 'build.requested') return page.first && (page.filters.status === undefined || page.filters.status === 'PENDING');
  return page.buildIds.has(buildId) || page.filters.status !== undefined;
}
