/**
 * What every `watch` command does: read, show, and read again every interval until the thing is
 * done. Ctrl-C stops watching (not the thing watched): `onStop` says where it was, and the command
 * exits 130.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitError } from './errors.ts';
import { note } from './output.ts';

export interface PollOptions<T> {
  read: (signal?: AbortSignal) => Promise<T>;
  done: (value: T) => boolean;
  intervalMs: number;
  /** Told every value read, the first included. */
  onValue: (value: T) => void;
  /** Told the last value read when Ctrl-C stopped the watching. */
  onStop: (last: T) => void;
}

export async function pollUntil<T>(options: PollOptions<T>): Promise<T> {
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);
  try {
    let value = await options.read();
    options.onValue(value);
    while (!options.done(value)) {
      try {
        await sleep(options.intervalMs, undefined, { signal: interrupted.signal });
        value = await options.read(interrupted.signal);
      } catch (error) {
        if (!interrupted.signal.aborted) throw error;
        options.onStop(value);
        throw new ExitError(130);
      }
      options.onValue(value);
    }
    return value;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** An onValue that notes `line(value)` on stderr each time the line changes; silent when `quiet` (--json). */
export function noteChanges<T>(line: (value: T) => string, quiet: boolean): (value: T) => void {
  let last = '';
  return (value) => {
    const next = line(value);
    if (next !== last && !quiet) note(next);
    last = next;
  };
}
