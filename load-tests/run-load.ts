/**
 * `pnpm load`: a load profile (profiles.ts) against Flotilla's API, then every build it created
 * awaited to SUCCESS or FAILED.
 *
 *   pnpm load [--profile light|medium|heavy|self-test] [--api-url http://127.0.0.1:8080] [--json]
 *
 * When nothing answers at the API's URL, the fleet is started the README's way (./scripts/run.sh,
 * which starts the emulator too when none answers, deploys the stack and starts every service; its
 * output goes to .reports/load-fleet.log), and stopped again at the end. Then the profile runs
 * (load.ts), and the run's builds are awaited through the API (await-builds.ts) until none is open,
 * or --settle s pass with none ending, or --max-wait s in all. It prints the requests by status, the
 * thresholds, the builds submitted, SUCCESS, FAILED and not terminal, and the drain time; it exits 1
 * when a threshold failed or a build is not terminal.
 *
 * `runLoad()` is the part after the fleet is up, which tests/e2e/load.test.ts runs too.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { LoadScript, LoadSummary } from '@flotilla/events';
import { scriptEnv } from '../scripts/config.ts';
import { awaitBuilds } from './await-builds.ts';
import { DEFAULT_API_URL, useOrStartFleet, type StartedFleet } from './fleet-for.ts';
import { runScript, SCENARIOS, type ScenarioFigures, type ScenarioName } from './load.ts';
import { PROFILE_NAMES, PROFILES, type ProfileName } from './profiles.ts';
import { runCommand, say } from './command.ts';
import { assertLoopback, vegetaBinary } from './vegeta.ts';

export interface LoadRunOptions {
  apiUrl: string;
  token?: string | undefined;
  script: LoadScript;
  vegeta: string;
  /** After the load, builds are awaited until this long passes with none ending... */
  settleMs: number;
  /** ...or this long in all. */
  capMs: number;
  progress: (line: string) => void;
  signal?: AbortSignal | undefined;
}

export interface LoadRunFigures {
  script: LoadScript;
  apiUrl: string;
  summary: LoadSummary;
  scenarios: Partial<Record<ScenarioName, ScenarioFigures>>;
  /** Seconds from the first request's due time to the end of the last request. */
  loadSeconds: number;
  builds: {
    /** Every build the run created: the seeds for read and follow, and the submit scenario's 202s. */
    submitted: number;
    succeeded: number;
    failed: number;
    notTerminal: number;
    /** Up to 10 of the builds not terminal, to look at. */
    notTerminalIds: string[];
  };
  /** The last build's end (its terminal event's time) minus the end of the load, in seconds; 0 when every build ended first; null when none ended. */
  drainSeconds: number | null;
  /** Thresholds held and every build is terminal. */
  passed: boolean;
}

export async function runLoad(options: LoadRunOptions): Promise<LoadRunFigures> {
  const { script, progress: say } = options;
  const rates = SCENARIOS.map((s) => `${s} ${script.scenarios[s]}/s`).join(', ');
  say(`load: profile ${script.name} against ${options.apiUrl}: ${rates} for ${script.durationSeconds} s; builds to ${script.build.regions.join(',')} x ${script.build.hostsPerRegion} hosts`);
  const began = Date.now();
  const ticker = setInterval(() => say(`load: ${Math.round((Date.now() - began) / 1000)} s of ${script.durationSeconds} s`), 5_000);
  let run;
  try {
    run = await runScript(script, { target: options.apiUrl, token: options.token, vegeta: options.vegeta, signal: options.signal });
  } finally {
    clearInterval(ticker);
  }
  say(`load: done, ${run.summary.requests} requests (${JSON.stringify(run.summary.statuses)}); awaiting ${run.buildIds.length} builds`);
  const awaited = await awaitBuilds({
    apiUrl: options.apiUrl,
    token: options.token,
    ids: run.buildIds,
    settleMs: options.settleMs,
    capMs: options.capMs,
    progress: (ended, total) => say(`load: ${ended} of ${total} builds ended`),
    signal: options.signal,
  });
  const views = run.buildIds.map((id) => awaited.views.get(id));
  const ends = views.flatMap((v) => (v?.finishedAt ? [Date.parse(v.finishedAt)] : []));
  const lastEnd = ends.length === 0 ? undefined : ends.reduce((a, b) => Math.max(a, b));
  const notTerminal = awaited.open.length;
  return {
    script,
    apiUrl: options.apiUrl,
    summary: run.summary,
    scenarios: run.scenarios,
    loadSeconds: (run.loadEndedAt - run.startAt) / 1000,
    builds: {
      submitted: run.buildIds.length,
      succeeded: views.filter((v) => v?.status === 'SUCCESS').length,
      failed: views.filter((v) => v?.status === 'FAILED').length,
      notTerminal,
      notTerminalIds: awaited.open.slice(0, 10),
    },
    drainSeconds: lastEnd === undefined ? null : Math.max(0, lastEnd - run.loadEndedAt) / 1000,
    passed: run.summary.passed && notTerminal === 0,
  };
}

