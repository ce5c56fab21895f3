/**
 * Read, decide, append, and on a lost race do it all again: the loop every writer whose events
 * depend on the stream's state runs. A ConcurrencyError re-reads the stream and re-decides with
 * jittered backoff until the deadline, never a small fixed number of tries. Within one process,
 * the writers to one stream take turns (KeyedTurns), so only other processes' writes race.
 */
import {
  factKey,
  foldBuild,
  foldOnboarding,
  foldTestRun,
  parseBuildEvent,
  parseOnboardingEvent,
  parseTestRunEvent,
  type BuildEvent,
  type BuildState,
  type OnboardingEvent,
  type OnboardingState,
  type PendingEvent,
  type TestRunEvent,
  type TestRunState,
} from '@flotilla/events';
import type { AppendResult, EventStore } from './event-store.ts';
import { KeyedTurns } from './concurrency.ts';
import { withRetry } from './retry.ts';

/** How to read one aggregate's stream: parse each stored event (upcast, of the aggregate's types) and fold them. */
export interface Aggregate<TState extends { lastVersion: number }, TEvent> {
  parse: (raw: unknown) => TEvent;
  fold: (events: readonly TEvent[]) => TState;
}

export const buildAggregate: Aggregate<BuildState, BuildEvent> = { parse: parseBuildEvent, fold: foldBuild };
export const testRunAggregate: Aggregate<TestRunState, TestRunEvent> = { parse: parseTestRunEvent, fold: foldTestRun };
export const onboardingAggregate: Aggregate<OnboardingState, OnboardingEvent> = { parse: parseOnboardingEvent, fold: foldOnboarding };

export type Decision<TState, TEvent> = (state: TState, history: readonly TEvent[]) => PendingEvent[];
export type BuildDecision = Decision<BuildState, BuildEvent>;

/** An aggregate's stream's events after `afterVersion`, parsed and upcast, in version order. */
export async function readEvents<TEvent>(store: EventStore, stream: string, aggregate: Pick<Aggregate<{ lastVersion: number }, TEvent>, 'parse'>, afterVersion = 0): Promise<TEvent[]> {
  return (await store.readStream(stream, afterVersion)).map((e) => aggregate.parse(e));
}

/** A stream's whole history, parsed and upcast, in version order, and its folded state. */
export async function loadAggregate<TState extends { lastVersion: number }, TEvent>(store: EventStore, stream: string, aggregate: Aggregate<TState, TEvent>): Promise<{ history: TEvent[]; state: TState }> {
  const history = await readEvents(store, stream, aggregate);
  return { history, state: aggregate.fold(history) };
}

/** A build stream's events after `afterVersion`, parsed and upcast, in version order. */
export const readBuildEvents = (store: EventStore, stream: string, afterVersion = 0): Promise<BuildEvent[]> => readEvents(store, stream, buildAggregate, afterVersion);

/** The build's history, parsed and upcast, and its folded state. */
export const loadBuild = (store: EventStore, stream: string): Promise<{ history: BuildEvent[]; state: BuildState }> => loadAggregate(store, stream, buildAggregate);

/** This process's appends, one stream at a time: its writers to one stream take turns instead of racing. */
const turns = new KeyedTurns();

export function decideAndAppend(store: EventStore, stream: string, decide: BuildDecision, deadlineMs = 30_000): Promise<AppendResult & { appended: PendingEvent[] }> {
  return decideAndAppendTo(store, stream, buildAggregate, decide, deadlineMs);
}

/** decideAndAppend for any aggregate's stream. */
export async function decideAndAppendTo<TState extends { lastVersion: number }, TEvent>(
  store: EventStore,
  stream: string,
  aggregate: Aggregate<TState, TEvent>,
  decide: Decision<TState, TEvent>,
  deadlineMs = 30_000,
): Promise<AppendResult & { appended: PendingEvent[] }> {
  return turns.run(stream, () =>
    withRetry(
      async () => {
        const { history, state } = await loadAggregate(store, stream, aggregate);
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
