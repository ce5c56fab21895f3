/**
 * A pass run now and then `intervalMs` after each pass ends, never two at once: on a saturated
 * emulator one pass can outlast the interval, and overlapping passes only added load (issue 9).
 * A pass that throws is logged; the next one runs on time. stop() waits for a pass in progress.
 */
import type { Logger } from '@flotilla/platform';

export function startPeriodic(name: string, intervalMs: number, pass: () => Promise<unknown>, logger: Logger) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = pass().then(
      () => undefined,
      (error: unknown) => logger.error({ err: error, worker: name }, `${name} pass failed`),
    );
    void running.then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    name,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
