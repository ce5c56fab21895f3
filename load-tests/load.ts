/**
 * The load engine: runs a load script (packages/events, `loadScriptSchema`) against Flotilla's HTTP
 * API with vegeta (vegeta.ts), each scenario at its own constant arrival rate, all at once, and
 * measures it the way k6's thresholds do. `pnpm load` (run-load.ts), the end-to-end test, the
 * throughput and chaos runs, and the test-run runner agent (agent.ts) all run load through here.
 *
 * The scenarios, each an attack of its own:
 *   - submit: POST /builds of the script's build, each with its own Idempotency-Key (202 expected);
 *     the accepted ids are read from the answers as they arrive;
 *   - read: GET /builds/:id of builds that already exist (a few are submitted before the start);
 *   - follow: what `flotilla builds watch` does, GET /builds/:id of a build still in flight, once a
 *     second per watcher until it ends; here each request follows one of the builds the submit
 *     scenario accepted last (the seeded ones until it has), so the view is answered on the path an
 *     open build takes (the projection, then the log's head), not a finished one's.
 *
 * The figures (`LoadSummary`): requests sent, failed (no answer, or a status the scenario does not
 * expect), dropped (scheduled, rate x duration, and never sent: the attack had `maxWorkers`
 * requests in flight and fell behind for good), p95 latency over every request, and the first
 * request's send time from vegeta's own per-request record. The thresholds hold or not on those.
 *
 * With `startAt`, the first request of each scenario goes out at that instant: vegeta has no start
 * time of its own, and its pacer sends an attack's first request one interval (1/rate) after the
 * attack starts, so each attack is spawned exactly that long before startAt (a timer to just before,
 * then a short spin). What is left, the process's own start, is measured: `startLagMs`, the first
 * request's send time (vegeta's record) minus startAt. Without `startAt` the scenarios start together
 * as soon as the slowest one's interval allows.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { MAX_VUS_PER_CONTAINER, type LoadScript, type LoadSummary } from '@flotilla/events';
import { percentile } from './bench-measure.ts';
import { assertLoopback, attack, firstRequestDelayMs, scheduledRequests, type AttackOutcome, type VegetaResult, type VegetaTarget } from './vegeta.ts';

export type ScenarioName = keyof LoadScript['scenarios'];
export const SCENARIOS: readonly ScenarioName[] = ['submit', 'read', 'follow'];

/** The status each scenario expects; any other, or no answer (0), is a failed request. */
export const EXPECTED_STATUS: Record<ScenarioName, number> = { submit: 202, read: 200, follow: 200 };

/** Builds submitted before the start for read and follow to ask about (they are part of the run's builds). */
export const SEED_BUILDS = 3;
/** A follow request follows one of this many builds the submit scenario accepted last. */
const FOLLOWED_BUILDS = 10;
/** Follow targets are written this far ahead of their schedule (vegeta.ts, `leadS`). */
const FOLLOW_LEAD_S = 1;
/** The timer wakes this long before startAt; the rest is a spin, so the spawn is not late by a timer's slack. */
const SPIN_MS = 15;

export interface RunScriptOptions {
  /** The API's base URL. */
  target: string;
  token?: string | undefined;
  vegeta: string;
  /** When the first request must go out; undefined: now. */
  startAt?: Date | string | number | undefined;
  /** Aborting stops the attacks in flight; runScript then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** The repo every build names (default `load-<script name>`), so the run's builds can be listed apart. */
  repo?: string | undefined;
  /** Per-request timeout, seconds (default 10). */
  timeoutS?: number | undefined;
  /** Requests in flight at once per scenario at most, as k6's maxVUs (default MAX_VUS_PER_CONTAINER, the original's per container). */
  maxWorkers?: number | undefined;
  /** false only where the target is not on this machine by design (a runner on real AWS); default true. */
  loopbackOnly?: boolean | undefined;
  onSpawn?: ((child: ChildProcess) => void) | undefined;
}

export interface ScenarioFigures {
  rate: number;
  scheduled: number;
  sent: number;
  failed: number;
  p95Ms: number;
  statuses: Record<string, number>;
}

export interface ScriptRun {
  summary: LoadSummary;
  /** Every build the run created (the seeds first), in the order accepted. */
  buildIds: string[];
  scenarios: Partial<Record<ScenarioName, ScenarioFigures>>;
  /** When the first request was due (startAt, or the start chosen without it), and when the last request ended (send time + latency); epoch ms. */
  startAt: number;
  loadEndedAt: number;
  /** The first request's send time minus startAt, ms: what starting the processes cost. */
  startLagMs: number | null;
}

/** What one request came to, all a summary needs. */
export interface RequestRecord {
  sentAt: number;
  latencyMs: number;
  code: number;
}

export interface ScenarioRecords {
  rate: number;
  scheduled: number;
  requests: RequestRecord[];
}

const acceptedBody = z.object({ buildId: z.string().min(1) });

