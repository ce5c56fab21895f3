/**
 * Everything the simulator does later (merges, run completions, webhook deliveries) goes through
 * one scheduler, so that `close()` can cancel all of it at once: after close nothing fires.
 */
export class Scheduler {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #onError: (error: unknown) => void;
  #closed = false;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `task` after `ms`; returns a cancel function. Errors go to the scheduler's onError. */
  after(ms: number, task: () => void | Promise<void>): () => void {
    if (this.#closed) return () => {};
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      Promise.resolve()
        .then(task)
        .catch((error: unknown) => this.#onError(error));
    }, ms);
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
