/**
 * The test-run aggregate (seed 000): a load test run from several regions at once. One stream per
 * run (`testrun-<runId>`). Runners in each region report ready; when the required regions are
 * ready a start time is scheduled once; each runner runs its script from that instant and reports
 * its summary; every region's runners are torn down; the run completes with the merged verdict.
 * A deadline aborts a run that does not get there, and a cancel stops it on demand.
 *
 * The barrier is the stream itself: each fact is appended at the version the decision read, so two
 * regions reporting at once cannot both open it (the loser re-reads and finds it open), and no
 * read-modify-write of a list exists to lose an update.
 *
 * Everything here is pure: `decideTestRun(state, command)` returns the events to append;
 * `evolveTestRun` folds them; the orchestrator carries out the effects.
 */
import { z } from 'zod';
import { ULID_PATTERN, type PendingEvent } from './envelope.ts';
import { newEvent, type EventData, type TestRunEvent } from './registry.ts';
import type { EventDefinition } from './registry-types.ts';

/** A runner container carries at most this many virtual users, as in the original. */
export const MAX_VUS_PER_CONTAINER = 200;
/** The most virtual users a run may ask of one region: 5 containers. */
export const MAX_VUS_PER_REGION = 1_000;
/** A region's runner service serves one run at a time; this many runs may be open at once overall. */
export const MAX_CONCURRENT_TEST_RUNS = 3;
/** How long the start may wait after the barrier opens, and how far off a deadline may be. */
export const MAX_START_BUFFER_MS = 600_000;
export const MAX_RUN_DEADLINE_MS = 3 * 3_600_000;
/** A few seconds: long enough for every runner to learn the start time before it comes (they poll twice a second). */
export const DEFAULT_START_BUFFER_MS = 5_000;
/** Time a run gets past its start and its script's duration, by default, to report and be torn down. */
export const DEFAULT_DEADLINE_SLACK_MS = 5 * 60_000;

export const testRunIdSchema = z.string().regex(ULID_PATTERN, 'must be a ULID');

const TESTRUN_STREAM_PREFIX = 'testrun-';
export const testRunStream = (runId: string): string => `${TESTRUN_STREAM_PREFIX}${runId}`;

/** The run id of a test-run stream, or undefined for a stream of another aggregate. */
export function testRunIdOfStream(stream: string): string | undefined {
  if (!stream.startsWith(TESTRUN_STREAM_PREFIX)) return undefined;
  const id = stream.slice(TESTRUN_STREAM_PREFIX.length);
  return ULID_PATTERN.test(id) ? id : undefined;
}

/** How many runner containers a region gets for its virtual users. */
export const containersFor = (vusPerRegion: number): number => Math.ceil(vusPerRegion / MAX_VUS_PER_CONTAINER);

const rate = z.number().min(0).max(1_000);

/**
 * A load script: constant-arrival-rate scenarios against Flotilla's HTTP API, run by the runner
 * (load-tests/load.ts, with vegeta). Rates are requests per second, started on schedule whether or
 * not earlier ones answered. `submit` posts builds of `build`; `read` gets builds back; `follow`
 * polls what a watcher polls. The thresholds make the verdict.
 */
export const loadScriptSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9-]{1,40}$/, '1-40 characters of a-z 0-9 -'),
    durationSeconds: z.number().int().min(1).max(3_600),
    scenarios: z
      .object({ submit: rate, read: rate, follow: rate })
      .strict()
      .refine((s) => s.submit + s.read + s.follow > 0, 'at least one scenario needs a rate above 0'),
    build: z.object({ regions: z.array(z.string().min(1)).min(1), hostsPerRegion: z.number().int().min(1).max(100_000) }).strict(),
    thresholds: z
      .object({
        p95Ms: z.number().positive(),
        /** Failed requests (no answer, or a status the scenario does not expect) over all requests, 0-1. */
        failedRate: z.number().min(0).max(1),
        /** Requests the schedule called for that were never sent. */
        droppedIterations: z.number().int().min(0),
      })
      .strict(),
  })
  .strict();
