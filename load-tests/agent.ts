/**
 * The test-run runner agent: `node load-tests/agent.ts`, in each container of a region's runner
 * service (the app image with vegeta at FLOTILLA_VEGETA; ECS, host networking). One container runs
 * one run's load script once:
 *
 *   1. it polls its region's bucket for the run it serves (RUNNER_ASSIGNMENT_KEY), then reads and
 *      checks that run's script there, so a bad script is found before the region counts as ready;
 *   2. it reports ready (`testrun.region_ready`, raw JSON to the stack's intake topic), again and
 *      again with backoff and jitter, until the run's view (GET <target>/testruns/<runId>) lists
 *      its task among the region's ready ones: intake may lose or delay a message, the view is what
 *      counts;
 *   3. it polls the view until the barrier has opened (startAt), and runs the script from that
 *      instant (load.ts); a region the barrier left out, or a run that ended, runs nothing;
 *   4. it reports its summary (`testrun.region_completed`) the same way, until the view lists it;
 *   5. it stays alive, idle, until it is stopped: on AWS a service replaces a task that exits, and
 *      the replacement would run the load again. The orchestrator scales the service to 0.
 *
 * SIGTERM (or SIGINT) at any point stops it: an attack in flight is stopped (its vegeta processes
 * with it) and the process exits 0. An error it cannot get past (an invalid assignment or script)
 * is logged and the agent idles too: exiting would only start the same failure again; the run's
 * deadline aborts the run. The pure decisions (what the view says to do next) are exported for
 * tests; `runAgent()` takes its environment, clock and fetch, so a test can run it in-process.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  isTestRunEnded,
  loadScriptSchema,
  RUNNER_ASSIGNMENT_KEY,
  runnerAssignmentSchema,
  runnerReportSchema,
  type LoadScript,
  type LoadSummary,
  type RunnerAssignment,
  type RunnerReport,
  testRunViewSchema,
} from '@flotilla/events';
import { apiTokenEnvShape, backoff, createAwsClients, createLogger, locate, parseEnv, prefixSchema, publish, readObjectText, REGIONS, resourceNames, type AwsClients, type Logger } from '@flotilla/platform';
import { runScript } from './load.ts';

export const agentEnvShape = {
  FLOTILLA_PREFIX: prefixSchema,
  FLOTILLA_RUNNER_REGION: z.enum(REGIONS as [string, ...string[]]).describe('The logical region this runner serves: its bucket holds the assignment, its name is in the reports'),
  AWS_REGION: z.string().min(1).describe('AWS region of the stack'),
  AWS_ENDPOINT_URL: z.url().optional().describe('The local emulator (which injects it into its ECS tasks); unset on real AWS. Set, the load may only target loopback'),
  FLOTILLA_API_TOKEN: apiTokenEnvShape.FLOTILLA_API_TOKEN,
  FLOTILLA_VEGETA: z.string().min(1).describe('The vegeta binary (the runner image puts it there)'),
  ECS_CONTAINER_METADATA_URI_V4: z.url().optional().describe("ECS task metadata: the task's ARN is the runner's task id"),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  RUNNER_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000).describe('How often the assignment and the run view are polled'),
  RUNNER_REPORT_BACKOFF_MS: z.coerce.number().int().min(50).max(60_000).default(1_000).describe('First pause before a report is published again; it doubles (with jitter) up to 15x this'),
} as const;
export type AgentConfig = z.infer<z.ZodObject<typeof agentEnvShape>>;

/**
 * What the runner reads of GET /testruns/:id, nothing more: the status, the start time, the regions
 * the barrier opened for, and per region the task ids that reported ready and completed.
 */
export const runViewSchema = testRunViewSchema.pick({ runId: true, status: true, startAt: true, participants: true, regions: true, finished: true });
export type RunView = z.infer<typeof runViewSchema>;

export const runEnded = (view: RunView): boolean => view.finished || isTestRunEnded(view.status);
export const showsReady = (view: RunView, region: string, task: string): boolean => view.regions[region]?.ready.includes(task) ?? false;
export const showsCompleted = (view: RunView, region: string, task: string): boolean => view.regions[region]?.completed.includes(task) ?? false;

