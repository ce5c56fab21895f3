/**
 * A value that views follow: the session (auth.ts), the live indicator (stream.ts), the location
 * (hash.ts). Push handlers set it; components read it with useStore (views/common.tsx) and re-render
 * on change. Free of Preact, so the pure modules that hold stores stay testable under Node.
 */
export interface Store<T> {
  get(): T;
  set(value: T): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function createStore<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const listener of [...listeners]) listener(value);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
