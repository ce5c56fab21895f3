/**
 * The sustained-throughput run (issue 9, item 4): a stack of its own, the fleet as child processes
 * (scripts/fleet.ts), builds submitted at a constant rate (load.ts, vegeta), every build
 * awaited, then per-stage latencies read from the log itself.
 *
 * What it reports:
 *   - submitted (202s) against drained (terminal), the drained rate (terminal builds over the time
 *     from the first submission to the last terminal event) and the drain time (from the end of the
 *     submissions to the last terminal event): a pipeline that keeps up drains in about one
 *     build's latency, one that does not drains for (submitted / its rate) - duration;
 *   - per-stage latency, p50 and p99, from the events' own `occurredAt` (the writer's clock, one
 *     machine): requested -> started (the relay read build.requested and appended build.started),
 *     started -> execution started (the relay read build.started and called StartExecution; from
 *     the orchestrator's 'execution start' log line), execution -> artifact.published (Step
 *     Functions to the build queue, the build worker), artifact -> replicated (the last region),
 *     replicated -> synced (the last region), synced -> succeeded (deploy.finished to the
 *     orchestrator, which appends the end);
 *   - with --raw, the emulator's raw rate, measured in the same run after the drain, for the calls
 *     the relay makes per event (SNS Publish, a Query of the stream, a conditional PutItem), one
 *     at a time as the relay makes them, so the relay's rate can be set against its calls' cost.
 *
 * Terminal events are watched in the log itself (its global-order index, only the new part each
 * time): not the API, whose reads would compete with the pipeline it measures, nor the events
 * topic, which the relay (a measured stage) feeds.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BatchWriteItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { buildStream, idBoundAt, type BuildEvent } from '@flotilla/events';
import { createAwsClients, EventStore, locate, readBuildEvents, REGIONS } from '@flotilla/platform';
import { deployTestStack, uniquePrefix } from '@flotilla/platform/testing';
import { ROOT, startFleet, waitHealthy, type Fleet } from '../scripts/fleet.ts';
import { percentile } from './bench-measure.ts';
import { runScript, submitOnlyScript } from './load.ts';
import { vegetaBinary } from './vegeta.ts';

export interface ThroughputOptions {
  endpoint: string;
  /** Builds submitted per second, and for how long. */
  rate: number;
  durationS: number;
  regions: string[];
  hostsPerRegion: number;
  /** After the load, builds are awaited until this long passes with none ending. */
  settleMs: number;
  /** ...and no longer than this after the load in all: the drained rate is then of the builds drained so far. */
  maxWaitMs: number;
  /** Measure the emulator's raw rate for the relay's calls after the drain. */
  raw: boolean;
  /** Extra environment for every service (e.g. a concurrency setting to compare). */
  serviceEnv: Record<string, string>;
  vegeta?: string | undefined;
  progress: (line: string) => void;
}

export interface Percentiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ThroughputFigures {
  prefix: string;
  regions: number;
  hostsPerRegion: number;
  offeredRate: number;
  durationS: number;
  codes: Record<string, number>;
  submitted: number;
  drained: number;
  succeeded: number;
  /** Drained builds over the time from the first build.requested to the last terminal event. */
  drainedPerSecond: number;
  /** From the end of the submissions to the last terminal event. */
  drainSeconds: number;
  /** Host records the succeeded builds wrote, over the same span as the drained rate. */
  hostRecordsPerSecond: number;
  /** Seconds, per stage. */
  stages: Record<string, Percentiles>;
  /** Calls per second, one at a time, measured after the drain (with --raw). */
  raw: Record<string, number> | undefined;
  serviceEnv: Record<string, string>;
}

const TERMINAL_TYPES = new Set(['build.succeeded', 'build.failed']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : percentile(sorted, p));
  return { n: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? Number.NaN };
}

const time = (event: BuildEvent | undefined) => (event ? Date.parse(event.occurredAt) : undefined);
const lastOf = (events: BuildEvent[], type: string) => events.filter((e) => e.type === type).at(-1);

/**
 * A build's stage boundaries from its events (and when its execution was started, from the
 * orchestrator's log), in ms since the epoch; a stage whose ends are unknown is left out.
 */