export type StartDecision = { kind: 'wait' } | { kind: 'ended' } | { kind: 'left-out' } | { kind: 'start'; startAt: string };

/** Once ready, what the view says: keep waiting, the run ended, the barrier left this region out, or start at startAt. */
export function startDecision(view: RunView, region: string): StartDecision {
  if (runEnded(view)) return { kind: 'ended' };
  if (view.startAt === undefined) return { kind: 'wait' };
  if (view.participants !== undefined && !view.participants.includes(region)) return { kind: 'left-out' };
  return { kind: 'start', startAt: view.startAt };
}

const taskMetadataSchema = z.object({ TaskARN: z.string().min(1).max(256) });

/**
 * The runner's task id: the task's ARN from ECS task metadata (real ECS and the emulator both set
 * ECS_CONTAINER_METADATA_URI_V4); without it (not on ECS), the host name and a random suffix, made
 * once per process. With host networking every container has the host's name, so the name alone
 * would not tell two containers apart.
 */
export async function resolveTaskId(metadataUri: string | undefined, fetchFn: typeof fetch, logger: Logger, signal?: AbortSignal): Promise<string> {
  if (metadataUri) {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const res = await fetchFn(`${metadataUri.replace(/\/+$/, '')}/task`, { signal: AbortSignal.any([AbortSignal.timeout(2_000), ...(signal ? [signal] : [])]) });
        if (res.ok) return taskMetadataSchema.parse(await res.json()).TaskARN;
        logger.warn({ status: res.status, attempt }, 'task metadata answered with an error');
      } catch (error) {
        signal?.throwIfAborted();
        logger.warn({ err: error, attempt }, 'task metadata did not answer');
      }
      await sleep(backoff(attempt, 200, 2_000), undefined, { signal });
    }
  }
  const task = `${hostname()}-${randomUUID().slice(0, 8)}`;
  logger.warn({ task }, 'no ECS task metadata: the task id is the host name and a random suffix');
  return task;
}

export interface AgentClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: AgentClock = { now: () => Date.now(), sleep: (ms, signal) => sleep(ms, undefined, { signal }) };

export interface AgentOptions {
  /** The environment (process.env in the container); parsed with agentEnvShape. */
  env: Record<string, string | undefined>;
  /** Aborting stops the agent wherever it is; runAgent then resolves. */
  signal: AbortSignal;
  logger?: Logger | undefined;
  clock?: AgentClock | undefined;
  fetch?: typeof fetch | undefined;
  /** Told of each step as it is reached, for tests and logs. */
  onPhase?: ((phase: AgentPhase) => void) | undefined;
}

export type AgentPhase =
  | { phase: 'assigned'; assignment: RunnerAssignment; task: string }
  | { phase: 'ready'; runId: string }
  | { phase: 'starting'; runId: string; startAt: string }
  | { phase: 'completed'; runId: string; summary: LoadSummary }
  | { phase: 'idle'; why: AgentOutcome['outcome'] };

export interface AgentOutcome {
  /** completed: ran and reported; left-out: the barrier opened without this region; ended: the run ended first; failed: see error; stopped: signalled before the work was done. */
  outcome: 'completed' | 'left-out' | 'ended' | 'failed' | 'stopped';
  runId?: string | undefined;
  task?: string | undefined;
  summary?: LoadSummary | undefined;
  error?: string | undefined;
}

/** A stop (the signal) is not a failure: it unwinds every wait to runAgent, which says 'stopped'. */
class Stopped extends Error {
  override name = 'Stopped';
}