/** The build id a 202's body (base64, as vegeta records it) names; undefined for a body that names none. */
function acceptedId(base64Body: string): string | undefined {
  try {
    const body = acceptedBody.safeParse(JSON.parse(Buffer.from(base64Body, 'base64').toString('utf8')));
    return body.success ? body.data.buildId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The summary of a run from its per-request records (pure). p95 is nearest-rank over every request
 * of every scenario; failed rate is over every request sent; dropped is what each scenario's
 * schedule called for and never sent.
 */
export function summarize(thresholds: LoadScript['thresholds'], scenarios: Partial<Record<ScenarioName, ScenarioRecords>>): { summary: LoadSummary; scenarios: Partial<Record<ScenarioName, ScenarioFigures>> } {
  const all: RequestRecord[] = [];
  const figures: Partial<Record<ScenarioName, ScenarioFigures>> = {};
  let failed = 0;
  let dropped = 0;
  const statuses: Record<string, number> = {};
  for (const name of SCENARIOS) {
    const records = scenarios[name];
    if (!records) continue;
    const own: Record<string, number> = {};
    let ownFailed = 0;
    for (const r of records.requests) {
      own[r.code] = (own[r.code] ?? 0) + 1;
      statuses[r.code] = (statuses[r.code] ?? 0) + 1;
      if (r.code !== EXPECTED_STATUS[name]) ownFailed++;
    }
    failed += ownFailed;
    dropped += Math.max(0, records.scheduled - records.requests.length);
    all.push(...records.requests);
    figures[name] = {
      rate: records.rate,
      scheduled: records.scheduled,
      sent: records.requests.length,
      failed: ownFailed,
      p95Ms: percentile(records.requests.map((r) => r.latencyMs).sort((a, b) => a - b), 95),
      statuses: own,
    };
  }
  const requests = all.length;
  const failedRate = requests === 0 ? 0 : failed / requests;
  const p95Ms = percentile(all.map((r) => r.latencyMs).sort((a, b) => a - b), 95);
  const first = all.length === 0 ? null : all.reduce((min, r) => Math.min(min, r.sentAt), Number.POSITIVE_INFINITY);
  const results: LoadSummary['thresholds'] = [
    { name: 'p95Ms', limit: thresholds.p95Ms, actual: p95Ms, ok: p95Ms <= thresholds.p95Ms },
    { name: 'failedRate', limit: thresholds.failedRate, actual: failedRate, ok: failedRate <= thresholds.failedRate },
    { name: 'droppedIterations', limit: thresholds.droppedIterations, actual: dropped, ok: dropped <= thresholds.droppedIterations },
  ];
  return {
    summary: {
      requests,
      failed,
      failedRate,
      dropped,
      p95Ms,
      firstRequestAt: first === null ? null : new Date(first).toISOString(),
      statuses,
      thresholds: results,
      passed: results.every((t) => t.ok),
    },
    scenarios: figures,
  };
}

/** One vegeta result as a record: send time in epoch ms, latency in ms. */
export const recordOf = (result: VegetaResult): RequestRecord => ({ sentAt: Date.parse(result.timestamp), latencyMs: result.latency / 1e6, code: result.code });

/** Waits until `at` (epoch ms): a timer to SPIN_MS before, then a spin, so the caller runs within a millisecond of it. */
export async function waitUntil(at: number, signal?: AbortSignal): Promise<void> {
  const early = at - SPIN_MS - Date.now();
  if (early > 0) await sleep(early, undefined, { signal });
  signal?.throwIfAborted();
  while (Date.now() < at) {
    // setImmediate, not a bare loop: signals and I/O still get their turn during the spin.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A build request of the script's build, as the submit scenario and the seeds send it. */
function buildRequest(script: LoadScript, repo: string, version: string): string {
  return JSON.stringify({ repo, env: 'prod', version, branch: 'main', commit: 'abc1234', regions: script.build.regions, hostsPerRegion: script.build.hostsPerRegion });
}

const timeOf = (at: Date | string | number): number => (at instanceof Date ? at.getTime() : typeof at === 'number' ? at : Date.parse(at));

/** Runs `script` against `options.target` (see the file's comment); rejects if aborted, or if vegeta or the seeding fails. */
export async function runScript(script: LoadScript, options: RunScriptOptions): Promise<ScriptRun> {
  const base = new URL(options.target);
  if (options.loopbackOnly !== false) assertLoopback(base);
  const url = (path: string) => new URL(path, base).href;
  const runKey = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const repo = options.repo ?? `load-${script.name}`.slice(0, 40);
  const auth: Record<string, string[]> = options.token ? { Authorization: [`Bearer ${options.token}`] } : {};
  const submitTarget = (key: string): VegetaTarget => ({
    method: 'POST',
    url: url('/builds'),
    header: { 'Content-Type': ['application/json'], 'Idempotency-Key': [key], ...auth },
    body: Buffer.from(buildRequest(script, repo, `1.0.${key}`)).toString('base64'),
  });
  const viewTarget = (buildId: string): VegetaTarget => ({ method: 'GET', url: url(`/builds/${buildId}`), header: auth });

  const seeds: string[] = [];
  if (script.scenarios.read > 0 || script.scenarios.follow > 0) {
    for (let i = 0; i < SEED_BUILDS; i++) {
      const seed = submitTarget(`${runKey}-seed-${i}`);
      const res = await fetch(seed.url, {
        method: 'POST',
        headers: Object.fromEntries(Object.entries(seed.header).map(([k, v]) => [k, v.join(',')])),
        body: Buffer.from(seed.body ?? '', 'base64'),
        signal: AbortSignal.any([AbortSignal.timeout((options.timeoutS ?? 10) * 1_000), ...(options.signal ? [options.signal] : [])]),
      });
      if (res.status !== 202) throw new Error(`load: seeding a build for the read and follow scenarios answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      seeds.push(acceptedBody.parse(await res.json()).buildId);
    }
  }

  const accepted: string[] = [];
  const recent = () => (accepted.length > 0 ? accepted.slice(-FOLLOWED_BUILDS) : seeds);
  const targets: Record<ScenarioName, { target: (i: number) => VegetaTarget; leadS?: number; onAccepted?: (id: string) => void }> = {
    submit: { target: (i) => submitTarget(`${runKey}-${i}`), onAccepted: (id) => accepted.push(id) },
    read: { target: (i) => viewTarget(seeds[i % seeds.length] ?? '') },
    follow: {
      target: (i) => {
        const followed = recent();
        return viewTarget(followed[i % followed.length] ?? '');
      },
      leadS: FOLLOW_LEAD_S,
    },
  };

  const active = SCENARIOS.filter((name) => script.scenarios[name] > 0);
  const startAt = options.startAt === undefined ? Date.now() + Math.max(...active.map((name) => firstRequestDelayMs(script.scenarios[name]))) : timeOf(options.startAt);
  options.signal?.throwIfAborted();

  const records: Partial<Record<ScenarioName, ScenarioRecords>> = {};
  const stopAll = new AbortController();
  const onAbort = () => stopAll.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  /** A scenario's attack, started one pacer interval before startAt so that its first request goes out at startAt. */
  const launch = async (name: ScenarioName): Promise<AttackOutcome> => {
    const rate = script.scenarios[name];
    const own: ScenarioRecords = { rate, scheduled: scheduledRequests(rate, script.durationSeconds), requests: [] };
    records[name] = own;
    const { target, leadS, onAccepted } = targets[name];
    await waitUntil(startAt - firstRequestDelayMs(rate), stopAll.signal);
    return attack({
      vegeta: options.vegeta,
      rate,
      durationS: script.durationSeconds,
      timeoutS: options.timeoutS ?? 10,
      maxWorkers: options.maxWorkers ?? MAX_VUS_PER_CONTAINER,
      target,
      leadS,
      signal: stopAll.signal,
      onSpawn: options.onSpawn,
      onResult: (result) => {
        own.requests.push(recordOf(result));
        if (onAccepted && result.code === 202 && result.body) {
          const id = acceptedId(result.body);
          if (id !== undefined) onAccepted(id);
        }
      },
    });
  };
  const running = active.map(launch);
  let outcomes: AttackOutcome[];
  try {
    // One attack failing stops the others: a run with a missing scenario would be measured wrong.
    outcomes = await Promise.all(
      running.map((p) =>
        p.catch((error: unknown) => {
          stopAll.abort(error);
          throw error;
        }),
      ),
    );
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.allSettled(running);
  }
  options.signal?.throwIfAborted();

  const { summary, scenarios } = summarize(script.thresholds, records);
  const every = Object.values(records).flatMap((r) => r.requests);
  const loadEndedAt =
    every.length === 0 ? Math.max(startAt, ...outcomes.map((o) => o.endedAt)) : every.reduce((max, r) => Math.max(max, r.sentAt + r.latencyMs), Number.NEGATIVE_INFINITY);
  const first = summary.firstRequestAt === null ? null : Date.parse(summary.firstRequestAt);
  return {
    summary,
    buildIds: [...seeds, ...accepted],
    scenarios,
    startAt,
    loadEndedAt,
    startLagMs: first === null ? null : first - startAt,
  };
}

/**
 * A script that only submits builds, at `rate`/s for `durationSeconds`, with thresholds that cannot
 * fail: the chaos and throughput runs judge the builds, not the requests (an outage fails requests
 * on purpose).
 */
export function submitOnlyScript(name: string, rate: number, durationSeconds: number, build: LoadScript['build']): LoadScript {
  return {
    name,
    durationSeconds,
    scenarios: { submit: rate, read: 0, follow: 0 },
    build,
    thresholds: { p95Ms: Number.MAX_SAFE_INTEGER, failedRate: 1, droppedIterations: Number.MAX_SAFE_INTEGER },
  };
}
