import { setTimeout as delay } from 'node:timers/promises';

/**
 * Bounded concurrency: `work` over `items` with at most `concurrency` in flight, in item order.
 * Small enough to keep here rather than take a dependency (p-map) for one loop.
 */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, lane));
}

export type Within<T> = { done: true; value: T } | { done: false };

/**
 * `work`'s outcome if it settles within `ms`, else `{ done: false }` (the work is not cancelled;
 * the caller decides what an overrun means). Its timer never keeps the process alive, and is
 * cleared as soon as the race is decided. A rejection of `work` within `ms` is thrown.
 */
export async function within<T>(work: Promise<T>, ms: number): Promise<Within<T>> {
  const timer = new AbortController();
  try {
    return await Promise.race([work.then((value) => ({ done: true as const, value })), delay(ms, { done: false as const }, { signal: timer.signal, ref: false })]);
  } finally {
    timer.abort();
  }
}

/**
 * Work for one key runs after the work already queued for that key; different keys run side by
 * side. One process's writers to one event stream take turns this way instead of racing: each
 * lost race costs a re-read of the stream and a retried transaction (issue 9: five regions'
 * workers appending to one build's stream at once lost 1.4 races per append). A few lines over
 * a promise chain, where a library (async-mutex) offers no keyed form. Keys with nothing queued
 * are forgotten.
 */
export class KeyedTurns {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const mine = before.then(work, work);
    const tail = mine.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return mine;
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size;
  }
}
