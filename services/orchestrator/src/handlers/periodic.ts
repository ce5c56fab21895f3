/**
 * A pass run now and then `intervalMs` after each pass ends, never two at once: on a saturated
 * emulator one pass can outlast the interval, and overlapping passes only added load (issue 9).
 * A pass that throws is logged; the next one runs on time. stop() waits for a pass in progress.
 * wake() runs the next pass now instead of at its time (after the one in progress, if any): how
 * news that arrives another way (the relay read an event) is acted on without waiting the interval.
 */
import type { Logger } from '@flotilla/platform';

export function startPeriodic(name: string, intervalMs: number, pass: () => Promise<unknown>, logger: Logger) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let woken = false;
  const tick = () => {
    clearTimeout(timer);
    busy = true;
    woken = false;
    running = pass().then(
      () => undefined,
      (error: unknown) => logger.error({ err: error, worker: name }, `${name} pass failed`),
    );
    void running.then(() => {
      busy = false;
      if (!stopped) timer = setTimeout(tick, woken ? 0 : intervalMs);
    });
  };
  tick();
  return {
    name,
    wake() {
      if (stopped) return;
      if (busy) woken = true;
      else tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