export type LoadScript = z.infer<typeof loadScriptSchema>;

const thresholdResultSchema = z.object({ name: z.enum(['p95Ms', 'failedRate', 'droppedIterations']), limit: z.number(), actual: z.number(), ok: z.boolean() });

/** What one run of a script measured, and whether each threshold held. */
export const loadSummarySchema = z.object({
  requests: z.number().int().min(0),
  failed: z.number().int().min(0),
  failedRate: z.number().min(0).max(1),
  dropped: z.number().int().min(0),
  p95Ms: z.number().min(0),
  /** When the first request was sent (from the load generator's own per-request record); null when none was. */
  firstRequestAt: z.iso.datetime().nullable(),
  statuses: z.record(z.string(), z.number().int().min(0)),
  thresholds: z.array(thresholdResultSchema),
  passed: z.boolean(),
});
export type LoadSummary = z.infer<typeof loadSummarySchema>;

const uniqueRegions = (list: readonly string[]) => new Set(list).size === list.length;

/**
 * What a caller asks for. `allowedRegions` are the stack's. `deadline` bounds the whole run: past
 * it, a run that has not completed is aborted and torn down.
 */
export function testRunRequestSchema(allowedRegions: readonly string[]) {
  const [first, ...rest] = allowedRegions;
  if (first === undefined) throw new RangeError('testRunRequestSchema needs at least one allowed region');
  const region = z.enum([first, ...rest], { error: () => `must be one of: ${allowedRegions.join(', ')}` });
  return z
    .object({
      script: loadScriptSchema,
      regions: z.array(region).min(1).refine(uniqueRegions, 'regions must be unique'),
      /** How many regions must be ready to start; all of them when absent. */
      quorum: z.number().int().min(1).optional(),
      startBufferMs: z.number().int().min(0).max(MAX_START_BUFFER_MS).default(DEFAULT_START_BUFFER_MS),
      /** Default: the start buffer, the script's duration and DEFAULT_DEADLINE_SLACK_MS from the request. */
      deadline: z.iso.datetime().optional(),
      vusPerRegion: z.number().int().min(1).max(MAX_VUS_PER_REGION).default(MAX_VUS_PER_CONTAINER),
      target: z.url({ protocol: /^https?$/ }),
    })
    .strict()
    .refine((r) => r.quorum === undefined || r.quorum <= r.regions.length, { message: 'quorum cannot exceed the number of regions', path: ['quorum'] });
}
/** A request as validated (defaults applied). */
export type TestRunRequest = z.infer<ReturnType<typeof testRunRequestSchema>>;
/** A request as a client sends it (defaults left out). */
export type TestRunRequestInput = z.input<ReturnType<typeof testRunRequestSchema>>;

const requestedSchema = z.object({
  runId: testRunIdSchema,
  script: loadScriptSchema,
  regions: z.array(z.string().min(1)).min(1),
  quorum: z.number().int().min(1),
  startBufferMs: z.number().int().min(0),
  deadline: z.iso.datetime(),
  vusPerRegion: z.number().int().min(1),
  containersPerRegion: z.number().int().min(1),
  target: z.string().min(1),
});

const regionResultSchema = loadSummarySchema.omit({ statuses: true, thresholds: true }).extend({ containers: z.number().int().min(0) });
export type RegionResult = z.infer<typeof regionResultSchema>;

