/**
 * Test runs on ECS: the orchestrator's part of the test-run aggregate.
 *   - On `testrun.requested` (from the relay): each region's bucket gets the validated script and
 *     the runner assignment, then its runner service is scaled to the run's containers.
 *   - Runners' reports (ready, completed) come through intake and are decided on the run's stream,
 *     where the start barrier is a conditional append: however many times and however concurrently
 *     they arrive, one `start_scheduled` is appended.
 *   - The supervisor, every interval, walks the runs holding leases: it aborts a run past its
 *     deadline, scales to 0 every region that is done (completed, left out of the start, or the run
 *     ended), appends `region_torn_down` once ECS shows no task of the service running, and gives the
 *     leases back once the run is finished.
 * Every effect is idempotent (the same objects written, the same desired count set, appends
 * decided on the stream), so a relay retry, a second supervisor or a restart repeats none.
 */
import { DescribeTasksCommand, ListTasksCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  decideTestRun,
  isTestRunEnded,
  isTestRunFinished,
  loadScriptSchema,
  regionsToTearDown,
  RUNNER_ASSIGNMENT_KEY,
  runnerAssignmentSchema,
  scriptKeyOf,
  TestRunRefusedError,
  testRunStream,
  type RunnerReport,
  type TestRunCommand,
  type TestRunState,
} from '@flotilla/events';
import {
  decideAndAppendTo,
  InvalidMessageError,
  leasedTestRuns,
  loadAggregate,
  putObject,
  releaseTestRunLeases,
  testRunAggregate,
  type Logger,
} from '@flotilla/platform';
import type { OrchestratorDeps } from './deps.ts';
import { startPeriodic } from './periodic.ts';

/** A lease whose run never reached the log (the API died between the two) is given back after this. */
export const ORPHAN_LEASE_MS = 60_000;

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Decides `command` on the run's stream and appends what it decides (nothing for a repeat). */
function decideOnRun(deps: OrchestratorDeps, runId: string, command: TestRunCommand, causationId: string, now = Date.now()) {
  return decideAndAppendTo(deps.store, testRunStream(runId), testRunAggregate, (state) => decideTestRun(state, command, { correlationId: runId, causationId, now }));
}

async function scaleRunners(deps: OrchestratorDeps, region: string, desiredCount: number): Promise<void> {
  const { names } = deps.locator;
  await deps.aws.ecs.send(new UpdateServiceCommand({ cluster: names.ecsCluster, service: names.runnerService(region), desiredCount }));
}

/**
 * Whether none of the region's runners runs: ListTasks shows no task of the service RUNNING, and
 * every stopped task it knows has stopped (lastStatus). The service's runningCount proves nothing:
 * on the emulator it reads 0 right after UpdateService.
 */
export async function runnersStopped(deps: OrchestratorDeps, region: string): Promise<boolean> {
  const { names } = deps.locator;
  const list = (desiredStatus: 'RUNNING' | 'STOPPED') => deps.aws.ecs.send(new ListTasksCommand({ cluster: names.ecsCluster, serviceName: names.runnerService(region), desiredStatus }));
  if (((await list('RUNNING')).taskArns ?? []).length > 0) return false;
  const stopping = (await list('STOPPED')).taskArns ?? [];
  if (stopping.length === 0) return true;
  // DescribeTasks takes 100 tasks at a time; a region has at most 5 runners, plus those stopped earlier.
  for (let i = 0; i < stopping.length; i += 100) {
    const { tasks = [] } = await deps.aws.ecs.send(new DescribeTasksCommand({ cluster: names.ecsCluster, tasks: stopping.slice(i, i + 100) }));
    if (tasks.some((t) => t.lastStatus !== 'STOPPED')) return false;
  }
  return true;
}

/**
 * `testrun.requested`: the script (validated again: the bucket is what runners trust) and the
 * assignment go to each region's bucket, then its runners are scaled up. Skipped for a run that
 * already ended (a cancel the relay sees after the request): the supervisor tears it down.
 */