export function stageDurations(events: BuildEvent[], executionStartedAt: number | undefined): Record<string, number> {
  const requested = time(lastOf(events, 'build.requested'));
  const started = time(lastOf(events, 'build.started'));
  const artifact = time(lastOf(events, 'artifact.published'));
  const replicated = time(lastOf(events, 'region.replicated'));
  const synced = time(lastOf(events, 'region.synced'));
  const ended = time(lastOf(events, 'build.succeeded') ?? lastOf(events, 'build.failed'));
  const out: Record<string, number> = {};
  const put = (name: string, from: number | undefined, to: number | undefined) => {
    if (from !== undefined && to !== undefined) out[name] = (to - from) / 1000;
  };
  put('requested -> started', requested, started);
  put('started -> execution', started, executionStartedAt);
  put('execution -> artifact', executionStartedAt, artifact);
  put('started -> artifact', started, artifact);
  put('artifact -> replicated', artifact, replicated);
  put('replicated -> synced', replicated, synced);
  put('synced -> ended', synced, ended);
  put('requested -> ended', requested, ended);
  return out;
}

/**
 * Reads the log's new events every 2 s (the global-order index, from 10 s before the last read, so
 * an event whose id sorts a little before one already seen is still found) and notes each build's
 * terminal event in `ended`, until `stop` is aborted. From the log, not the events topic: the
 * relay, which publishes to the topic, is one of the stages measured.
 */
async function watchTerminals(store: EventStore, since: number, ended: Map<string, number>, stop: AbortSignal): Promise<void> {
  let from = since;
  while (!stop.aborted) {
    const pollAt = Date.now();
    try {
      for await (const page of store.readAll({ since: new Date(from), afterId: idBoundAt(from, 'first') })) {
        for (const e of page) if (TERMINAL_TYPES.has(e.type) && e.stream.startsWith('build-') && !ended.has(e.stream.slice('build-'.length))) ended.set(e.stream.slice('build-'.length), Date.now());
      }
      from = pollAt - 10_000;
    } catch {
      // an emulator too busy to answer: read the same stretch again next time
    }
    await sleep(2_000);
  }
}

