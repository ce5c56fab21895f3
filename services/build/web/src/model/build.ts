/**
 * What the build page shows, derived from the build's view and its events: the stages, each
 * region's host counts, a line per event. Pure: counts are derivations, the views only draw them.
 */
import type { BuildEvent } from '@flotilla/events';
import type { BuildStatus, BuildView, EventEnvelope, RegionView } from '../api.ts';

export const isTerminal = (status: BuildStatus): boolean => status === 'SUCCESS' || status === 'FAILED';

export const STAGES = ['requested', 'started', 'built', 'replicated', 'synced', 'finished'] as const;
export type StageName = (typeof STAGES)[number];
/** done; current: the build is in it now; failed: the build ended in it; pending: not reached (or never will be, after a failure). */
export type StageState = 'done' | 'current' | 'failed' | 'pending';

export interface Stage {
  name: StageName;
  state: StageState;
  /** When the stage was reached, where the view says. */
  at?: string;
}

const allRegions = (view: BuildView, test: (region: RegionView) => boolean): boolean => {
  const regions = Object.values(view.regions);
  return regions.length > 0 && regions.every(test);
};

function reached(view: BuildView, stage: StageName): boolean {
  switch (stage) {
    case 'requested':
      return true;
    case 'started':
      return view.startedAt !== undefined || view.executionArn !== undefined;
    case 'built':
      return view.artifact !== undefined;
    case 'replicated':
      return allRegions(view, (r) => r.replicated);
    case 'synced':
      return allRegions(view, (r) => r.synced);
    case 'finished':
      return view.status === 'SUCCESS';
    default: {
      const _never: never = stage;
      return _never;
    }
  }
}

const timeOf = (view: BuildView, stage: StageName): string | undefined =>
  stage === 'requested' ? view.requestedAt : stage === 'started' ? view.startedAt : stage === 'finished' ? view.finishedAt : undefined;

/**
 * The stages, in order. The first stage not reached is where the build is: current while it runs,
 * failed once it ended FAILED (a cancel before the start fails `started`; a region that could not
 * replicate fails `replicated`). The stages after it are pending. A SUCCESS build has them all done.
 */
export function deriveStages(view: BuildView): Stage[] {
  const firstMissing = STAGES.findIndex((stage) => !reached(view, stage));
  return STAGES.map((name, index): Stage => {
    const state: StageState = firstMissing === -1 || index < firstMissing ? 'done' : index > firstMissing ? 'pending' : view.status === 'FAILED' ? 'failed' : 'current';
    const at = state === 'done' || state === 'failed' ? timeOf(view, name) : undefined;
    return { name, state, ...(at === undefined ? {} : { at }) };
  });
}

export type RegionPhase = 'waiting' | 'replicated' | 'syncing' | 'synced' | 'failed';

export interface RegionBars {
  region: string;
  /** Hosts the region should reach: the live counters' expectation, else the count the log recorded. */
  expected: number;
  synced: number;
  failed: number;
  /** Integer percentages of `expected`, 0-100, for aria-valuenow and the bars' widths. */
  syncedPercent: number;
  failedPercent: number;
  phase: RegionPhase;
  /** The log says every host record is written but the counters have not counted them all yet. */
  catchingUp: boolean;
  /** Why the region failed, replication or sync. */
  failure?: string;
}

const percentOf = (part: number, whole: number): number => (whole > 0 ? Math.min(100, Math.max(0, Math.floor((part * 100) / whole))) : 0);

/** One entry per region, sorted by name. Live counters (`progress`) when the view has them, else the counts the log recorded. */
export function regionBars(view: BuildView): RegionBars[] {
  return Object.entries(view.regions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([region, r]) => {
      const expected = r.progress?.expectedHosts ?? r.hosts ?? 0;
      const synced = r.progress?.synced ?? r.syncedHosts ?? 0;
      const failed = r.progress?.failed ?? r.failedHosts ?? 0;
      const failure = r.replicationFailure ?? r.syncFailure;
      const phase: RegionPhase = failure !== undefined ? 'failed' : r.synced ? 'synced' : synced + failed > 0 ? 'syncing' : r.replicated ? 'replicated' : 'waiting';
      return {
        region,
        expected,
        synced,
        failed,
        syncedPercent: percentOf(synced, expected),
        failedPercent: percentOf(failed, expected),
        phase,
        catchingUp: r.progress?.countersCatchingUp ?? false,
        ...(failure === undefined ? {} : { failure }),
      };
    });
}

/** "37 / 50 hosts synced · 0 failed" */
export const hostsLine = (bars: Pick<RegionBars, 'expected' | 'synced' | 'failed'>): string => `${bars.synced} / ${bars.expected} hosts synced · ${bars.failed} failed`;

/**
 * Whether the page should follow the build's stream: until it has ended and its counters have
 * caught up (the stream itself ends then).
 */
export const needsStream = (view: BuildView): boolean => !isTerminal(view.status) || Object.values(view.regions).some((r) => r.progress?.countersCatchingUp === true);

/** The events with `incoming` added: one per version, in version order (a reconnect may repeat some). */
export function mergeEvents(existing: readonly EventEnvelope[], incoming: readonly EventEnvelope[]): EventEnvelope[] {
  const byVersion = new Map<number, EventEnvelope>();
  for (const event of existing) byVersion.set(event.version, event);
  for (const event of incoming) byVersion.set(event.version, event);
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

const shortSha = (sha: string) => sha.slice(0, 12);

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** Any payload, in a line: what an event the console does not know gets. */
function generic(data: unknown): string {
  const text = JSON.stringify(data) ?? '';
  return text === '{}' ? '' : text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

/**
 * A short line saying what an event's data says. The event comes from the log, which validated it
 * when it was written; a type this console does not know yet gets its payload as JSON.
 */
export function summarizeEvent(envelope: EventEnvelope): string {
  const event = envelope as BuildEvent;
  switch (event.type) {
    case 'build.requested': {
      const d = event.data;
      return `${d.repo} ${d.version} to ${d.env} (${d.branch}@${d.commit.slice(0, 7)}), ${d.regions.join(', ')} × ${d.hostsPerRegion} hosts, via ${d.source.door}`;
    }
    case 'build.started':
      return `execution ${event.data.executionArn.split(':').at(-1) ?? event.data.executionArn}`;
    case 'artifact.published':
      return `${event.data.prebuilt ? 'prebuilt ' : ''}artifact ${size(event.data.sizeBytes)}, sha256 ${shortSha(event.data.sha256)}`;
    case 'region.replicated':
      return `${event.data.region}: copied and verified${event.data.attempts > 1 ? ` after ${event.data.attempts} attempts` : ''}`;
    case 'region.replication_failed':
      return `${event.data.region}: ${event.data.reason} (${event.data.attempts} attempts)`;
    case 'region.synced':
      return `${event.data.region}: ${event.data.synced} / ${event.data.hosts} hosts synced, ${event.data.failed} failed, in ${event.data.rounds} rounds`;
    case 'region.sync_failed':
      return `${event.data.region}: ${event.data.reason} (${event.data.synced} / ${event.data.hosts} synced, ${event.data.failed} failed; needs ${event.data.minHealthyPercent}%)`;
    case 'build.succeeded':
      return 'every region synced';
    case 'build.failed': {
      const regions = event.data.failedRegions.map((r) => `${r.region}: ${r.reason}`);
      return regions.length > 0 ? `${event.data.reason} [${regions.join('; ')}]` : event.data.reason;
    }
    default: {
      const _never: never = event;
      return generic((_never as EventEnvelope).data);
    }
  }
}
