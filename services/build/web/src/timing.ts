/**
 * Rate limits for work that live events trigger: a burst of events becomes one refetch. Pure but
 * for the timer functions, which tests replace with fake timers. lodash's debounce and throttle
 * would do; these two are what the views need (a cancel for unmount, no leading/trailing options)
 * in a few lines, and keep a utility library out of the page for them.
 */

export interface Scheduled {
  (): void;
  /** Drops a run that is waiting. */
  cancel(): void;
}

/** Runs `fn` once, `ms` after the last call. */
export function debounce(fn: () => void, ms: number): Scheduled {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const call = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
  return Object.assign(call, {
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  });
}

/**
 * Runs `fn` at most once per `ms`: a call runs it at once if the last run is `ms` old, otherwise
 * when it will be; the calls in between fold into that one run.
 */
export function throttle(fn: () => void, ms: number, now: () => number = Date.now): Scheduled {
  let lastRun = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    timer = undefined;
    lastRun = now();
    fn();
  };
  const call = () => {
    if (timer !== undefined) return;
    const wait = lastRun + ms - now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  return Object.assign(call, {
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  });
}