/** `fn` called one at a time for `ms`: calls per second. */
async function rawRate(ms: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const until = Date.now() + ms;
  const began = Date.now();
  let n = 0;
  while (Date.now() < until) await fn(n++);
  return n / ((Date.now() - began) / 1000);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

export async function runThroughput(options: ThroughputOptions): Promise<ThroughputFigures> {
  const say = options.progress;
  const aws = createAwsClients({ region: 'us-east-1', endpoint: options.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  say('throughput: deploying a stack');
  const stack = await deployTestStack(aws, uniquePrefix('thru'));
  const where = await locate(aws, stack.prefix);
  const store = new EventStore(aws.dynamodb, where.names.tables.events);
  const vegeta = await vegetaBinary(options.vegeta);
  const token = randomBytes(24).toString('base64url');
  const logs: string[] = [];
  /** build id -> when the orchestrator logged its StartExecution. */
  const executionAt = new Map<string, number>();
  let fleet: Fleet | undefined;
  const stopWatching = new AbortController();
  try {
    say(`throughput: starting the fleet (stack ${stack.prefix})`);
    fleet = await startFleet({
      prefix: stack.prefix,
      env: {
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
        AWS_ENDPOINT_URL: options.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        LOG_LEVEL: 'info',
        // The run measures the pipeline, not the per-client rate limit (one address sends all of it).
        API_RATE_LIMIT: String(Math.max(6_000, Math.ceil(options.rate * 60 * 2))),
        ...options.serviceEnv,
      },
      apiToken: token,
      ports: 'ephemeral',
      onLog: (service, line) => {
        logs.push(`${service} ${line}`);
        if (service !== 'orchestrator' || !line.includes('"execution start"')) return;
        try {
          const parsed = JSON.parse(line) as { time?: number; stream?: string };
          if (parsed.stream && parsed.time) {
            const id = parsed.stream.slice('build-'.length);
            if (!executionAt.has(id)) executionAt.set(id, parsed.time);
          }
        } catch {
          // not a structured line
        }
      },
    });
    await waitHealthy(fleet);
    const ended = new Map<string, number>();
    const watching = watchTerminals(store, Date.now(), ended, stopWatching.signal);

    say(`throughput: ${options.rate} builds/s for ${options.durationS} s, ${options.regions.length} regions x ${options.hostsPerRegion} hosts`);
    const loadStarted = Date.now();
    const progress = setInterval(() => say(`throughput: ${Math.round((Date.now() - loadStarted) / 1000)} s; ${ended.size} ended`), 5_000);
    let load;
    try {
      const run = await runScript(submitOnlyScript('throughput', options.rate, options.durationS, { regions: options.regions, hostsPerRegion: options.hostsPerRegion }), {
        target: fleet.url('build'),
        token,
        vegeta,
        repo: stack.prefix,
      });
      load = { requests: run.summary.requests, codes: run.summary.statuses, accepted: run.buildIds };
      const loadEnded = Date.now();
      say(`throughput: load done (${load.requests} requests, ${load.accepted.length} accepted, ${JSON.stringify(load.codes)}); awaiting every build`);
      let lastCount = -1;
      let lastProgress = Date.now();
      while (Date.now() - lastProgress < options.settleMs && Date.now() - loadEnded < options.maxWaitMs) {
        const done = load.accepted.filter((id) => ended.has(id)).length;
        if (done !== lastCount) {
          lastCount = done;
          lastProgress = Date.now();
        }
        if (done === load.accepted.length) break;
        await sleep(250);
      }
      stopWatching.abort();
      await watching;
      say(`throughput: ${lastCount} of ${load.accepted.length} ended; reading the log`);

      const histories = await mapLimit(load.accepted, 8, async (id) => ({ id, events: await readBuildEvents(store, buildStream(id)) }));
      const perStage: Record<string, number[]> = {};
      let firstRequested = Number.POSITIVE_INFINITY;
      let lastEnded = 0;
      let drained = 0;
      let succeeded = 0;
      for (const { id, events } of histories) {
        const req = time(lastOf(events, 'build.requested'));
        if (req !== undefined) firstRequested = Math.min(firstRequested, req);
        const end = lastOf(events, 'build.succeeded') ?? lastOf(events, 'build.failed');
        if (end) {
          drained++;
          if (end.type === 'build.succeeded') succeeded++;
          lastEnded = Math.max(lastEnded, Date.parse(end.occurredAt));
        }
        for (const [stage, seconds] of Object.entries(stageDurations(events, executionAt.get(id)))) (perStage[stage] ??= []).push(seconds);
      }

      let raw: Record<string, number> | undefined;
      if (options.raw) {
        say('throughput: measuring the emulator raw rate for the relay calls');
        const topicArn = where.topicArn(where.names.topics.events);
        const probeStream = `probe-${randomBytes(6).toString('hex')}`;
        const sample = histories[0]?.events[0];
        raw = {
          'sns publish': await rawRate(5_000, () => aws.sns.send(new PublishCommand({ TopicArn: topicArn, Message: JSON.stringify(sample ?? {}), MessageAttributes: { type: { DataType: 'String', StringValue: 'probe.raw' } } }))),
          'dynamodb query (a build stream)': await rawRate(5_000, () =>
            aws.dynamodb.send(new QueryCommand({ TableName: where.names.tables.events, KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'stream' }, ExpressionAttributeValues: { ':s': { S: buildStream(histories[0]?.id ?? 'x') } }, ConsistentRead: true })),
          ),
          'dynamodb conditional put': await rawRate(5_000, (i) =>
            aws.dynamodb.send(
              new PutItemCommand({ TableName: where.names.tables.checkpoints, Item: { pk: { S: probeStream }, sk: { S: String(i) } }, ConditionExpression: 'attribute_not_exists(pk)' }),
            ),
          ),
          // Host records' cost: 25-item batches, 8 in flight (region-sync's HOST_WRITE_CONCURRENCY),
          // in items/s, into a table without a stream reader (the host table's would count them).
          'dynamodb batch write, 8 x 25 items (items/s)': await (async () => {
            const until = Date.now() + 5_000;
            const began = Date.now();
            let items = 0;
            await Promise.all(
              Array.from({ length: 8 }, async (_, lane) => {
                for (let n = 0; Date.now() < until; n++) {
                  const batch = Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: { pk: { S: `${probeStream}-w${lane}` }, sk: { S: `${n}-${i}` }, status: { S: 'synced' } } } }));
                  await aws.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [where.names.tables.fileCopies]: batch } }));
                  items += 25;
                }
              }),
            );
            return items / ((Date.now() - began) / 1000);
          })(),
        };
      }
      return {
        prefix: stack.prefix,
        regions: options.regions.length,
        hostsPerRegion: options.hostsPerRegion,
        offeredRate: options.rate,
        durationS: options.durationS,
        codes: load.codes,
        submitted: load.accepted.length,
        drained,
        succeeded,
        drainedPerSecond: drained / Math.max(0.001, (lastEnded - firstRequested) / 1000),
        drainSeconds: Math.max(0, (lastEnded - loadEnded) / 1000),
        hostRecordsPerSecond: (succeeded * options.regions.length * options.hostsPerRegion) / Math.max(0.001, (lastEnded - firstRequested) / 1000),
        stages: Object.fromEntries(Object.entries(perStage).map(([stage, values]) => [stage, percentiles(values)])),
        raw,
        serviceEnv: options.serviceEnv,
      };
    } finally {
      clearInterval(progress);
    }
  } finally {
    stopWatching.abort();
    await fleet?.stop(5_000);
    mkdirSync(join(ROOT, '.reports'), { recursive: true });
    writeFileSync(join(ROOT, '.reports', `throughput-${stack.prefix}.log`), logs.join('\n'));
    await stack.destroy();
    aws.destroy();
  }
}

