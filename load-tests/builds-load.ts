/**
 * The constant-arrival-rate load: POST /builds at a fixed rate for a fixed time, each request with
 * its own Idempotency-Key, through vegeta (an open-model load tool: requests start on schedule
 * whether or not earlier ones have answered, which is what a crash or an outage must not slow down).
 * The bearer token is sent when one is given (FLOTILLA_API_TOKEN). Returns the status counts and the
 * ids of the builds the API accepted (202), read from the response bodies, so the caller can await
 * every one of them.
 *
 * Only loopback: the target URL is checked, and vegeta stops by itself after `durationS` (and after
 * rate x duration requests: the targets file holds exactly that many).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ROOT } from '../scripts/fleet.ts';

const exec = promisify(execFile);

export interface BuildsLoadOptions {
  vegeta: string;
  apiUrl: string;
  token?: string | undefined;
  /** Requests per second. */
  rate: number;
  durationS: number;
  /** The repo every build names, so the run's builds can be listed apart from others. */
  repo: string;
  regions: string[];
  hostsPerRegion: number;
  /** Per-request timeout (vegeta's -timeout). */
  timeoutS?: number;
  /** Told of the vegeta process, so a caller that is interrupted can stop it too. */
  onSpawn?: (child: ChildProcess) => void;
}

export interface BuildsLoadResult {
  requests: number;
  /** Count per HTTP status; 0 is a request that got no answer (timeout, refused). */
  codes: Record<string, number>;
  accepted: string[];
  /** vegeta's own text report (latencies, success ratio). */
  report: string;
}

const resultLine = z.object({ code: z.number(), body: z.string().nullish(), error: z.string().nullish() });
const acceptedBody = z.object({ buildId: z.string() });

/** The vegeta binary: FLOTILLA_VEGETA when the test command already resolved it, else scripts/vegeta.sh builds or finds it. */
export async function vegetaBinary(fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  const { stdout } = await exec('bash', [join(ROOT, 'scripts/vegeta.sh')], { cwd: ROOT, timeout: 300_000 });
  return stdout.trim();
}

export async function runBuildsLoad(options: BuildsLoadOptions): Promise<BuildsLoadResult> {
  const target = new URL('/builds', options.apiUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error(`load: ${target.host} is not loopback`);
  const requests = Math.max(1, Math.round(options.rate * options.durationS));
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-load-'));
  try {
    const targets = join(dir, 'targets.jsonl');
    const results = join(dir, 'results.bin');
    const lines: string[] = [];
    for (let i = 0; i < requests; i++) {
      const body = { repo: options.repo, env: 'prod', version: `1.0.${i}`, branch: 'main', commit: 'abc1234', regions: options.regions, hostsPerRegion: options.hostsPerRegion };
      const header: Record<string, string[]> = { 'Content-Type': ['application/json'], 'Idempotency-Key': [`${options.repo}-${i}`] };
      if (options.token) header.Authorization = [`Bearer ${options.token}`];
      lines.push(JSON.stringify({ method: 'POST', url: target.href, header, body: Buffer.from(JSON.stringify(body)).toString('base64') }));
    }
    writeFileSync(targets, `${lines.join('\n')}\n`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        options.vegeta,
        ['attack', '-lazy', '-format=json', `-targets=${targets}`, `-rate=${options.rate}/1s`, `-duration=${options.durationS}s`, `-timeout=${options.timeoutS ?? 10}s`, `-output=${results}`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      options.onSpawn?.(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vegeta attack exited ${code}: ${stderr.slice(0, 500)}`))));
    });
    const encoded = await exec(options.vegeta, ['encode', '--to', 'json', results], { maxBuffer: 256 * 1024 * 1024 });
    const codes: Record<string, number> = {};
    const accepted: string[] = [];
    let answered = 0;
    for (const line of encoded.stdout.split('\n').filter(Boolean)) {
      const r = resultLine.parse(JSON.parse(line));
      answered++;
      codes[r.code] = (codes[r.code] ?? 0) + 1;
      if (r.code === 202 && r.body) accepted.push(acceptedBody.parse(JSON.parse(Buffer.from(r.body, 'base64').toString('utf8'))).buildId);
    }
    const report = (await exec(options.vegeta, ['report', results])).stdout;
    return { requests: answered, codes, accepted, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
