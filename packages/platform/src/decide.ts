/**
 * Read, decide, append, and on a lost race do it all again: the loop every writer whose events
 * depend on the stream's state runs. A ConcurrencyError re-reads the stream and re-decides with
 * jittered backoff until the deadline, never a small fixed number of tries. Within one process,
 * the writers to one stream take turns (KeyedTurns), so only other processes' writes race.
 */
import { factKey, foldBuild, parseEvent, type BuildEvent, type BuildState, type PendingEvent } from '@flotilla/events';
import type { AppendResult, EventStore } from './event-store.ts';
import { KeyedTurns } from './concurrency.ts';
import { withRetry } from './retry.ts';

export type BuildDecision = (state: BuildState, history: readonly BuildEvent[]) => PendingEvent[];

/** A build stream's events after `afterVersion`, parsed and upcast, in version order. */
export async function readBuildEvents(store: EventStore, stream: string, afterVersion = 0): Promise<BuildEvent[]> {
  return (await store.readStream(stream, afterVersion)).map((e) => parseEvent(e));
}

/** The build's history, parsed and upcast, and its folded state. */
export async function loadBuild(store: EventStore, stream: string): Promise<{ history: BuildEvent[]; state: BuildState }> {
  const history = await readBuildEvents(store, stream);
  return { history, state: foldBuild(history) };
}

/** This process's appends, one stream at a time: its writers to one stream take turns instead of racing. */
const turns = new KeyedTurns();

export async function decideAndAppend(store: EventStore, stream: string, decide: BuildDecision, deadlineMs = 30_000): Promise<AppendResult & { appended: PendingEvent[] }> {
  return turns.run(stream, () =>
    withRetry(
      async () => {
        const { history, state } = await loadBuild(store, stream);
        const events = decide(state, history);
        const result = await store.append(stream, events, state.lastVersion);
        return { ...result, appended: events };
      },
      { deadlineMs },
    ),
  );
}

/**
 * Appends `event` unless its fact is already in the stream (factKey): how task workers record
 * what a task did. A task runs again when a worker takes it over from one that died mid-task
 * (review H1) or Step Functions retries it; the rerun's event would state the same fact under a
 * new id. Returns whether it was appended.
 */
export async function appendFact(store: EventStore, stream: string, event: PendingEvent): Promise<{ appended: boolean }> {
  const fact = factKey(event);
  const { appended } = await decideAndAppend(store, stream, (_state, history) => (history.some((e) => factKey(e) === fact) ? [] : [event]));
  return { appended: appended.length > 0 };
}
