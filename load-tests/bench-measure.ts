/**
 * Measuring for `pnpm bench` (bench.ts): per-call timings of SDK clients, and rounds that alternate
 * our code and its baseline so that both see the same emulator and the same neighbours.
 *
 * The machine has two cores shared with other work, so one run of each side says little: every
 * comparison runs a warm-up round (discarded: connection pools, JIT, the emulator's first table
 * touches), then several measured rounds whose order alternates (ours first, then baseline first),
 * and reports the median of each side. The ratio is of medians.
 */
import { createAwsClients, type AwsClients, type WithMiddleware } from '@flotilla/platform';

/** Latencies of one kind of SDK call, in milliseconds. */
export interface CallStats {
  calls: number;
  errors: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
};

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/**
 * Every call made through the clients it wraps, by command, with its latency (retries included:
 * measured at the initialize step). `recording` is switched off during warm-ups and fills, so the
 * stats describe measured rounds only. `onCall` hears of each completed call, with its output (the
 * consumer comparison counts the messages deleted with it).
 */
export class CallTimer {
  readonly #latencies = new Map<string, number[]>();
  readonly #errors = new Map<string, number>();
  recording = false;
  onCall: ((command: string, ok: boolean, output: unknown) => void) | undefined;

  /** Adds the timing middleware to an SDK client. */
  attach<T>(client: T): T {
    (client as unknown as WithMiddleware).middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const started = performance.now();
        let ok = false;
        let output: unknown;
        try {
          const result = await next(args);
          ok = true;
          output = result.output;
          return result;
        } finally {
          if (this.recording) {
            const list = this.#latencies.get(command) ?? [];
            list.push(performance.now() - started);
            this.#latencies.set(command, list);
            if (!ok) this.#errors.set(command, (this.#errors.get(command) ?? 0) + 1);
          }
          this.onCall?.(command, ok, output);
        }
      },
      { step: 'initialize', name: 'flotillaBenchCallTimer' },
    );
    return client;
  }

  /** Forgets what was recorded: each comparison reports its own calls. */
  reset(): void {
    this.#latencies.clear();
    this.#errors.clear();
  }

  stats(): Record<string, CallStats> {
    const out: Record<string, CallStats> = {};
    for (const [command, list] of [...this.#latencies].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = [...list].sort((a, b) => a - b);
      out[command] = {
        calls: list.length,
        errors: this.#errors.get(command) ?? 0,
        meanMs: list.reduce((a, b) => a + b, 0) / Math.max(1, list.length),
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
      };
    }
    return out;
  }
}

/** Clients of their own for one side of a comparison (own sockets), timed by `timer`. */
export function timedClients(endpoint: string, timer: CallTimer): AwsClients {
  // Longer than a service's timeouts: on a saturated shared machine the emulator has answered a
  // BatchWriteItem after more than 10 s, and a comparison should measure that, not fail on it.
  const clients = createAwsClients({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, timeouts: { connectMs: 5_000, requestMs: 60_000 } });
  timer.attach(clients.dynamodb);
  timer.attach(clients.sqs);
  return clients;
}

export interface Side {
  timer: CallTimer;
  clients: AwsClients;
}

/** What one round of one side did: how many units in how many seconds. */
export interface RoundResult {
  units: number;
  seconds: number;
}

export interface AlternatedResult {
  /** Units per second of each measured round, in the order run. */
  ours: number[];
  baseline: number[];
  oursMedian: number;
  baselineMedian: number;
  /** Wall time of the measured rounds, per side: with the summed call time, the calls in flight. */
  seconds: { ours: number; baseline: number };
  /** This process's CPU time (user + system) during the measured rounds, per side, ms. */
  cpuMs: { ours: number; baseline: number };
}

/**
 * Runs `prepare` (untimed, e.g. filling a queue) and then the timed `run` of each side, a warm-up
 * round and then `rounds` measured rounds, the first side alternating round by round.
 */
export async function alternate(options: {
  rounds: number;
  ours: Side;
  baseline: Side;
  runOurs: (round: number) => Promise<RoundResult>;
  runBaseline: (round: number) => Promise<RoundResult>;
  /** Untimed work before a side's round (round 0 is the warm-up). */
  prepare?: (side: 'ours' | 'baseline', round: number) => Promise<void>;
  progress: (line: string) => void;
}): Promise<AlternatedResult> {
  const ours: number[] = [];
  const baseline: number[] = [];
  const seconds = { ours: 0, baseline: 0 };
  const cpuMs = { ours: 0, baseline: 0 };
  options.ours.timer.reset();
  options.baseline.timer.reset();
  for (let round = 0; round <= options.rounds; round++) {
    const order: Array<'ours' | 'baseline'> = round % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
    for (const which of order) {
      const side = which === 'ours' ? options.ours : options.baseline;
      await options.prepare?.(which, round);
      side.timer.recording = round > 0;
      const cpuBefore = process.cpuUsage();
      const result = await (which === 'ours' ? options.runOurs(round) : options.runBaseline(round));
      const cpu = process.cpuUsage(cpuBefore);
      side.timer.recording = false;
      const rate = result.seconds > 0 ? result.units / result.seconds : 0;
      if (round > 0) {
        (which === 'ours' ? ours : baseline).push(rate);
        seconds[which] += result.seconds;
        cpuMs[which] += (cpu.user + cpu.system) / 1000;
      }
      options.progress(`  ${round === 0 ? 'warm-up' : `round ${round}/${options.rounds}`} ${which}: ${result.units} in ${result.seconds.toFixed(2)} s (${rate.toFixed(0)}/s)`);
    }
  }
  return { ours, baseline, oursMedian: median(ours), baselineMedian: median(baseline), seconds, cpuMs };
}

/** Seconds that `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}
