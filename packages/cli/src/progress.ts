/**
 * How `builds watch` shows progress: one cli-progress bar per region on a terminal, or plain
 * lines (printed only when a region's line changes) when stdout is a pipe or a file.
 */
import cliProgress from 'cli-progress';
import type { BuildView } from './api.ts';
import { progressLine, regionCounts } from './format.ts';
import { print } from './output.ts';

export interface ProgressDisplay {
  update(view: BuildView): void;
  stop(): void;
}

export const silentDisplay = (): ProgressDisplay => ({ update: () => undefined, stop: () => undefined });

export function linesDisplay(write: (line: string) => void = print): ProgressDisplay {
  const last = new Map<string, string>();
  const emit = (key: string, line: string) => {
    if (last.get(key) === line) return;
    last.set(key, line);
    write(line);
  };
  return {
    update(view) {
      emit('status', `status: ${view.status}`);
      for (const counts of regionCounts(view)) emit(counts.region, `progress: ${progressLine(counts)}`);
    },
    stop: () => undefined,
  };
}

export function barsDisplay(): ProgressDisplay {
  const multibar = new cliProgress.MultiBar(
    { format: '{region} [{bar}] {value}/{total} hosts {percentage}% {phase}', hideCursor: true, clearOnComplete: false, stopOnComplete: false, autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let status: string | undefined;
  let stopped = false;
  return {
    update(view) {
      if (view.status !== status) {
        status = view.status;
        multibar.log(`status: ${view.status}\n`);
      }
      const width = Math.max(...Object.keys(view.regions).map((r) => r.length), 0);
      for (const c of regionCounts(view)) {
        const payload = { region: c.region.padEnd(width), phase: c.failed > 0 ? `${c.phase}, ${c.failed} failed` : c.phase };
        const bar = bars.get(c.region);
        if (!bar) bars.set(c.region, multibar.create(Math.max(c.expected, 1), c.synced, payload));
        else {
          bar.setTotal(Math.max(c.expected, 1));
          bar.update(c.synced, payload);
        }
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}