/** Runs the agent until `options.signal` aborts: the work (once), then idle. Rejects only on an invalid environment (ConfigError). */
export async function runAgent(options: AgentOptions): Promise<AgentOutcome> {
  const config = parseEnv(agentEnvShape, options.env);
  const logger = (options.logger ?? createLogger('runner', config.LOG_LEVEL)).child({ region: config.FLOTILLA_RUNNER_REGION });
  const aws = createAwsClients({ region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL });
  const clock = options.clock ?? realClock;
  const { signal } = options;
  const state: { runId?: string; task?: string } = {};
  let outcome: AgentOutcome;
  try {
    outcome = await work({ config, logger, aws, clock, signal, fetch: options.fetch ?? fetch, onPhase: options.onPhase ?? (() => undefined), state });
  } catch (error) {
    if (signal.aborted) outcome = { outcome: 'stopped', ...state };
    else {
      outcome = { outcome: 'failed', ...state, error: error instanceof Error ? error.message : String(error) };
      logger.error({ err: error, ...state }, 'the runner cannot go on; it idles until stopped (exiting would only start again)');
    }
  }
  if (!signal.aborted) {
    logger.info({ outcome: outcome.outcome, ...state }, 'runner idle until stopped');
    options.onPhase?.({ phase: 'idle', why: outcome.outcome });
    // A pending promise alone does not keep Node running: a timer does, until the stop.
    const keepAlive = setInterval(() => undefined, 3_600_000);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(keepAlive);
  }
  logger.info({ outcome: outcome.outcome, ...state }, 'runner stopped');
  aws.destroy();
  return outcome;
}

interface WorkContext {
  config: AgentConfig;
  logger: Logger;
  aws: AwsClients;
  clock: AgentClock;
  signal: AbortSignal;
  fetch: typeof fetch;
  onPhase: (phase: AgentPhase) => void;
  state: { runId?: string; task?: string };
}

