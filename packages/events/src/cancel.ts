/**
 * Cancelling a build: a command decided against the build's folded state. A build that has not
 * ended ends FAILED with reason `cancelled`, appended once (the append is at the state's version,
 * so a racing cancel or terminal event makes the loser re-decide, and then there is nothing to
 * do). Facts that workers append afterwards are absorbed by the fold; the orchestrator stops the
 * execution when it reads the event.
 */
import type { PendingEvent } from './envelope.ts';
import { newEvent } from './registry.ts';
import { isTerminal, type BuildState, type BuildStatus } from './status.ts';

export const CANCELLED_REASON = 'cancelled';

export type CancelDecision =
  | { outcome: 'cancel'; events: PendingEvent[] }
  | { outcome: 'already-finished'; status: BuildStatus }
  | { outcome: 'not-found' };

export function decideCancel(state: BuildState, meta: { correlationId: string; causationId: string; now: number }): CancelDecision {
  if (state.status === null) return { outcome: 'not-found' };
  if (isTerminal(state.status)) return { outcome: 'already-finished', status: state.status };
  return { outcome: 'cancel', events: [newEvent({ type: 'build.failed', data: { reason: CANCELLED_REASON, failedRegions: [] }, ...meta })] };
}

/** Whether a build.failed is a cancellation (no alert: someone asked for it). */
export const isCancellation = (failure: { reason: string } | undefined): boolean => failure?.reason === CANCELLED_REASON;