const THRESHOLD_LABELS: Record<LoadSummary['thresholds'][number]['name'], string> = {
  p95Ms: 'p95 latency (ms)',
  failedRate: 'failed requests (rate)',
  droppedIterations: 'dropped requests',
};

/** The figures, as `pnpm load` prints them. */
export function formatLoad(f: LoadRunFigures): string {
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x < 1 ? x.toFixed(4) : x.toFixed(1));
  const lines = [
    `load run: profile ${f.script.name} against ${f.apiUrl}, ${f.script.durationSeconds} s (the last request ended ${f.loadSeconds.toFixed(1)} s after the start)`,
    `  requests:       ${f.summary.requests} (by status ${JSON.stringify(f.summary.statuses)}), failed ${f.summary.failed}, dropped ${f.summary.dropped}`,
    ...SCENARIOS.flatMap((name) => {
      const s = f.scenarios[name];
      return s ? [`    ${name.padEnd(7)} ${String(s.rate).padStart(4)}/s  sent ${s.sent}/${s.scheduled}  failed ${s.failed}  p95 ${s.p95Ms.toFixed(1)} ms`] : [];
    }),
    `  builds:         submitted ${f.builds.submitted}, SUCCESS ${f.builds.succeeded}, FAILED ${f.builds.failed}, not terminal ${f.builds.notTerminal}${f.builds.notTerminal ? ` (e.g. ${f.builds.notTerminalIds.join(', ')})` : ''}`,
    `  drain time:     ${f.drainSeconds === null ? '- (no build ended)' : `${f.drainSeconds.toFixed(1)} s (the last build ended that long after the load stopped)`}`,
    `  threshold                 limit     actual    ok`,
    ...f.summary.thresholds.map((t) => `    ${THRESHOLD_LABELS[t.name].padEnd(22)} ${n(t.limit).padStart(8)}  ${n(t.actual).padStart(9)}    ${t.ok ? 'yes' : 'NO'}`),
    `  verdict:        ${f.passed ? 'passed' : `FAILED (${[...f.summary.thresholds.filter((t) => !t.ok).map((t) => `${t.name} over its limit`), ...(f.builds.notTerminal ? [`${f.builds.notTerminal} build(s) not terminal`] : [])].join('; ')})`}`,
  ];
  return lines.join('\n');
}

const totalRate = (script: LoadScript) => SCENARIOS.reduce((sum, s) => sum + script.scenarios[s], 0);

async function main(signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'light' },
      'api-url': { type: 'string', default: DEFAULT_API_URL },
      settle: { type: 'string', default: '120' },
      'max-wait': { type: 'string', default: '900' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`pnpm load [--profile ${PROFILE_NAMES.join('|')}] [--api-url http://127.0.0.1:8080] [--settle 120] [--max-wait 900] [--json]
Runs a load profile against Flotilla's API (loopback only), starting the fleet with ./scripts/run.sh
when nothing answers there (and stopping it after), then awaits every build the run created.
Prints requests by status, the thresholds (p95 latency, failed requests, dropped requests), the
builds submitted, SUCCESS, FAILED and not terminal, and the drain time (the last build's end minus
the load's end). Exits 1 when a threshold failed or a build is not terminal.
--settle/--max-wait: builds are awaited until none ends for --settle s, or --max-wait s in all.
The token: FLOTILLA_API_TOKEN, else the run command's ${scriptEnv.FLOTILLA_API_TOKEN_FILE}.`);
    return 0;
  }
  const profile = z.enum(PROFILE_NAMES).safeParse(values.profile);
  if (!profile.success) throw new Error(`--profile must be one of ${PROFILE_NAMES.join(', ')}, not ${values.profile}`);
  const seconds = (name: string, text: string) => {
    const n = Number(text);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number of seconds, not ${text}`);
    return n * 1_000;
  };
  const apiUrl = values['api-url'].replace(/\/+$/, '');
  assertLoopback(apiUrl);
  const script = PROFILES[profile.data satisfies ProfileName];

  let fleet: StartedFleet | undefined;
  try {
    // One address sends all of the load: the per-client limit must not be what is measured.
    const found = await useOrStartFleet(apiUrl, { API_RATE_LIMIT: String(Math.max(6_000, Math.ceil(totalRate(script) * 60 * 2))) }, 'load', say, signal);
    fleet = found.fleet;
    const { token } = found;
    const figures = await runLoad({
      apiUrl,
      token,
      script,
      vegeta: await vegetaBinary(process.env.FLOTILLA_VEGETA),
      settleMs: seconds('settle', values.settle),
      capMs: seconds('max-wait', values['max-wait']),
      progress: say,
      signal,
    });
    console.log(values.json ? JSON.stringify(figures, null, 2) : formatLoad(figures));
    return figures.passed ? 0 : 1;
  } finally {
    await fleet?.stop();
  }
}

if (import.meta.main) runCommand('load', main);
