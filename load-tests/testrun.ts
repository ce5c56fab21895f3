/**
 * `pnpm testrun`: a test run from several regions at once, end to end, Flotilla load-testing itself.
 *
 *   pnpm testrun [--regions us-east-1,us-west-2,eu-west-1] [--profile self-test] [--vus 200]
 *                [--buffer 5000] [--api-url http://127.0.0.1:8080] [--json]
 *
 * The runners are containers on the emulator's ECS, so this command first makes sure a Docker
 * engine answers (scripts/docker-engine.sh start: started only when none does, stopped at the end
 * only if this command started it) and that the runner image is built (scripts/images.sh runner,
 * cached by its sources' hash). When nothing answers at the API's URL, it starts the fleet the
 * README's way (./scripts/run.sh, whose emulator then runs ECS tasks in that engine) and stops it
 * at the end. It starts the run (POST /testruns) with the profile as its script and the API itself
 * as the target, prints a line each time the run moves (regions ready, the start, each region
 * completed and torn down), and when the run is finished prints the per-region results, how far
 * each region's first request was from the start, and how long each phase took. Exits 0 when the
 * run completed and passed its thresholds, 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { z } from 'zod';
import { testRunViewSchema, type TestRunView } from '@flotilla/events';
import { testRunProgressLine, testRunText } from '../packages/cli/src/format.ts';
import { ROOT } from '../scripts/fleet.ts';
import { DEFAULT_API_URL, useOrStartFleet, type StartedFleet } from './fleet-for.ts';
import { PROFILE_NAMES, PROFILES } from './profiles.ts';
import { runCommand, say } from './command.ts';
import { assertLoopback } from './vegeta.ts';

const exec = promisify(execFile);
const DEFAULT_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
/** The run's own deadline bounds it; this is the command's, past the deadline, in case the orchestrator is not running. */
const WATCH_SLACK_MS = 120_000;

export interface TestRunOptions {
  apiUrl: string;
  token: string | undefined;
  profile: (typeof PROFILE_NAMES)[number];
  regions: string[];
  vusPerRegion?: number | undefined;
  startBufferMs?: number | undefined;
  progress: (line: string) => void;
  /** Told the run's id as soon as it is requested. */
  onRequested?: (runId: string) => void;
  signal?: AbortSignal | undefined;
}

export interface TestRunFigures {
  run: TestRunView;
  /** Per region: first request minus startAt, in ms (negative: early). */
  firstRequestOffsetMs: Record<string, number | null>;
  /** From the request to the start, to completed (or aborted), to finished (every region torn down). */
  toStartMs: number | null;
  toEndMs: number | null;
  toFinishedMs: number;
  passed: boolean;
}

export function figuresOf(run: TestRunView): TestRunFigures {
  const requested = Date.parse(run.requestedAt);
  const startAt = run.startAt === undefined ? null : Date.parse(run.startAt);
  const ended = run.endedAt === undefined ? null : Date.parse(run.endedAt);
  return {
    run,
    firstRequestOffsetMs: Object.fromEntries(
      Object.entries(run.regions).map(([name, r]) => [name, startAt === null || !r.result?.firstRequestAt ? null : Date.parse(r.result.firstRequestAt) - startAt]),
    ),
    toStartMs: startAt === null ? null : startAt - requested,
    toEndMs: ended === null ? null : ended - requested,
    toFinishedMs: Date.now() - requested,
    passed: run.status === 'COMPLETED' && run.verdict === 'passed',
  };
}

