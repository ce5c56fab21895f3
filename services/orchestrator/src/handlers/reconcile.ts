/**
 * Catches executions that ended without their deploy.finished message: for each build in flight
 * longer than the deadline, DescribeExecution; FAILED, TIMED_OUT or ABORTED append build.failed,
 * SUCCEEDED appends build.succeeded. Runs at start and then periodically.
 */
import { newEvent } from '@flotilla/events';
import { decideAndAppend, executionStatus } from '@flotilla/platform';
import { decideFailure } from '../domain/decide.ts';
import { IN_FLIGHT_PK, type OrchestratorDeps } from './deps.ts';

export async function reconcileOnce(deps: OrchestratorDeps, deadlineMs: number, now = Date.now()): Promise<number> {
  let settled = 0;
  const inFlight = await deps.inFlight.list<{ executionArn: string; startedAt: string; stream: string }>(IN_FLIGHT_PK);
  for (const build of inFlight) {
    if (now - Date.parse(build.startedAt) < deadlineMs) continue;
    const { status, error, cause } = await executionStatus(deps.aws.sfn, build.executionArn);
    if (status === 'RUNNING' || status === 'PENDING_REDRIVE') continue;
    const meta = { correlationId: build.sk, causationId: build.executionArn, now: Date.now() };
    await decideAndAppend(deps.store, build.stream, (state, history) =>
      status === 'SUCCEEDED'
        ? state.status === 'IN_PROGRESS'
          ? [newEvent({ type: 'build.succeeded', data: {}, ...meta })]
          : []
        : decideFailure(state, history, `execution ${status}${error ? `: ${error}` : ''}${cause ? ` (${cause})` : ''}`, meta),
    );
    await deps.inFlight.delete({ pk: IN_FLIGHT_PK, sk: build.sk });
    deps.logger.warn({ stream: build.stream, status }, 'reconciled an execution that ended without deploy.finished');
    settled++;
  }
  return settled;
}

export function startReconciler(deps: OrchestratorDeps, intervalMs: number, deadlineMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = reconcileOnce(deps, deadlineMs).catch((error: unknown) => deps.logger.error({ err: error }, 'reconcile failed'));
  };
  tick();
  timer = setInterval(tick, intervalMs);
  return {
    name: 'reconciler',
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
