/**
 * What the routes read, named: a build's history, its view (now or as it was), its host counters,
 * the build list, and pages of the global log. Storage goes through the platform's EventStore and
 * BuildProjections.
 */
import { buildStream, foldBuild, idBoundAt, isTerminal, type BuildEvent, type BuildState, type EventEnvelope } from '@flotilla/events';
import {
  dlqOf,
  executionState,
  instantOfId,
  queueDepth,
  readBuildEvents,
  type AwsClients,
  type BuildProjections,
  type EventStore,
  type IdempotencyStore,
  type Locator,
  type Logger,
  type Records,
} from '@flotilla/platform';
import { stageOf } from '../domain/stage.ts';
import { buildView, eventsAt, type BuildView, type PointInTime } from '../domain/view.ts';
import type { IntakeBacklog } from './backlog.ts';
import type { BuildWhy } from './schemas.ts';
import type { SseLimits } from './stream.ts';

export interface ApiDeps {
  aws: AwsClients;
  store: EventStore;
  idempotency: IdempotencyStore;
  projections: BuildProjections;
  /** Test-run leases (testrun-leases.ts), in the checkpoints table. */
  leases: Records;
  logger: Logger;
  /** The stack's queues, whose depths `why` reports. */
  locator: Pick<Locator, 'names' | 'queuePair'>;
  /** The regions this stack has (Locator.regions): a request may name only these. */
  regions: readonly string[];
  defaults: { regions: string[]; hostsPerRegion: number };
  sse: SseLimits;
  /** Intake back-pressure: POST /builds answers 503 while it refuses (none: never refuses). */
  backlog?: IntakeBacklog | undefined;
  /** Where GitHub's webhooks go on to (the intake topic). */
  intakeTopicArn: string;
  onboarding: {
    /** How long a creation may wait on one step before it is reported stuck (ONBOARDING_STEP_DEADLINE_MS). */
    stepDeadlineMs: number;
    /** GitHub's webhook secret (GITHUB_WEBHOOK_SECRET); without it POST /webhooks/github answers 401 not_configured. */
    webhookSecret?: string | undefined;
  };
}

export async function history(store: EventStore, buildId: string, afterVersion = 0): Promise<BuildEvent[]> {
  return readBuildEvents(store, buildStream(buildId), afterVersion);
}

/**
 * The build's view now, with live host counters; undefined for a build that does not exist.
 * `head`: the log's head version, when the caller has just read it (a live stream): the check
 * for missed events then needs no Query of its own.
 */
export async function currentView(deps: Pick<ApiDeps, 'store' | 'projections'>, buildId: string, head?: number): Promise<BuildView | undefined> {
  // The projection answers; a build it has not seen yet is folded from the log directly.
  let state: BuildState | undefined = await deps.projections.readView(buildId);
  if (!state) {
    const events = await history(deps.store, buildId);
    state = events.length ? foldBuild(events) : undefined;
  } else if (!isTerminal(state.status) && (head ?? (await deps.store.headVersion(buildStream(buildId)))) > state.lastVersion) {
    // The projector fills a gap only when a later event arrives; if the last one was lost (review
    // M7) none will, so a view that has not ended checks the log's head (one Query of one item)
    // and folds what it missed. A terminal view has nothing after it to miss.
    state = foldBuild(await history(deps.store, buildId, state.lastVersion), state);
  }
  return state && buildView(state, await deps.projections.readCounters(buildId));
}

/** The build's view as it was at `at`, folded from the log; undefined if it did not exist yet. */
export async function viewAt(deps: Pick<ApiDeps, 'store'>, buildId: string, at: PointInTime): Promise<BuildView | undefined> {
  return buildView(foldBuild(eventsAt(await history(deps.store, buildId), at)));
}

/**
 * How a build ended, or what it waits on: its stage, its last event, where its execution is, and
 * the depths of the stage's queues and their dead-letter queues. What `flotilla why` and the
 * console show.
 */