/** Starts the run and follows it until it is finished. */
export async function runTestRun(options: TestRunOptions): Promise<TestRunFigures> {
  const headers = { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
  const script = PROFILES[options.profile];
  const body = {
    script,
    regions: options.regions,
    target: options.apiUrl,
    ...(options.vusPerRegion === undefined ? {} : { vusPerRegion: options.vusPerRegion }),
    ...(options.startBufferMs === undefined ? {} : { startBufferMs: options.startBufferMs }),
  };
  const res = await fetch(`${options.apiUrl}/testruns`, { method: 'POST', headers: { ...headers, 'idempotency-key': randomUUID() }, body: JSON.stringify(body), signal: options.signal ?? null });
  if (res.status !== 202) throw new Error(`testrun: POST /testruns answered ${res.status}: ${await res.text()}`);
  const { runId } = z.object({ runId: z.string() }).parse(await res.json());
  options.onRequested?.(runId);
  options.progress(`testrun: run ${runId} requested from ${options.regions.join(', ')} with the ${options.profile} profile`);
  let last = '';
  for (;;) {
    const answer = await fetch(`${options.apiUrl}/testruns/${runId}`, { headers, signal: options.signal ?? null });
    if (!answer.ok) throw new Error(`testrun: GET /testruns/${runId} answered ${answer.status}: ${await answer.text()}`);
    const run = testRunViewSchema.parse(await answer.json());
    const line = testRunProgressLine(run);
    if (line !== last) options.progress(`testrun: ${line}`);
    last = line;
    if (run.finished) return figuresOf(run);
    if (Date.now() > Date.parse(run.request.deadline) + WATCH_SLACK_MS) {
      throw new Error(`testrun: run ${runId} is not finished ${WATCH_SLACK_MS / 1000} s past its deadline (${run.request.deadline}): is the orchestrator running?`);
    }
    await sleep(500, undefined, { signal: options.signal });
  }
}

export function formatTestRun(f: TestRunFigures): string {
  const ms = (n: number | null) => (n === null ? '-' : `${(n / 1000).toFixed(1)} s`);
  const offsets = Object.entries(f.firstRequestOffsetMs).map(([region, n]) => `  ${region}: ${n === null ? 'no request' : `${n >= 0 ? '+' : ''}${n} ms`}`);
  return [
    testRunText(f.run),
    '',
    'first request vs startAt:',
    ...offsets,
    '',
    `started ${ms(f.toStartMs)} after the request, ended after ${ms(f.toEndMs)}, every region torn down after ${ms(f.toFinishedMs)}`,
    f.passed ? 'PASSED' : `NOT PASSED (${f.run.status}${f.run.verdict ? `, ${f.run.verdict}` : ''})`,
  ].join('\n');
}

async function main(signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    options: {
      regions: { type: 'string', default: DEFAULT_REGIONS.join(',') },
      profile: { type: 'string', default: 'self-test' },
      vus: { type: 'string' },
      buffer: { type: 'string' },
      'api-url': { type: 'string', default: DEFAULT_API_URL },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`pnpm testrun [--regions ${DEFAULT_REGIONS.join(',')}] [--profile ${PROFILE_NAMES.join('|')}] [--vus 200] [--buffer 5000] [--api-url ${DEFAULT_API_URL}] [--json]
Runs a load test from several regions at once on the emulator's ECS (runner containers in a Docker
engine), the target being Flotilla's own API; starts the engine, the runner image and the fleet
when they are missing (and stops what it started). Prints each step, the per-region results and
first-request offsets from the start; exits 0 when the run completed and passed.`);
    return 0;
  }
  const profile = z.enum(PROFILE_NAMES).safeParse(values.profile);
  if (!profile.success) throw new Error(`--profile must be one of ${PROFILE_NAMES.join(', ')}, not ${values.profile}`);
  const whole = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a whole number, not ${text}`);
    return Number(text);
  };
  const apiUrl = values['api-url'].replace(/\/+$/, '');
  assertLoopback(apiUrl);

  const engineAnswered = await exec('bash', ['scripts/docker-engine.sh', 'status'], { cwd: ROOT }).then(
    () => true,
    () => false,
  );
  let fleet: StartedFleet | undefined;
  try {
    if (!engineAnswered) {
      say('testrun: no Docker engine answers; starting one (scripts/docker-engine.sh start)');
      await exec('bash', ['scripts/docker-engine.sh', 'start'], { cwd: ROOT });
    }
    say('testrun: the runner image (scripts/images.sh runner; cached when its sources have not changed)');
    await exec('bash', ['scripts/images.sh', 'runner'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const found = await useOrStartFleet(apiUrl, {}, 'testrun', say, signal);
    fleet = found.fleet;
    const figures = await runTestRun({
      apiUrl,
      token: found.token,
      profile: profile.data,
      regions: values.regions.split(',').map((r) => r.trim()).filter(Boolean),
      vusPerRegion: whole('vus', values.vus),
      startBufferMs: whole('buffer', values.buffer),
      progress: say,
      signal,
    });
    console.log(values.json ? JSON.stringify(figures, null, 2) : formatTestRun(figures));
    return figures.passed ? 0 : 1;
  } finally {
    await fleet?.stop();
    if (!engineAnswered) await exec('bash', ['scripts/docker-engine.sh', 'stop'], { cwd: ROOT }).catch(() => undefined);
  }
}

if (import.meta.main) runCommand('testrun', main, 'a run already started goes on until its deadline; flotilla testruns cancel <id> stops it');
