/**
 * The orchestrator's "what next", as pure functions of the build's folded state and history.
 * Effects (appends, StartExecution, alerts) are carried out by the handlers; nothing here does I/O.
 */
import { isCancellation, isTerminal, newEvent, type BuildEvent, type BuildState, type EventData, type PendingEvent } from '@flotilla/events';
import { executionArn, executionName } from './execution.ts';

export interface ExecutionInput {
  buildId: string;
  stream: string;
  correlationId: string;
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
  hostsPerRegion: number;
  artifact: EventData<'build.requested'>['artifact'] | null;
  /** The region-to-URL map applied to this build's regions: each Map iteration feeds only its region's queue. */
  regions: Array<{ region: string; syncQueueUrl: string }>;
}

export interface Alert {
  buildId: string;
  repo: string;
  env: string;
  version: string;
  reason: string;
  failedRegions: Array<{ region: string; reason: string }>;
  text: string;
}

export type Reaction =
  | { kind: 'append'; events: PendingEvent[]; expectedVersion: number }
  | { kind: 'start-execution'; name: string; executionArn: string; input: ExecutionInput }
  | { kind: 'publish-alert'; alert: Alert }
  | { kind: 'stop-execution'; executionArn: string; cause: string; error?: string }
  | { kind: 'track-in-flight'; buildId: string; executionArn: string; startedAt: string }
  | { kind: 'untrack'; buildId: string };

export interface ReactContext {
  stateMachineArn: string;
  syncQueueUrls: Readonly<Record<string, string>>;
  now: number;
}

const caused = (event: BuildEvent, now: number) => ({ correlationId: event.correlationId, causationId: event.id, now });

/**
 * The event types the orchestrator acts on. Every other type needs only publishing, so the relay
 * reads no state for it (issue 9: reading each build's stream for every event it relayed was 10
 * of a build's 24 Queries of the log, for reactions that are always none).
 */
const ACTED_ON: ReadonlySet<BuildEvent['type']> = new Set(['build.requested', 'build.started', 'build.failed', 'build.succeeded']);
export const actsOn = (type: BuildEvent['type']): boolean => ACTED_ON.has(type);

/** What to do on reading `event` from the log, given the stream's current state. */
export function react(event: BuildEvent, state: BuildState, ctx: ReactContext): Reaction[] {
  switch (event.type) {
    case 'build.requested': {
      // Only the first reader acts: build.started must be the stream's second event.
      if (state.status !== 'PENDING' || state.lastVersion !== 1) return [];
      const name = executionName(event.data);
      const started = newEvent({ type: 'build.started', data: { executionArn: executionArn(ctx.stateMachineArn, name) }, ...caused(event, ctx.now) });
      return [{ kind: 'append', events: [started], expectedVersion: 1 }];
    }
    case 'build.started': {
      const request = state.request;
      if (isTerminal(state.status) || !request) return [];
      const regions = request.regions.map((region) => {
        const syncQueueUrl = ctx.syncQueueUrls[region];
        if (!syncQueueUrl) throw new RangeError(`region ${region} has no sync queue`);
        return { region, syncQueueUrl };
      });
      const name = event.data.executionArn.split(':').at(-1) ?? executionName(request);
      return [
        { kind: 'track-in-flight', buildId: request.buildId, executionArn: event.data.executionArn, startedAt: event.occurredAt },
        {
          kind: 'start-execution',
          name,
          executionArn: event.data.executionArn,
          input: {
            buildId: request.buildId,
            stream: event.stream,
            correlationId: event.correlationId,
            repo: request.repo,
            env: request.env,
            version: request.version,
            branch: request.branch,
            commit: request.commit,
            hostsPerRegion: request.hostsPerRegion,
            artifact: request.artifact ?? null,
            regions,
          },
        },
      ];
    }
    case 'build.failed': {
      const request = state.request;
      const untrack: Reaction[] = request ? [{ kind: 'untrack', buildId: request.buildId }] : [];
      if (!request) return untrack;
      // Someone asked for it: stop the deploy, page nobody.
      if (isCancellation(event.data)) return state.executionArn ? [...untrack, { kind: 'stop-execution', executionArn: state.executionArn, cause: `build ${request.buildId} cancelled` }] : untrack;
      const where = event.data.failedRegions.map((f) => `${f.region} (${f.reason})`).join(', ');
      // A failed build must not keep deploying (review M2): stop its execution if it still runs
      // (an execution that already ended, the usual case, is left alone by the effect).
      const stop: Reaction[] = state.executionArn ? [{ kind: 'stop-execution', executionArn: state.executionArn, cause: `build ${request.buildId} failed: ${event.data.reason}`, error: 'Flotilla.Failed' }] : [];
      return [
        ...untrack,
        ...stop,
        {
          kind: 'publish-alert',
          alert: {
            buildId: request.buildId,
            repo: request.repo,
            env: request.env,
            version: request.version,
            reason: event.data.reason,
            failedRegions: event.data.failedRegions,
            text: `Build ${request.repo} ${request.version} to ${request.env} failed: ${event.data.reason}${where ? `; failed regions: ${where}` : ''}`,
          },
        },
      ];
    }
    case 'build.succeeded':
      return state.request ? [{ kind: 'untrack', buildId: state.request.buildId }] : [];
    case 'artifact.published':
    case 'region.replicated':
    case 'region.replication_failed':
    case 'region.synced':
    case 'region.sync_failed':
      return [];
    default: {
      const _never: never = event;
      return _never;
    }
  }
}