export const testRunEvents = {
  'testrun.requested': { schemaVersion: 1, schema: requestedSchema },
  /** One runner container (`task`) of the region is up and waiting. */
  'testrun.region_ready': { schemaVersion: 1, schema: z.object({ region: z.string().min(1), task: z.string().min(1) }) },
  /** The barrier opened: every participating region's runners start at `startAt`. */
  'testrun.start_scheduled': { schemaVersion: 1, schema: z.object({ startAt: z.iso.datetime(), regions: z.array(z.string().min(1)).min(1) }) },
  'testrun.region_completed': { schemaVersion: 1, schema: z.object({ region: z.string().min(1), task: z.string().min(1), summary: loadSummarySchema }) },
  /** ECS shows no running task of the region's runner service any more. */
  'testrun.region_torn_down': { schemaVersion: 1, schema: z.object({ region: z.string().min(1) }) },
  'testrun.completed': {
    schemaVersion: 1,
    schema: z.object({ verdict: z.enum(['passed', 'failed']), regions: z.record(z.string(), regionResultSchema) }),
  },
  'testrun.aborted': { schemaVersion: 1, schema: z.object({ reason: z.string().min(1) }) },
  'testrun.cancelled': { schemaVersion: 1, schema: z.object({}) },
} as const satisfies Record<string, EventDefinition>;

export type TestRunStatus = 'REQUESTED' | 'SCHEDULED' | 'COMPLETED' | 'ABORTED' | 'CANCELLED';

export interface TestRunRegion {
  /** Runner containers (task ids) that reported ready. */
  ready: string[];
  /** Each container's summary, by task id. */
  completed: Record<string, LoadSummary>;
  tornDown: boolean;
}

export interface TestRunState {
  /** null until testrun.requested has been applied. */
  status: TestRunStatus | null;
  runId?: string;
  request?: EventData<'testrun.requested'>;
  requestedAt?: string;
  startAt?: string;
  /** The regions the barrier opened for; the others are left out and torn down. */
  participants?: string[];
  regions: Record<string, TestRunRegion>;
  result?: EventData<'testrun.completed'>;
  reason?: string;
  endedAt?: string;
  lastVersion: number;
}

export const initialTestRunState: TestRunState = Object.freeze({ status: null, regions: Object.freeze({}), lastVersion: 0 });

const ENDED: ReadonlySet<TestRunStatus> = new Set(['COMPLETED', 'ABORTED', 'CANCELLED']);
export const isTestRunEnded = (status: TestRunStatus | null): boolean => status !== null && ENDED.has(status);

const emptyRegion = (): TestRunRegion => ({ ready: [], completed: {}, tornDown: false });

function withRegion(state: TestRunState, name: string, change: (region: TestRunRegion) => TestRunRegion): Record<string, TestRunRegion> {
  return { ...state.regions, [name]: change(state.regions[name] ?? emptyRegion()) };
}

export function evolveTestRun(state: TestRunState, event: TestRunEvent): TestRunState {
  const next = { ...state, lastVersion: Math.max(state.lastVersion, event.version) };
  switch (event.type) {
    case 'testrun.requested':
      return {
        ...next,
        status: 'REQUESTED',
        runId: event.data.runId,
        request: event.data,
        requestedAt: event.occurredAt,
        regions: Object.fromEntries(event.data.regions.map((r) => [r, state.regions[r] ?? emptyRegion()])),
      };
    case 'testrun.region_ready':
      return { ...next, regions: withRegion(state, event.data.region, (r) => (r.ready.includes(event.data.task) ? r : { ...r, ready: [...r.ready, event.data.task] })) };
    case 'testrun.start_scheduled':
      return { ...next, status: state.status === 'REQUESTED' ? 'SCHEDULED' : state.status, startAt: event.data.startAt, participants: event.data.regions };
    case 'testrun.region_completed':
      return { ...next, regions: withRegion(state, event.data.region, (r) => ({ ...r, completed: { ...r.completed, [event.data.task]: event.data.summary } })) };
    case 'testrun.region_torn_down':
      return { ...next, regions: withRegion(state, event.data.region, (r) => ({ ...r, tornDown: true })) };
    case 'testrun.completed':
      return isTestRunEnded(state.status) ? next : { ...next, status: 'COMPLETED', result: event.data, endedAt: event.occurredAt };
    // A run ends once: a later ending (an abort racing a completion) is kept in the log, changes nothing.
    case 'testrun.aborted':
      return isTestRunEnded(state.status) ? next : { ...next, status: 'ABORTED', reason: event.data.reason, endedAt: event.occurredAt };
    case 'testrun.cancelled':
      return isTestRunEnded(state.status) ? next : { ...next, status: 'CANCELLED', endedAt: event.occurredAt };
    default: {
      const _never: never = event;
      void _never;
      return next;
    }
  }
}