async function work(ctx: WorkContext): Promise<AgentOutcome> {
  const { config, clock, signal } = ctx;
  const region = config.FLOTILLA_RUNNER_REGION;
  const bucket = resourceNames(config.FLOTILLA_PREFIX).regionBucket(region);
  const task = await resolveTaskId(config.ECS_CONTAINER_METADATA_URI_V4, ctx.fetch, ctx.logger, signal);
  ctx.state.task = task;
  // Every line from here on names the task, and the run once it is known (pollUntil logs through ctx).
  let logger = (ctx.logger = ctx.logger.child({ task }));
  logger.info({ bucket, key: RUNNER_ASSIGNMENT_KEY }, 'runner started: waiting for an assignment');

  const assignment = await pollUntil(ctx, 'the assignment', async () => {
    const text = await readObjectText(ctx.aws.s3, bucket, RUNNER_ASSIGNMENT_KEY);
    if (text === undefined) return undefined;
    return runnerAssignmentSchema.parse(JSON.parse(text));
  });
  ctx.state.runId = assignment.runId;
  logger = ctx.logger = logger.child({ runId: assignment.runId });
  ctx.onPhase({ phase: 'assigned', assignment, task });
  // The orchestrator stores the script before it writes the assignment: one missing, or one that is
  // not a valid script, is a problem to log (once) and wait out, never to run.
  const script: LoadScript = await pollUntil(ctx, "the run's script", async () => {
    const text = await readObjectText(ctx.aws.s3, bucket, assignment.scriptKey);
    if (text === undefined) throw new Error(`no script at s3://${bucket}/${assignment.scriptKey}`);
    return loadScriptSchema.parse(JSON.parse(text));
  });
  logger.info({ target: assignment.target, script: script.name, durationSeconds: script.durationSeconds }, 'assigned');

  const where = await locate(ctx.aws, config.FLOTILLA_PREFIX);
  const intake = where.topicArn(where.names.topics.intake);
  const readView = async (): Promise<RunView | undefined> => {
    const res = await ctx.fetch(new URL(`/testruns/${assignment.runId}`, assignment.target), {
      headers: { authorization: `Bearer ${config.FLOTILLA_API_TOKEN}` },
      signal: AbortSignal.any([AbortSignal.timeout(5_000), signal]),
    });
    // Not known yet: the run's events may not have reached the API's reader.
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET /testruns/${assignment.runId} answered ${res.status}`);
    return runViewSchema.parse(await res.json());
  };

  /** Publishes `report` until the view shows it (`shown`), or the run ends; says which. */
  const reportUntilShown = async (report: RunnerReport, shown: (view: RunView) => boolean): Promise<'shown' | 'ended'> => {
    runnerReportSchema.parse(report);
    for (let attempt = 1; ; attempt++) {
      try {
        await publish(ctx.aws.sns, intake, report);
        logger.info({ type: report.type, attempt }, 'report published');
      } catch (error) {
        logger.warn({ err: error, type: report.type, attempt }, 'report not published; trying again');
      }
      const republishAt = clock.now() + backoff(attempt, config.RUNNER_REPORT_BACKOFF_MS, config.RUNNER_REPORT_BACKOFF_MS * 15);
      do {
        const view = await readView().catch((error: unknown) => {
          if (signal.aborted) throw new Stopped();
          logger.warn({ err: error }, 'run view not read; trying again');
          return undefined;
        });
        if (view && shown(view)) return 'shown';
        if (view && runEnded(view)) return 'ended';
        await clock.sleep(Math.min(config.RUNNER_POLL_MS, Math.max(0, republishAt - clock.now())), signal);
      } while (clock.now() < republishAt);
    }
  };

  const ready = await reportUntilShown({ type: 'testrun.region_ready', runId: assignment.runId, region, task }, (view) => showsReady(view, region, task));
  if (ready === 'ended') return { outcome: 'ended', runId: assignment.runId, task };
  ctx.onPhase({ phase: 'ready', runId: assignment.runId });
  logger.info('ready: waiting for the start');

  const decision = await pollUntil(ctx, 'the start', async () => {
    const view = await readView();
    if (!view) return undefined;
    const next = startDecision(view, region);
    return next.kind === 'wait' ? undefined : next;
  });
  if (decision.kind === 'ended') return { outcome: 'ended', runId: assignment.runId, task };
  if (decision.kind === 'left-out') return { outcome: 'left-out', runId: assignment.runId, task };

  ctx.onPhase({ phase: 'starting', runId: assignment.runId, startAt: decision.startAt });
  logger.info({ startAt: decision.startAt }, 'starting the load at startAt');
  const run = await runScript(script, {
    target: assignment.target,
    token: config.FLOTILLA_API_TOKEN,
    vegeta: config.FLOTILLA_VEGETA,
    startAt: decision.startAt,
    signal,
    // Against the emulator, the load stays on this machine; on AWS the target is the stack's API.
    loopbackOnly: config.AWS_ENDPOINT_URL !== undefined,
  });
  const { summary } = run;
  logger.info({ requests: summary.requests, failed: summary.failed, dropped: summary.dropped, p95Ms: summary.p95Ms, firstRequestAt: summary.firstRequestAt, startLagMs: run.startLagMs, passed: summary.passed }, 'load done');

  const completed = await reportUntilShown({ type: 'testrun.region_completed', runId: assignment.runId, region, task, summary }, (view) => showsCompleted(view, region, task));
  if (completed === 'ended') logger.warn('the run ended before it showed this runner\'s summary');
  ctx.onPhase({ phase: 'completed', runId: assignment.runId, summary });
  return { outcome: 'completed', runId: assignment.runId, task, summary };
}

/**
 * Calls `read` every RUNNER_POLL_MS until it returns something. A read that throws is logged (once
 * per distinct message, so a bad object does not flood the log) and tried again: the bucket, the
 * API or the object may be on their way.
 */
async function pollUntil<T>(ctx: WorkContext, what: string, read: () => Promise<T | undefined>): Promise<T> {
  let lastProblem = '';
  for (;;) {
    ctx.signal.throwIfAborted();
    try {
      const value = await read();
      if (value !== undefined) return value;
    } catch (error) {
      if (ctx.signal.aborted) throw new Stopped();
      const problem = error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
      if (problem !== lastProblem) ctx.logger.warn({ problem }, `reading ${what} failed; trying again`);
      lastProblem = problem;
    }
    await ctx.clock.sleep(ctx.config.RUNNER_POLL_MS, ctx.signal);
  }
}

async function main(): Promise<void> {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  await runAgent({ env: process.env, signal: stop.signal });
  process.exit(0);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  });
}
