/**
 * The load generator: vegeta (MIT), an open-model, constant-arrival-rate HTTP attacker. Requests
 * start on schedule whether or not earlier ones have answered, which is what a crash or an outage
 * must not slow down; k6's constant-arrival-rate executor does the same, and is not used here
 * because it is AGPL (load-tests/README.md).
 *
 * One attack is one `vegeta attack` process whose targets come from this process on stdin (-lazy:
 * one line read per request), so a target can name something the run learnt a moment ago (a build
 * another attack just created); its per-request results stream through `vegeta encode --to json`
 * back to this process as they arrive, each with its own send timestamp and latency (the same
 * record k6's `--out json` gives).
 *
 * Only loopback targets, unless the caller says otherwise (a runner on real AWS): vegeta stops by
 * itself after the attack's duration, and every request has a timeout.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ROOT } from '../scripts/fleet.ts';

const exec = promisify(execFile);

/** The vegeta binary: FLOTILLA_VEGETA when the test command already resolved it, else scripts/vegeta.sh builds or finds it. */
export async function vegetaBinary(fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  const { stdout } = await exec('bash', [join(ROOT, 'scripts/vegeta.sh')], { cwd: ROOT, timeout: 300_000 });
  return stdout.trim();
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export const isLoopbackUrl = (url: string | URL): boolean => LOOPBACK_HOSTS.has(new URL(url).hostname);

/** Refuses a target off this machine: local load never leaves loopback. */
export function assertLoopback(url: string | URL): void {
  if (!isLoopbackUrl(url)) throw new Error(`load: ${new URL(url).host} is not loopback; local load tests only target this machine`);
}

/** One request, as vegeta's JSON target format has it. */
export interface VegetaTarget {
  method: 'GET' | 'POST';
  url: string;
  header: Record<string, string[]>;
  /** Base64. */
  body?: string;
}

/** One line of `vegeta encode --to json`: when the request was sent, how long it took, what came back. */
export const vegetaResultSchema = z.object({
  code: z.number().int(),
  /** RFC 3339 with nanoseconds: when vegeta started the request. */
  timestamp: z.string(),
  /** Nanoseconds. */
  latency: z.number(),
  error: z.string().nullish(),
  /** Base64 of the response body. */
  body: z.string().nullish(),
});
export type VegetaResult = z.infer<typeof vegetaResultSchema>;

/**
 * vegeta's -rate takes an integer count per period: a whole rate per second as is, a fraction as
 * thousandths per 1000 s (0.5/s is 500/1000s, one request every 2 s).
 */
export function vegetaRate(perSecond: number): string {
  if (!(perSecond > 0)) throw new RangeError(`rate must be above 0, not ${perSecond}`);
  return Number.isInteger(perSecond) ? `${perSecond}/1s` : `${Math.max(1, Math.round(perSecond * 1_000))}/1000s`;
}

/** The requests an attack of `rate`/s for `durationS` s schedules: what "sent" is measured against. */
export const scheduledRequests = (rate: number, durationS: number): number => Math.round(rate * durationS);

/**
 * How long after its start an attack sends its first request, in ms: vegeta's constant pacer sends
 * request k (from 0) at (k + 1) intervals, never at 0, so an attack meant to begin at an instant is
 * started one interval before it.
 */
export const firstRequestDelayMs = (rate: number): number => 1_000 / rate;

export interface AttackOptions {
  vegeta: string;
  rate: number;
  durationS: number;
  /** Per-request timeout (vegeta's -timeout). */
  timeoutS: number;
  /** Requests in flight at once at most (vegeta's -max-workers): past it the schedule falls behind, and what is still unsent at the end is dropped. */
  maxWorkers: number;
  /** The i-th request's target, asked for shortly before it is due (see `leadS`). */
  target: (index: number) => VegetaTarget;
  /**
   * How far ahead of its schedule a target is written (seconds); undefined: all of them at once, as
   * fast as vegeta reads. A short lead keeps targets fresh; it must exceed this process's event-loop
   * stalls, since a request whose target is late starts late (and its latency counts the wait).
   */
  leadS?: number | undefined;
  onResult: (result: VegetaResult) => void;
  /** Aborting stops the attack (SIGINT: vegeta stops sending and writes what it has); attack() then resolves with `aborted`. */
  signal?: AbortSignal | undefined;
  /** Told of each process (the attack and its encoder), so an interrupted caller can stop them too. */
  onSpawn?: ((child: ChildProcess) => void) | undefined;
}

export interface AttackOutcome {
  scheduled: number;
  /** Results vegeta recorded: one per request it started. */
  sent: number;
  /** Date.now() just before the attack process was spawned, and once its last result was read. */
  spawnedAt: number;
  endedAt: number;
  aborted: boolean;
}

/** Spare targets beyond the schedule, so vegeta never reads the end of its targets (which it records as a failed request) at the last tick. */
const SPARE_TARGETS = 2;

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return once(child, 'exit').then(([code]) => code as number | null);
}