export const foldTestRun = (events: readonly TestRunEvent[], from: TestRunState = initialTestRunState): TestRunState => events.reduce(evolveTestRun, from);

const regionIsReady = (state: TestRunState, region: string): boolean => (state.regions[region]?.ready.length ?? 0) >= (state.request?.containersPerRegion ?? Infinity);
const regionIsCompleted = (state: TestRunState, region: string): boolean =>
  Object.keys(state.regions[region]?.completed ?? {}).length >= (state.request?.containersPerRegion ?? Infinity);

/**
 * Regions whose runners must be scaled to 0 now and are not yet torn down: all of them once the run
 * has ended; a region that completed; a region the barrier left out.
 */
export function regionsToTearDown(state: TestRunState): string[] {
  if (state.status === null) return [];
  return Object.entries(state.regions)
    .filter(([name, region]) => {
      if (region.tornDown) return false;
      if (isTestRunEnded(state.status)) return true;
      if (state.participants && !state.participants.includes(name)) return true;
      return regionIsCompleted(state, name);
    })
    .map(([name]) => name);
}

/** Ended and every region torn down: nothing of the run is left running. */
export const isTestRunFinished = (state: TestRunState): boolean => isTestRunEnded(state.status) && Object.values(state.regions).every((r) => r.tornDown);

/** A region's containers merged: counts summed; p95 is the worst container's (percentiles do not add). */
export function mergeRegion(summaries: readonly LoadSummary[]): RegionResult {
  const requests = summaries.reduce((n, s) => n + s.requests, 0);
  const failed = summaries.reduce((n, s) => n + s.failed, 0);
  const firsts = summaries.map((s) => s.firstRequestAt).filter((t): t is string => t !== null).sort();
  return {
    containers: summaries.length,
    requests,
    failed,
    failedRate: requests === 0 ? 0 : failed / requests,
    dropped: summaries.reduce((n, s) => n + s.dropped, 0),
    p95Ms: Math.max(0, ...summaries.map((s) => s.p95Ms)),
    firstRequestAt: firsts[0] ?? null,
    passed: summaries.length > 0 && summaries.every((s) => s.passed),
  };
}

export type TestRunCommand =
  | { kind: 'request'; runId: string; request: TestRunRequest }
  | { kind: 'report-ready'; region: string; task: string }
  | { kind: 'report-completed'; region: string; task: string; summary: LoadSummary }
  | { kind: 'observe-torn-down'; region: string }
  | { kind: 'tick' }
  | { kind: 'cancel' };

export interface DecideMeta {
  correlationId: string;
  causationId: string;
  /** Epoch milliseconds: the decision's clock (startAt, the deadline). */
  now: number;
}

/** A command that cannot apply to this run at all (not a repeat, which decides nothing). */
export class TestRunRefusedError extends Error {
  override name = 'TestRunRefusedError';
  readonly code: 'not-found' | 'exists' | 'unknown-region' | 'invalid';

