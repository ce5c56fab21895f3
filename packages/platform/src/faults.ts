/**
 * Named fault points, for the chaos run only: a process armed with FLOTILLA_FAULTS kills itself
 * with SIGKILL when it reaches a named point, so a crash lands exactly where at-least-once delivery
 * and idempotent effects are hardest (work done, acknowledgement not yet written). Nothing but the
 * chaos and fault tests sets the variable; unarmed, `faultPoint` is one Map lookup.
 *
 * FLOTILLA_FAULTS is a comma-separated list of `<point>=<probability>` (0 < p <= 1), e.g.
 * `consumer.before-delete=0.02,stream.before-checkpoint=0.05`. Before dying the process writes one
 * line to stderr, `flotilla-fault <point> pid=<pid>`, which the chaos run counts.
 *
 * Two more settings pace the kills by time rather than by traffic, so a run at any rate gets a
 * few kills per service instead of one every few messages (the full chaos run at 5 builds/s to 5
 * regions, paced by probability alone, killed each service every 2 s and drained nothing):
 * FLOTILLA_FAULTS_AFTER_MS arms the points only once the process has run that long, and
 * FLOTILLA_FAULTS_STOP_FILE disarms them all once that file exists (the run creates it when its
 * load stops, so the builds are awaited without kills).
 */
import { existsSync, writeSync } from 'node:fs';
import { z } from 'zod';

export const FAULT_POINTS = [
  /** An SQS handler succeeded; the message is not deleted yet (it will be received again). */
  'consumer.before-delete',
  /** A stream batch was handled (events appended, effects made); its checkpoint is not written yet. */
  'stream.before-checkpoint',
  /** StartExecution answered; the relay has not checkpointed the build.started that asked for it. */
  'execution.after-start',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export const faultsSchema = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const armed = new Map<FaultPoint, number>();
    for (const entry of (text ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
      const [point, probability] = entry.split('=');
      const p = Number(probability);
      if (!(FAULT_POINTS as readonly string[]).includes(point ?? '') || !(p > 0 && p <= 1)) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not <point>=<probability in (0,1]>; points: ${FAULT_POINTS.join(', ')}` });
        return z.NEVER;
      }
      armed.set(point as FaultPoint, p);
    }
    return armed;
  })
  .describe('Test only: fault points at which the process kills itself with SIGKILL (<point>=<probability>,...)');

export interface FaultWindow {
  /** The points fire only once the process has run this long (FLOTILLA_FAULTS_AFTER_MS). */
  afterMs?: number | undefined;
  /** The points never fire again once this file exists (FLOTILLA_FAULTS_STOP_FILE). */
  stopFile?: string | undefined;
}

let armed: ReadonlyMap<FaultPoint, number> = new Map();
let window: { from: number; stopFile: string | undefined; stopped: boolean } = { from: 0, stopFile: undefined, stopped: false };

/** Arms the fault points parsed from FLOTILLA_FAULTS (startService does this once, at start). */
export function armFaults(points: ReadonlyMap<FaultPoint, number>, options: FaultWindow = {}): void {
  armed = points;
  window = { from: performance.timeOrigin + (options.afterMs ?? 0), stopFile: options.stopFile, stopped: false };
}

/** Kills this process with SIGKILL, with the probability armed for `point`; otherwise returns. */
export function faultPoint(point: FaultPoint, random = Math.random): void {
  const p = armed.get(point);
  if (p === undefined || window.stopped || Date.now() < window.from) return;
  if (window.stopFile !== undefined && existsSync(window.stopFile)) {
    window.stopped = true;
    return;
  }
  if (random() >= p) return;
  // Synchronous write: the line must be out before the signal, which no handler can delay.
  writeSync(2, `flotilla-fault ${point} pid=${process.pid}\n`);
  process.kill(process.pid, 'SIGKILL');
}