/** Regions that failed, with their reasons, from the log and from the state machine's results. */
export function failedRegions(history: readonly BuildEvent[], results: ReadonlyArray<{ region: string; failed: boolean; cause?: string | undefined; error?: string | undefined }> = []) {
  const found = new Map<string, string>();
  for (const e of history) {
    if (e.type === 'region.replication_failed' || e.type === 'region.sync_failed') found.set(e.data.region, e.data.reason);
  }
  for (const r of results) if (r.failed && !found.has(r.region)) found.set(r.region, r.cause || r.error || 'failed');
  return [...found].map(([region, reason]) => ({ region, reason }));
}

export interface DeployFinished {
  buildId: string;
  stream: string;
  correlationId: string;
  executionArn: string;
  outcome: 'succeeded' | 'failed';
  stage: 'build' | 'replication' | 'sync' | 'finish';
  error?: string | undefined;
  cause?: string | undefined;
  results?: Array<{ region: string; failed: boolean; error?: string | undefined; cause?: string | undefined }> | undefined;
}

/** The terminal event for a finished execution, or nothing when the build already ended. */
export function decideFinish(message: DeployFinished, state: BuildState, history: readonly BuildEvent[], causationId: string, now: number): PendingEvent[] {
  if (state.status === null || isTerminal(state.status)) return [];
  const meta = { correlationId: message.correlationId, causationId, now };
  if (message.outcome === 'succeeded') return [newEvent({ type: 'build.succeeded', data: {}, ...meta })];
  const regions = failedRegions(history, message.results);
  const reason =
    message.stage === 'build'
      ? `build failed: ${message.cause || message.error || 'unknown error'}`
      : `${message.stage} failed in ${regions.map((r) => r.region).join(', ') || 'an unknown region'}`;
  return [newEvent({ type: 'build.failed', data: { reason, failedRegions: regions }, ...meta })];
}

/** A build.failed for an execution that ended without telling us, or for a record we could not act on. */
export function decideFailure(state: BuildState, history: readonly BuildEvent[], reason: string, meta: { correlationId: string; causationId: string; now: number }): PendingEvent[] {
  if (state.status === null || isTerminal(state.status)) return [];
  return [newEvent({ type: 'build.failed', data: { reason, failedRegions: failedRegions(history) }, ...meta })];
}