  constructor(code: TestRunRefusedError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The run's decider. Repeats decide nothing (a second ready from the same task, a summary already
 * recorded, a region already torn down); so do reports after the run ended. The barrier opens in
 * the same decision as the ready that completes the quorum, at the version that ready was decided
 * on: of two deciders that read the same version only one append can win.
 */
export function decideTestRun(state: TestRunState, command: TestRunCommand, meta: DecideMeta): PendingEvent[] {
  const event = <T extends TestRunEvent['type']>(type: T, data: EventData<T>) => newEvent({ type, data, ...meta });
  if (command.kind === 'request') {
    if (state.status !== null) throw new TestRunRefusedError('exists', `test run ${command.runId} already exists`);
    const { request } = command;
    const earliestEnd = meta.now + request.startBufferMs + request.script.durationSeconds * 1_000;
    const deadline = request.deadline === undefined ? earliestEnd + DEFAULT_DEADLINE_SLACK_MS : Date.parse(request.deadline);
    if (deadline <= earliestEnd) throw new TestRunRefusedError('invalid', `deadline ${request.deadline} leaves no time for the start buffer and the script's ${request.script.durationSeconds} s`);
    if (deadline > meta.now + MAX_RUN_DEADLINE_MS) throw new TestRunRefusedError('invalid', `deadline ${request.deadline} is more than ${MAX_RUN_DEADLINE_MS / 3_600_000} h away`);
    return [
      event('testrun.requested', {
        runId: command.runId,
        ...request,
        deadline: new Date(deadline).toISOString(),
        quorum: request.quorum ?? request.regions.length,
        containersPerRegion: containersFor(request.vusPerRegion),
      }),
    ];
  }
  if (state.status === null || !state.request) throw new TestRunRefusedError('not-found', 'no such test run');
  const known = (region: string) => {
    if (!Object.hasOwn(state.regions, region)) throw new TestRunRefusedError('unknown-region', `region ${region} is not part of test run ${state.runId ?? '?'}`);
  };
  switch (command.kind) {
    case 'report-ready': {
      known(command.region);
      if (isTestRunEnded(state.status) || state.regions[command.region]?.ready.includes(command.task)) return [];
      const ready = event('testrun.region_ready', { region: command.region, task: command.task });
      if (state.status !== 'REQUESTED') return [ready];
      const after = evolveTestRun(state, { ...ready, stream: testRunStream(state.runId ?? ''), version: state.lastVersion + 1 });
      const readyRegions = state.request.regions.filter((r) => regionIsReady(after, r));
      if (readyRegions.length < state.request.quorum) return [ready];
      return [ready, event('testrun.start_scheduled', { startAt: new Date(meta.now + state.request.startBufferMs).toISOString(), regions: readyRegions })];
    }
    case 'report-completed': {
      known(command.region);
      if (state.status !== 'SCHEDULED' || Object.hasOwn(state.regions[command.region]?.completed ?? {}, command.task)) return [];
      return [event('testrun.region_completed', { region: command.region, task: command.task, summary: command.summary })];
    }
    case 'observe-torn-down': {
      known(command.region);
      if (state.regions[command.region]?.tornDown) return [];
      const tornDown = event('testrun.region_torn_down', { region: command.region });
      const after = evolveTestRun(state, { ...tornDown, stream: testRunStream(state.runId ?? ''), version: state.lastVersion + 1 });
      const participants = state.participants ?? [];
      const done = state.status === 'SCHEDULED' && participants.every((r) => regionIsCompleted(after, r)) && Object.values(after.regions).every((r) => r.tornDown);
      if (!done) return [tornDown];
      const regions = Object.fromEntries(participants.map((r) => [r, mergeRegion(Object.values(after.regions[r]?.completed ?? {}))]));
      const verdict = Object.values(regions).every((r) => r.passed) ? 'passed' : 'failed';
      return [tornDown, event('testrun.completed', { verdict, regions })];
    }
    case 'tick': {
      if (isTestRunEnded(state.status) || meta.now < Date.parse(state.request.deadline)) return [];
      return [event('testrun.aborted', { reason: `deadline ${state.request.deadline} passed: ${pendingWork(state)}` })];
    }
    case 'cancel':
      return isTestRunEnded(state.status) ? [] : [event('testrun.cancelled', {})];
    default: {
      const _never: never = command;
      return _never;
    }
  }
}

/** What the run was still waiting for, to say why it was aborted. */
function pendingWork(state: TestRunState): string {
  const regions = state.request?.regions ?? [];
  if (state.status === 'REQUESTED') {
    const missing = regions.filter((r) => !regionIsReady(state, r));
    return `regions not ready: ${missing.join(', ')}`;
  }
  const incomplete = (state.participants ?? []).filter((r) => !regionIsCompleted(state, r));
  if (incomplete.length > 0) return `regions not completed: ${incomplete.join(', ')}`;
  const standing = regions.filter((r) => !state.regions[r]?.tornDown);
  return `regions not torn down: ${standing.join(', ')}`;
}

/**
 * What a region's runner reads when it starts, from its region's bucket at RUNNER_ASSIGNMENT_KEY:
 * the run it serves, where that run's script is (same bucket), and the API it targets and reports
 * progress from. The orchestrator writes it before it scales the region's runner service up; a
 * region's service serves one run at a time.
 */
export const RUNNER_ASSIGNMENT_KEY = 'testruns/current.json';
export const scriptKeyOf = (runId: string): string => `testruns/${runId}/script.json`;
export const runnerAssignmentSchema = z.object({ runId: testRunIdSchema, scriptKey: z.string().min(1), target: z.url({ protocol: /^https?$/ }) });
export type RunnerAssignment = z.infer<typeof runnerAssignmentSchema>;

/** The messages a runner publishes to the intake topic (raw JSON), each repeated until the run shows it. */
export const runnerReportSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('testrun.region_ready'), runId: testRunIdSchema, region: z.string().min(1), task: z.string().min(1).max(256) }),
  z.object({ type: z.literal('testrun.region_completed'), runId: testRunIdSchema, region: z.string().min(1), task: z.string().min(1).max(256), summary: loadSummarySchema }),
]);
export type RunnerReport = z.infer<typeof runnerReportSchema>;

