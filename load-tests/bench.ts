/**
 * `pnpm bench`: the hot paths against baselines measured in the same run on the same emulator
 * (issue 9 item 5), and end-to-end build times.
 *
 * A stack of its own (uniquePrefix), deleted at the end with the tables and queues the run made.
 * The builds run first, with the fleet: the comparisons write host records that the fleet's
 * host-counter reader would otherwise replay from the stream. Then each comparison
 * (bench-cases.ts) alternates our code and its baseline over a warm-up and several rounds, and
 * reports the medians and their ratio against its target; a missed target comes with why, from
 * the per-call timings of both sides. Progress goes to stderr, the figures to stdout (`--json`:
 * the same figures as JSON). The micro benchmarks of pure code are `pnpm bench:unit`.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createAwsClients, locate, REGIONS } from '@flotilla/platform';
import { DEFAULT_TEST_REGIONS, deployTestStack, uniquePrefix } from '@flotilla/platform/testing';
import { parseBuildSpecs, runBuilds, type BuildRow, type BuildSpec } from './bench-builds.ts';
import { consumerPipeline, eventLog, hostWrites, type CaseContext, type ComparisonId, type ComparisonRow } from './bench-cases.ts';
import { CallTimer, timedClients } from './bench-measure.ts';

export interface BenchOptions {
  endpoint: string;
  rounds: number;
  hostItems: number;
  writeConcurrency: number;
  messages: number;
  batchSize: number;
  consumerConcurrency: number;
  appends: number;
  groups: number;
  groupSize: number;
  appendConcurrency: number;
  replayEvents: number;
  builds: BuildSpec[];
  /** The parts to run (default all): a re-run of one part need not wait for the others. */
  only: readonly BenchPart[];
  progress: (line: string) => void;
}