export async function whyOf(deps: Pick<ApiDeps, 'aws' | 'store' | 'locator'>, view: BuildView, now = Date.now()): Promise<BuildWhy> {
  const { buildId, status } = view;
  if (status === 'SUCCESS' || status === 'FAILED') return { buildId, status, finishedAt: view.finishedAt, reason: view.failure?.reason, failedRegions: view.failure?.failedRegions };
  const stage = stageOf(view);
  const [latest, execution, queues] = await Promise.all([
    // The view's last event, and any the view has not folded yet.
    history(deps.store, buildId, view.lastVersion - 1),
    view.executionArn ? executionState(deps.aws.sfn, view.executionArn) : undefined,
    Promise.all(
      stage.queues.map(async (suffix) => {
        const name = `${deps.locator.names.prefix}-${suffix}`;
        const { queueUrl, dlqUrl } = await deps.locator.queuePair(name);
        const [depth, dlqDepth] = await Promise.all([queueDepth(deps.aws.sqs, queueUrl), queueDepth(deps.aws.sqs, dlqUrl)]);
        return { name, depth, dlq: dlqOf(name), dlqDepth };
      }),
    ),
  ]);
  const last = latest.at(-1);
  return {
    buildId,
    status,
    stage: stage.stage,
    waitingOn: stage.waitingOn,
    lastEvent: last && { type: last.type, version: last.version, occurredAt: last.occurredAt, ageMs: now - Date.parse(last.occurredAt) },
    execution,
    queues,
  };
}

/** Reading the global log stops after this many events, so a narrow filter cannot make one request read it all. */
export const MAX_EVENTS_EXAMINED = 5_000;
/** Reading after an id looks at this many day buckets at most, so an old id cannot make one request query every day since. */
export const MAX_LOG_DAYS_PER_PAGE = 31;
/** How far back the newest-first read looks. */
const TAIL_LOOKBACK_DAYS = 30;

export interface LogPageRequest {
  after?: string;
  type?: string;
  buildId?: string;
  limit: number;
}

export interface LogPage {
  events: EventEnvelope[];
  /** The last event id looked at (kept or filtered out), or the end of the stretch of days looked at, to resume after; null when nothing was. */
  next: string | null;
}

/**
 * A page of the global log, oldest first. With `after`: the events after it, in order. Without:
 * the newest `limit` events that pass the filters. `next` advances past events the filters
 * dropped, so a reader polling with it never re-reads them.
 */
export async function logPage(store: EventStore, page: LogPageRequest, now = new Date()): Promise<LogPage> {
  const stream = page.buildId ? buildStream(page.buildId) : undefined;
  const keep = (e: EventEnvelope) => (page.type === undefined || e.type === page.type) && (stream === undefined || e.stream === stream);
  const kept: EventEnvelope[] = [];
  let examined = 0;
  if (page.after !== undefined) {
    let next: string = page.after;
    const since = instantOfId(page.after);
    // A bounded stretch of days per page: past it, `next` is the stretch's last possible id, so a
    // reader far behind walks forward page by page instead of one request querying every day.
    const stretchEnd = Math.min(now.getTime(), Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate() + MAX_LOG_DAYS_PER_PAGE) - 1);
    for await (const events of store.readAll({ since, until: new Date(stretchEnd), afterId: page.after, pageSize: Math.min(500, page.limit * 2) })) {
      for (const e of events) {
        examined++;
        next = e.id;
        if (keep(e)) kept.push(e);
        if (kept.length >= page.limit || examined >= MAX_EVENTS_EXAMINED) return { events: kept, next };
      }
    }
    return { events: kept, next: stretchEnd < now.getTime() ? idBoundAt(stretchEnd, 'last') : next };
  }
  let newest: string | null = null;
  const since = new Date(now.getTime() - TAIL_LOOKBACK_DAYS * 86_400_000);
  read: for await (const events of store.readLatest({ since, until: now, pageSize: Math.min(500, page.limit * 2) })) {
    for (const e of events) {
      examined++;
      newest ??= e.id;
      if (keep(e)) kept.push(e);
      if (kept.length >= page.limit || examined >= MAX_EVENTS_EXAMINED) break read;
    }
  }
  return { events: kept.reverse(), next: newest };
}