const testRunStatusSchema = z.enum(['REQUESTED', 'SCHEDULED', 'COMPLETED', 'ABORTED', 'CANCELLED']);

/**
 * What `GET /testruns/:id` answers, and what runners and the CLI read: the run folded from its
 * stream. `regions[r].completed` lists the task ids that reported; `result` is the region's merge
 * of them so far. `finished`: ended and every region torn down.
 */
export const testRunViewSchema = z
  .object({
    runId: z.string(),
    status: testRunStatusSchema,
    requestedAt: z.iso.datetime(),
    request: requestedSchema.omit({ runId: true }),
    startAt: z.iso.datetime().optional(),
    participants: z.array(z.string()).optional(),
    regions: z.record(
      z.string(),
      z.object({ ready: z.array(z.string()), completed: z.array(z.string()), tornDown: z.boolean(), result: regionResultSchema.optional() }),
    ),
    verdict: z.enum(['passed', 'failed']).optional(),
    reason: z.string().optional(),
    endedAt: z.iso.datetime().optional(),
    finished: z.boolean(),
    lastVersion: z.number().int(),
  })
  .meta({ id: 'TestRunView' });
export type TestRunView = z.infer<typeof testRunViewSchema>;

/** The view of a run; undefined before `testrun.requested`. */
export function testRunView(state: TestRunState): TestRunView | undefined {
  if (state.status === null || !state.request || !state.runId) return undefined;
  const { runId: _runId, ...request } = state.request;
  return {
    runId: state.runId,
    status: state.status,
    requestedAt: state.requestedAt ?? '',
    request,
    ...(state.startAt ? { startAt: state.startAt } : {}),
    ...(state.participants ? { participants: state.participants } : {}),
    regions: Object.fromEntries(
      Object.entries(state.regions).map(([name, r]) => {
        const summaries = Object.values(r.completed);
        return [name, { ready: r.ready, completed: Object.keys(r.completed), tornDown: r.tornDown, ...(summaries.length > 0 ? { result: mergeRegion(summaries) } : {}) }];
      }),
    ),
    ...(state.result ? { verdict: state.result.verdict } : {}),
    ...(state.reason ? { reason: state.reason } : {}),
    ...(state.endedAt ? { endedAt: state.endedAt } : {}),
    finished: isTestRunFinished(state),
    lastVersion: state.lastVersion,
  };
}