export async function provisionTestRun(deps: OrchestratorDeps, state: TestRunState): Promise<void> {
  const { request, runId } = state;
  if (!request || !runId || isTestRunEnded(state.status)) return;
  const script = loadScriptSchema.parse(request.script);
  const assignment = runnerAssignmentSchema.parse({ runId, scriptKey: scriptKeyOf(runId), target: request.target });
  await Promise.all(
    request.regions.map(async (region) => {
      const bucket = deps.locator.names.regionBucket(region);
      await putObject(deps.aws.s3, bucket, assignment.scriptKey, json(script));
      await putObject(deps.aws.s3, bucket, RUNNER_ASSIGNMENT_KEY, json(assignment));
      await scaleRunners(deps, region, request.containersPerRegion);
    }),
  );
  deps.logger.info({ runId, regions: request.regions, containersPerRegion: request.containersPerRegion }, 'test run provisioned: runners scaled up');
}

/**
 * A runner's report from intake (parsed there), decided on its run's stream. A report for a run or
 * region that does not exist is refused with the reason (dead-lettered); a repeat decides nothing.
 */
export async function handleRunnerReport(deps: OrchestratorDeps, report: RunnerReport, logger: Logger): Promise<void> {
  const command: TestRunCommand =
    report.type === 'testrun.region_ready'
      ? { kind: 'report-ready', region: report.region, task: report.task }
      : { kind: 'report-completed', region: report.region, task: report.task, summary: report.summary };
  try {
    const { appended } = await decideOnRun(deps, report.runId, command, `runner:${report.task}:${report.type}`);
    logger.info({ runId: report.runId, region: report.region, task: report.task, type: report.type, appended: appended.map((e) => e.type) }, 'runner report');
  } catch (error) {
    if (error instanceof TestRunRefusedError) throw new InvalidMessageError(`runner report refused: ${error.message}`, { runId: report.runId, region: report.region });
    throw error;
  }
}

/** One look at one run: the deadline, teardown of what is done, leases given back once it is finished. */
export async function superviseTestRun(deps: OrchestratorDeps, runId: string, leasedSince: Date, now = Date.now()): Promise<TestRunState> {
  const stream = testRunStream(runId);
  let { state } = await loadAggregate(deps.store, stream, testRunAggregate);
  if (state.status === null) {
    if (now - leasedSince.getTime() >= ORPHAN_LEASE_MS) {
      await releaseTestRunLeases(deps.leases, runId);
      deps.logger.warn({ runId }, 'test run leases given back: the run never reached the log');
    }
    return state;
  }
  const reload = async () => void ({ state } = await loadAggregate(deps.store, stream, testRunAggregate));
  // The deadline, decided on the run as read here; appended only once it has passed (decided again there).
  if (decideTestRun(state, { kind: 'tick' }, { correlationId: runId, causationId: 'supervisor:deadline', now }).length > 0) {
    await decideOnRun(deps, runId, { kind: 'tick' }, 'supervisor:deadline', now);
    await reload();
  }
  let tornDown = false;
  for (const region of regionsToTearDown(state)) {
    await scaleRunners(deps, region, 0);
    if (!(await runnersStopped(deps, region))) continue;
    const { appended } = await decideOnRun(deps, runId, { kind: 'observe-torn-down', region }, 'supervisor:teardown', now);
    tornDown ||= appended.length > 0;
    deps.logger.info({ runId, region }, 'test run region torn down');
  }
  // Read again only when this pass changed the run: a run that is waiting costs one read a pass.
  if (tornDown) await reload();
  if (isTestRunFinished(state)) {
    await releaseTestRunLeases(deps.leases, runId);
    deps.logger.info({ runId, status: state.status }, 'test run finished: leases given back');
  }
  return state;
}

/** One pass over every run holding leases; one run that fails is logged and the rest go on. */
export async function superviseTestRuns(deps: OrchestratorDeps, now = Date.now()): Promise<void> {
  for (const { runId, since } of await leasedTestRuns(deps.leases)) {
    try {
      await superviseTestRun(deps, runId, since, now);
    } catch (error) {
      deps.logger.error({ err: error, runId }, 'supervising a test run failed; going on with the rest');
    }
  }
}

/** Supervises now and `intervalMs` after each pass ends (startPeriodic: never two passes at once). */
export function startTestRunSupervisor(deps: OrchestratorDeps, intervalMs: number) {
  return startPeriodic('testrun-supervisor', intervalMs, () => superviseTestRuns(deps), deps.logger);
}