/** Runs one attack now; resolves once vegeta has exited and every result has been handed to `onResult`. */
export async function attack(options: AttackOptions): Promise<AttackOutcome> {
  const scheduled = scheduledRequests(options.rate, options.durationS);
  const total = scheduled + SPARE_TARGETS;
  const spawnedAt = Date.now();
  const attacker = spawn(
    options.vegeta,
    [
      'attack',
      '-lazy',
      '-format=json',
      `-rate=${vegetaRate(options.rate)}`,
      `-duration=${options.durationS}s`,
      `-timeout=${options.timeoutS}s`,
      `-max-workers=${options.maxWorkers}`,
      `-workers=${Math.min(10, options.maxWorkers)}`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const encoder = spawn(options.vegeta, ['encode', '--to', 'json'], { stdio: ['pipe', 'pipe', 'pipe'] });
  options.onSpawn?.(attacker);
  options.onSpawn?.(encoder);
  let stderr = '';
  for (const child of [attacker, encoder]) child.stderr?.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-2_000)));
  // vegeta may exit (its duration over, or stopped) while targets are still being written.
  attacker.stdin.on('error', () => undefined);
  encoder.stdin.on('error', () => undefined);
  attacker.stdout.pipe(encoder.stdin);

  let aborted = false;
  const stop = () => {
    aborted = true;
    attacker.kill('SIGINT');
  };
  if (options.signal?.aborted) stop();
  else options.signal?.addEventListener('abort', stop, { once: true });

  const attackerExit = exitOf(attacker);
  const encoderExit = exitOf(encoder);
  let exited = false;
  void attackerExit.then(() => (exited = true));

  const writeTargets = async () => {
    for (let i = 0; i < total && !exited && !aborted; i++) {
      if (options.leadS !== undefined) {
        const dueInMs = (i + 1) * firstRequestDelayMs(options.rate) - options.leadS * 1_000 - (Date.now() - spawnedAt);
        if (dueInMs > 0) await Promise.race([new Promise((resolve) => setTimeout(resolve, dueInMs)), attackerExit]);
        if (exited || aborted) break;
      }
      if (!attacker.stdin.write(`${JSON.stringify(options.target(i))}\n`)) await Promise.race([once(attacker.stdin, 'drain'), attackerExit]);
    }
    attacker.stdin.end();
  };

  let sent = 0;
  let badLine: Error | undefined;
  const reading = (async () => {
    for await (const line of createInterface({ input: encoder.stdout })) {
      if (!line) continue;
      const parsed = vegetaResultSchema.safeParse(JSON.parse(line));
      if (!parsed.success) {
        badLine ??= new Error(`vegeta encode wrote a result this reader does not know: ${z.prettifyError(parsed.error)}`);
        continue;
      }
      sent++;
      options.onResult(parsed.data);
    }
  })();

  try {
    const [, attackerCode, encoderCode] = await Promise.all([writeTargets(), attackerExit, encoderExit, reading]);
    if (attackerCode !== 0 && !aborted) throw new Error(`vegeta attack exited ${attackerCode}: ${stderr.trim()}`);
    if (encoderCode !== 0 && !aborted) throw new Error(`vegeta encode exited ${encoderCode}: ${stderr.trim()}`);
    if (badLine) throw badLine;
    return { scheduled, sent, spawnedAt, endedAt: Date.now(), aborted };
  } finally {
    options.signal?.removeEventListener('abort', stop);
    for (const child of [attacker, encoder]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