export const BENCH_PARTS = ['builds', 'host-writes', 'consumer', 'event-log'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

export interface BenchReport {
  startedAt: string;
  endpoint: string;
  emulator: string;
  cores: number;
  /** 1-minute load average at the start and the end: how shared the machine was. */
  load: { start: number; end: number };
  rounds: number;
  prefix: string;
  comparisons: ComparisonRow[];
  /** Comparisons that could not be measured, with the error. */
  errors: Array<{ id: ComparisonId; error: string }>;
  builds: BuildRow[];
  seconds: number;
}

async function emulatorVersion(endpoint: string): Promise<string> {
  try {
    const res = await fetch(`${endpoint}/_ministack/health`, { signal: AbortSignal.timeout(3_000) });
    const body = (await res.json()) as { version?: string };
    return body.version ? `MiniStack ${body.version}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const say = options.progress;
  const admin = createAwsClients({ region: 'us-east-1', endpoint: options.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const prefix = uniquePrefix('bench');
  // The stack carries the regions the largest build names (at least a test stack's five, which the
  // comparisons are sized for): with five, the 10-region builds answered 400.
  const regionCount = Math.min(REGIONS.length, Math.max(DEFAULT_TEST_REGIONS.length, ...(options.only.includes('builds') ? options.builds.map((b) => b.regions) : [])));
  say(`deploying the stack ${prefix} (${regionCount} regions)`);
  const stack = await deployTestStack(admin, prefix, { regions: REGIONS.slice(0, regionCount) });
  const where = await locate(admin, prefix);
  const cleanup: CaseContext['cleanup'] = [];
  const comparisons: ComparisonRow[] = [];
  const errors: BenchReport['errors'] = [];
  const load = { start: loadavg()[0] ?? 0, end: 0 };
  let builds: BuildRow[] = [];
  try {
    const wanted = (part: BenchPart) => options.only.includes(part);
    if (wanted('builds')) builds = await runBuilds({ endpoint: options.endpoint, prefix, specs: options.builds, progress: say, available: stack.regions });

    const side = () => {
      const timer = new CallTimer();
      return { timer, clients: timedClients(options.endpoint, timer) };
    };
    // Each comparison gets clients and timers of its own: calls a failed comparison left in flight
    // are not counted against the next.
    const attempt = async (ids: ComparisonId[], work: (ctx: CaseContext) => Promise<ComparisonRow | ComparisonRow[]>) => {
      const ctx: CaseContext = { admin: admin.dynamodb, adminSqs: admin.sqs, names: where.names, ours: side(), baseline: side(), rounds: options.rounds, progress: say, cleanup };
      try {
        const out = await work(ctx);
        comparisons.push(...(Array.isArray(out) ? out : [out]));
      } catch (error) {
        say(`${ids.join(', ')} failed: ${(error as Error).stack ?? String(error)}`);
        for (const id of ids) errors.push({ id, error: (error as Error).message });
      } finally {
        ctx.ours.clients.destroy();
        ctx.baseline.clients.destroy();
      }
    };
    if (wanted('host-writes')) await attempt(['host-writes'], (ctx) => hostWrites(ctx, { items: options.hostItems, concurrency: options.writeConcurrency }));
    if (wanted('consumer')) await attempt(['consumer'], (ctx) => consumerPipeline(ctx, { messages: options.messages, batchSize: options.batchSize, concurrency: options.consumerConcurrency }));
    if (wanted('event-log')) await attempt(['append-single', 'append-group', 'replay'], (ctx) =>
      eventLog(ctx, {
        appends: options.appends,
        groups: options.groups,
        groupSize: options.groupSize,
        concurrency: options.appendConcurrency,
        replayEvents: options.replayEvents,
        replayConcurrency: 16,
      }),
    );
  } finally {
    say(`deleting the stack ${prefix} and what the run made`);
    for (const step of cleanup.reverse()) await step().catch((error: unknown) => say(`cleanup: ${(error as Error).message}`));
    await stack.destroy().catch((error: unknown) => say(`deleting the stack: ${(error as Error).message}`));
    admin.destroy();
  }
  load.end = loadavg()[0] ?? 0;
  return {
    startedAt,
    endpoint: options.endpoint,
    emulator: await emulatorVersion(options.endpoint),
    cores: availableParallelism(),
    load,
    rounds: options.rounds,
    prefix,
    comparisons,
    errors,
    builds,
    seconds: (performance.now() - started) / 1000,
  };
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2));

/** The figures as text: one row per comparison (ours, baseline, ratio, target), then the builds. */
export function formatReport(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(
    `Flotilla benchmark ${report.startedAt}: ${report.emulator} at ${report.endpoint}, ${report.cores} cores (load ${report.load.start.toFixed(1)} at start, ${report.load.end.toFixed(1)} at end)`,
    `each comparison: 1 warm-up round, then ${report.rounds} rounds alternating which side goes first; medians, ratio = ours / baseline`,
    '',
  );
  const table = [['hot path', 'ours', 'baseline', '', 'ratio', 'target']];
  for (const c of report.comparisons) {
    table.push([c.what, `${fmt(c.ours)} ${c.unit}`, `${fmt(c.baseline)} ${c.unit}`, c.baselineName, `${c.ratio.toFixed(2)}×`, `≥ ${c.target.toFixed(1)} ${c.met ? 'met' : 'MISSED'}`]);
  }
  for (const e of report.errors) table.push([e.id, 'error', '', e.error.slice(0, 120), '', '']);
  lines.push(...columns(table));
  const missed = report.comparisons.filter((c) => !c.met);
  if (missed.length > 0) {
    lines.push('', 'why the missed targets are missed (SDK calls per unit × mean latency, measured rounds):');
    for (const c of missed) lines.push(`  ${c.what}:`, ...c.why.map((w) => `    ${w}`));
  }
  lines.push('', 'how each is measured:', ...report.comparisons.flatMap((c) => c.notes.map((n) => `  ${c.id}: ${n}`)));
  if (report.builds.length > 0) {
    lines.push('', 'end-to-end builds (POST /builds to SUCCESS in the build view, whole fleet on this machine):');
    const builds = [['regions × hosts', 'status', 'seconds', 'host records/s', 'peak RSS MB', 'note']];
    for (const b of report.builds) {
      const rss = b.peakRssMb ? Object.entries(b.peakRssMb).map(([k, v]) => `${k} ${v}`).join(', ') : '';
      builds.push([b.asked, b.status, b.seconds === undefined ? '—' : b.seconds.toFixed(1), b.hostsPerSecond === undefined ? '—' : fmt(b.hostsPerSecond), rss, b.reason ?? '']);
    }
    lines.push(...columns(builds));
  }
  lines.push('', `run took ${report.seconds.toFixed(0)} s on the stack ${report.prefix} (deleted)`);
  return lines.join('\n');
}

function columns(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

const USAGE = `pnpm bench [options]
Measures Flotilla's hot paths against baselines run in the same process on the same emulator
(AWS_ENDPOINT_URL, default http://127.0.0.1:4566), on a stack of its own that it deletes, and
end-to-end build times. Progress on stderr, figures on stdout.

  --rounds 3                  measured rounds per comparison (after 1 warm-up), alternating sides
  --host-items 20000          host records per round (batchPut against raw BatchWriteItem)
  --write-concurrency 8       BatchWriteItem requests in flight, both sides
  --messages 5000             messages per round (consume() against bare sqs-consumer)
  --batch-size 10             messages per receive, both sides
  --consumer-concurrency 4    pollers, both sides
  --appends 2000              single-event appends per round (ours against castore)
  --groups 400                group appends per round
  --group-size 5              events per group append
  --append-concurrency 8      appends in flight, both sides
  --replay-events 10000       events both stores hold for the replay read
  --builds 1x1000,3x1000,10x1000,10x100000
                              end-to-end builds, <regions>x<hosts per region>; sizes that need
                              more regions than deploy/regions.json names are reported as not run
                              ("" runs none)
  --only builds,host-writes,consumer,event-log
                              the parts to run (default all; event-log is both appends and replay)
  --json                      the figures as JSON
  -h, --help                  this text

The micro benchmarks of pure code (parsing, folds, the spread): pnpm bench:unit`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      'host-items': { type: 'string', default: '20000' },
      'write-concurrency': { type: 'string', default: '8' },
      messages: { type: 'string', default: '5000' },
      'batch-size': { type: 'string', default: '10' },
      'consumer-concurrency': { type: 'string', default: '4' },
      appends: { type: 'string', default: '2000' },
      groups: { type: 'string', default: '400' },
      'group-size': { type: 'string', default: '5' },
      'append-concurrency': { type: 'string', default: '8' },
      'replay-events': { type: 'string', default: '10000' },
      builds: { type: 'string', default: '1x1000,3x1000,10x1000,10x100000' },
      only: { type: 'string', default: BENCH_PARTS.join(',') },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const count = (name: keyof typeof values, max = Number.MAX_SAFE_INTEGER) => {
    const text = String(values[name]);
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be a whole number from 1 to ${max}, not ${text}`);
    return n;
  };
  const report = await runBench({
    endpoint: process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566',
    rounds: count('rounds'),
    hostItems: count('host-items'),
    writeConcurrency: count('write-concurrency', 64),
    messages: count('messages'),
    batchSize: count('batch-size', 10),
    consumerConcurrency: count('consumer-concurrency', 64),
    appends: count('appends'),
    groups: count('groups'),
    // One slot of the 100-item transaction stays free, as in EventStore.append.
    groupSize: count('group-size', 99),
    appendConcurrency: count('append-concurrency', 64),
    replayEvents: count('replay-events'),
    builds: parseBuildSpecs(values.builds),
    only: values.only.split(',').map((part) => {
      const known = BENCH_PARTS.find((p) => p === part.trim());
      if (!known) throw new Error(`--only: "${part}" is not one of ${BENCH_PARTS.join(', ')}`);
      return known;
    }),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.errors.length > 0 || report.builds.some((b) => b.status === 'error')) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
