/**
 * The reconciler, at start and then periodically: every build that has not ended is checked on
 * its own, from the log (the truth) and its execution. It finds them in the in-flight list and in
 * the build list's PENDING and IN_PROGRESS rows, so a build that was never tracked is seen too
 * (review M6); one entry that fails is logged and the rest go on.
 *   - PENDING longer than the grace: its latest event is relayed again (build.started follows).
 *   - IN_PROGRESS with no execution after the grace: build.started is relayed again (it starts).
 *   - An execution that ended more than the grace ago without its deploy.finished handled
 *     (FAILED, TIMED_OUT, ABORTED, or States.ServiceRestart after an emulator restart; or
 *     SUCCEEDED): the terminal event is appended.
 * The grace lets the normal path (the relay, deploy.finished) act first.
 */
import { buildStream, isTerminal, newEvent, timeOfId, type BuildEvent } from '@flotilla/events';
import { allBuilds, decideAndAppend, executionStatus, loadBuild } from '@flotilla/platform';
import { decideFailure } from '../domain/decide.ts';
import { IN_FLIGHT_PK, type OrchestratorDeps } from './deps.ts';
import { startPeriodic } from './periodic.ts';
import { relayRecord } from './relay.ts';

export type ReconcileAction = 'none' | 'relayed' | 'settled' | 'untracked';

/** Build ids of every build that may not have ended: tracked in flight, or listed PENDING or IN_PROGRESS. */
async function unfinishedBuilds(deps: OrchestratorDeps): Promise<string[]> {
  const ids = new Set((await deps.inFlight.list(IN_FLIGHT_PK)).map((r) => r.sk));
  for (const status of ['PENDING', 'IN_PROGRESS'] as const) {
    for await (const build of allBuilds(deps.aws.dynamodb, deps.locator.names.tables.builds, { status })) ids.add(build.buildId);
  }
  return [...ids];
}

export async function reconcileBuild(deps: OrchestratorDeps, buildId: string, graceMs: number, now = Date.now()): Promise<ReconcileAction> {
  const stream = buildStream(buildId);
  const { history, state } = await loadBuild(deps.store, stream);
  const latest = history.at(-1);
  const untrack = () => deps.inFlight.delete({ pk: IN_FLIGHT_PK, sk: buildId });
  if (!latest || isTerminal(state.status)) {
    await untrack();
    return 'untracked';
  }
  const older = (event: BuildEvent) => now - timeOfId(event.id) >= graceMs;
  if (state.status === 'PENDING') {
    if (!older(latest)) return 'none';
    await relayRecord(deps, latest);
    return 'relayed';
  }
  const started = history.findLast((e) => e.type === 'build.started');
  if (!started || !state.executionArn) return 'none';
  // Within the grace of build.started every outcome below is 'none' (not found yet, running, or
  // ended less than the grace ago, since an execution ends after it starts): skip the call.
  if (!older(started)) return 'none';
  const { status, error, cause, stopDate } = await executionStatus(deps.aws.sfn, state.executionArn);
  if (status === 'NOT_FOUND') {
    await relayRecord(deps, started);
    return 'relayed';
  }
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') return 'none';
  if (stopDate && now - stopDate.getTime() < graceMs) return 'none';
  const meta = { correlationId: state.request?.buildId ?? buildId, causationId: state.executionArn, now };
  await decideAndAppend(deps.store, stream, (current, events) =>
    status === 'SUCCEEDED'
      ? current.status === 'IN_PROGRESS'
        ? [newEvent({ type: 'build.succeeded', data: {}, ...meta })]
        : []
      : decideFailure(current, events, `execution ${status}${error ? `: ${error}` : ''}${cause ? ` (${cause})` : ''}`, meta),
  );
  await untrack();
  deps.logger.warn({ stream, status, error }, 'reconciled an execution that ended without deploy.finished');
  return 'settled';
}

/** One pass over every unfinished build; returns how many were settled (a terminal event appended). */
export async function reconcileOnce(deps: OrchestratorDeps, graceMs: number, now = Date.now()): Promise<number> {
  let settled = 0;
  for (const buildId of await unfinishedBuilds(deps)) {
    try {
      if ((await reconcileBuild(deps, buildId, graceMs, now)) === 'settled') settled++;
    } catch (error) {
      deps.logger.error({ err: error, buildId }, 'reconcile of one build failed; going on with the rest');
    }
  }
  return settled;
}

/** Reconciles now and `intervalMs` after each pass ends (startPeriodic: never two passes at once). */
export function startReconciler(deps: OrchestratorDeps, intervalMs: number, graceMs: number) {
  return startPeriodic('reconciler', intervalMs, () => reconcileOnce(deps, graceMs), deps.logger);
}