/** The figures, as `pnpm throughput` prints them. */
export function formatThroughput(f: ThroughputFigures): string {
  const s = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const lines = [
    `throughput run (stack ${f.prefix}): ${f.regions} region(s) x ${f.hostsPerRegion} hosts, offered ${f.offeredRate} builds/s for ${f.durationS} s${Object.keys(f.serviceEnv).length ? `, env ${JSON.stringify(f.serviceEnv)}` : ''}`,
    `  requests:        ${JSON.stringify(f.codes)}`,
    `  submitted:       ${f.submitted}`,
    `  drained:         ${f.drained} (SUCCESS ${f.succeeded})`,
    `  drained rate:    ${s(f.drainedPerSecond)} builds/s (first request to last end)`,
    `  drain time:      ${s(f.drainSeconds)} s after submissions stopped`,
    `  host records:    ${f.hostRecordsPerSecond.toFixed(0)}/s (of the succeeded builds, same span)`,
    `  stage latency (s)          p50      p99      max     n`,
    ...Object.entries(f.stages).map(([stage, p]) => `    ${stage.padEnd(24)} ${s(p.p50).padStart(7)}  ${s(p.p99).padStart(7)}  ${s(p.max).padStart(7)}  ${p.n}`),
  ];
  if (f.raw) lines.push('  emulator raw rate after the drain, one call at a time unless said (calls/s):', ...Object.entries(f.raw).map(([call, rate]) => `    ${call.padEnd(34)} ${rate.toFixed(0)}`));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '20' },
      duration: { type: 'string', default: '30' },
      hosts: { type: 'string', default: '10' },
      regions: { type: 'string', default: 'us-east-1' },
      settle: { type: 'string', default: '120' },
      'max-wait': { type: 'string', default: '1800' },
      raw: { type: 'boolean', default: false },
      env: { type: 'string', multiple: true, default: [] },
      'beside-env': { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`pnpm throughput [--rate 20] [--duration 30] [--regions us-east-1] [--hosts 10] [--settle 120] [--max-wait 1800] [--raw] [--env NAME=value ...] [--json]
Submits builds at a constant rate to a fleet on a stack of its own (emulator at AWS_ENDPOINT_URL,
default http://127.0.0.1:4566), awaits every build, prints submitted vs drained, the drained
rate, the drain time, and per-stage latency p50/p99 from the log's events.
--settle/--max-wait: builds are awaited until none ends for --settle s, or --max-wait s after the
  load; the drained rate is then of those drained so far (its figures say how many).
--regions: a comma list, or a number (the first N of ${REGIONS.join(',')}).
--raw: also the emulator's raw rate for the relay's calls, measured in the same run.
--env: a variable for every service (repeatable), to compare settings in like runs.
--beside-env: runs a second fleet on a second stack at the same time and rate, its services with
  these variables (repeatable; --beside-env '' for the defaults), and prints both and the ratio of
  their drained rates: a same-run comparison on a shared, noisy machine.`);
    return;
  }
  const num = (name: string, text: string) => {
    const n = Number(text);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, not ${text}`);
    return n;
  };
  const regions = /^\d+$/.test(values.regions) ? REGIONS.slice(0, Number(values.regions)) : values.regions.split(',').map((r) => r.trim()).filter(Boolean);
  const envOf = (pairs: string[]) =>
    Object.fromEntries(
      pairs.filter(Boolean).map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--env must be NAME=value, not ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    );
  const serviceEnv = envOf(values.env);
  const run = (env: Record<string, string>, label: string) => runThroughput({
    endpoint: process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566',
    rate: num('rate', values.rate),
    durationS: num('duration', values.duration),
    regions,
    hostsPerRegion: num('hosts', values.hosts),
    settleMs: num('settle', values.settle) * 1000,
    maxWaitMs: num('max-wait', values['max-wait']) * 1000,
    raw: values.raw,
    serviceEnv: env,
    vegeta: process.env.FLOTILLA_VEGETA,
    progress: (line) => process.stderr.write(`${label}${line}\n`),
  });
  const beside = values['beside-env'];
  const all = beside ? await Promise.all([run(serviceEnv, '[A] '), run(envOf(beside), '[B] ')]) : [await run(serviceEnv, '')];
  console.log(values.json ? JSON.stringify(all, null, 2) : all.map(formatThroughput).join('\n'));
  const [a, b] = all;
  if (a && b && !values.json) console.log(`drained rate A / B: ${(a.drainedPerSecond / b.drainedPerSecond).toFixed(2)} (same run, same emulator, same offered load)`);
  if (all.some((f) => f.drained < f.submitted)) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  });
}
