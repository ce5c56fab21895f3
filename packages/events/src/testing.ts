/**
 * given/when/then for folds, free of any test framework so every package's tests can use it:
 *
 *   given([requested, started]).when(succeeded).then({ status: 'SUCCESS' })
 *
 * `then` compares partially (only the keys named in the expectation, recursively; arrays by
 * length and element) and throws a FoldExpectationError naming the first differing path. It also
 * takes a function for assertions a shape cannot express. It returns the folded state.
 */
import type { PendingEvent } from './envelope.ts';
import type { BuildEvent } from './registry.ts';
import { evolveBuild, initialBuildState, type BuildState } from './status.ts';

export type DeepPartial<T> = T extends readonly (infer E)[] ? readonly DeepPartial<E>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export type FoldExpectation<TState> = DeepPartial<TState> | ((state: TState) => void);

export interface FoldThen<TState> {
  then: (expected: FoldExpectation<TState>) => TState;
}

export interface FoldSpecification<TState, TEvent> {
  given: (events: readonly TEvent[]) => FoldThen<TState> & { when: (...events: TEvent[]) => FoldThen<TState> };
}

export class FoldExpectationError extends Error {
  readonly path: string;
  readonly actual: unknown;
  readonly expected: unknown;

  constructor(path: string, actual: unknown, expected: unknown) {
    super(`${path || '(state)'}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    this.name = 'FoldExpectationError';
    this.path = path;
    this.actual = actual;
    this.expected = expected;
  }
}

/** The first path where `actual` differs from the partial `expected`, or undefined when it matches. */
export function firstMismatch(actual: unknown, expected: unknown, path = ''): { path: string; actual: unknown; expected: unknown } | undefined {
  if (Object.is(actual, expected)) return undefined;
  const at = (key: string | number) => (path ? `${path}.${key}` : String(key));
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return { path, actual, expected };
    for (const [i, item] of expected.entries()) {
      const miss = firstMismatch(actual[i], item, at(i));
      if (miss) return miss;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return { path, actual, expected };
    for (const [key, value] of Object.entries(expected)) {
      const miss = firstMismatch((actual as Record<string, unknown>)[key], value, at(key));
      if (miss) return miss;
    }
    return undefined;
  }
  return { path, actual, expected };
}

/** A given/when/then for any fold: pass its evolve and initial state. */
export function foldSpecification<TState, TEvent>(fold: { evolve: (state: TState, event: TEvent) => TState; initialState: TState }): FoldSpecification<TState, TEvent> {
  return {
    given: (history) => {
      const run = (more: readonly TEvent[]): FoldThen<TState> => ({
        then: (expected) => {
          const state = [...history, ...more].reduce(fold.evolve, fold.initialState);
          if (typeof expected === 'function') {
            (expected as (state: TState) => void)(state);
          } else {
            const miss = firstMismatch(state, expected);
            if (miss) throw new FoldExpectationError(miss.path, miss.actual, miss.expected);
          }
          return state;
        },
      });
      return { when: (...events: TEvent[]) => run(events), then: run([]).then };
    },
  };
}

/** given/when/then over the build status fold. */
export const { given } = foldSpecification<BuildState, BuildEvent>({ evolve: evolveBuild, initialState: initialBuildState });

/**
 * given/when/then for deciders: the history folded, the command decided, the events it decides
 * compared partially (type and the payload keys named), or the error it throws:
 *
 *   given([requested, ready]).when({ kind: 'cancel' }, meta).then([{ type: 'testrun.cancelled' }])
 */
export interface DeciderThen<TState> {
  then: (expected: ReadonlyArray<{ type: string; data?: unknown }>) => { state: TState; decided: PendingEvent[] };
  thenThrows: (expected: (error: unknown) => boolean) => void;
}

export function deciderSpecification<TState, TEvent, TCommand, TMeta>(decider: {
  evolve: (state: TState, event: TEvent) => TState;
  initialState: TState;
  decide: (state: TState, command: TCommand, meta: TMeta) => PendingEvent[];
}) {
  return {
    given: (history: readonly TEvent[]) => ({
      when: (command: TCommand, meta: TMeta): DeciderThen<TState> => {
        const state = history.reduce(decider.evolve, decider.initialState);
        return {
          then: (expected) => {
            const decided = decider.decide(state, command, meta);
            const miss = firstMismatch(decided, expected);
            if (miss) throw new FoldExpectationError(`decided${miss.path ? `.${miss.path}` : ''}`, miss.actual, miss.expected);
            return { state, decided };
          },
          thenThrows: (matches) => {
            let thrown: unknown;
            try {
              decider.decide(state, command, meta);
            } catch (error) {
              thrown = error;
            }
            if (thrown === undefined) throw new FoldExpectationError('decided', 'no error', 'an error');
            if (!matches(thrown)) throw new FoldExpectationError('error', thrown instanceof Error ? thrown.message : thrown, 'an error the matcher accepts');
          },
        };
      },
    }),
  };
}
