/**
 * The fleet a load command runs against: the one answering at the API's URL, or one it starts the
 * README's way (./scripts/run.sh, which starts the emulator too when none answers, deploys the
 * stack and starts every service) and stops again at the end; and the API token to call it with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ensureApiToken } from '../scripts/api-token.ts';
import { scriptEnv } from '../scripts/config.ts';
import { DEFAULT_PORT_BASE, ROOT, SERVICES } from '../scripts/fleet.ts';

/** The build API's URL when the fleet runs on its fixed ports (deploy/services.json). */
export const DEFAULT_API_URL = `http://127.0.0.1:${SERVICES.find((s) => s.name === 'build')?.port ?? DEFAULT_PORT_BASE}`;

const healthSchema = z.object({ service: z.literal('build') });

/** Whether Flotilla's build service answers at `apiUrl` (its GET /health, which needs no token). */
export async function apiAnswers(apiUrl: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/health', apiUrl), { signal: AbortSignal.timeout(2_000) });
    return res.ok && healthSchema.safeParse(await res.json()).success;
  } catch {
    return false;
  }
}

/** The port base ./scripts/run.sh needs for the build service to listen on `apiUrl`'s port. */
export function portBaseFor(apiUrl: string): number {
  const url = new URL(apiUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const buildOffset = (SERVICES.find((s) => s.name === 'build')?.port ?? DEFAULT_PORT_BASE) - DEFAULT_PORT_BASE;
  const base = port - buildOffset;
  if (base < 1024) throw new Error(`the API's port ${port} puts the fleet's ports below 1024; pick another --api-url`);
  return base;
}

export interface StartedFleet {
  child: ChildProcess;
  log: string;
  stop(): Promise<void>;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

/**
 * ./scripts/run.sh in its own process group (a Ctrl-C in the terminal reaches this command, which
 * stops it once, with SIGTERM: it then stops what it started), until the API answers at `apiUrl`.
 */
export async function startFleetFor(apiUrl: string, env: Record<string, string>, label: string, say: (line: string) => void, signal?: AbortSignal): Promise<StartedFleet> {
  const log = join(ROOT, '.reports', `${label}-fleet.log`);
  mkdirSync(join(ROOT, '.reports'), { recursive: true });
  const out = openSync(log, 'w');
  const base = portBaseFor(apiUrl);
  say(`${label}: nothing answers at ${apiUrl}; starting the fleet: ./scripts/run.sh --port-base ${base} (output in ${log})`);
  const child = spawn('bash', [join(ROOT, 'scripts/run.sh'), '--port-base', String(base)], { cwd: ROOT, detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...env } });
  closeSync(out);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    say(`${label}: stopping the fleet this command started`);
    child.kill('SIGTERM');
    const done = exited(child);
    if ((await Promise.race([done.then(() => true), sleep(120_000, undefined, { ref: false }).then(() => false)])) === false) child.kill('SIGKILL');
    await done;
  };
  // The first run may install tools and build what is missing before anything listens.
  const began = Date.now();
  const deadline = began + 15 * 60_000;
  while (!(await apiAnswers(apiUrl))) {
    const tail = () => readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label}: ./scripts/run.sh exited (${child.exitCode ?? child.signalCode}) before the API answered; the end of ${log}:\n${tail()}`);
    if (Date.now() > deadline || signal?.aborted) {
      await stop();
      throw signal?.aborted ? (signal.reason as Error) : new Error(`${label}: the API did not answer at ${apiUrl} within 15 min; the end of ${log}:\n${tail()}`);
    }
    await sleep(1_000);
  }
  say(`${label}: the fleet is up (${Math.round((Date.now() - began) / 1000)} s)`);
  return { child, log, stop };
}

/**
 * The fleet at `apiUrl` and its token: when nothing answers there, one started with `env` (its
 * output in .reports/<label>-fleet.log), whose token is the run command's token file; else the
 * running one's, with FLOTILLA_API_TOKEN or that file.
 */
export async function useOrStartFleet(apiUrl: string, env: Record<string, string>, label: string, say: (line: string) => void, signal?: AbortSignal): Promise<{ token: string | undefined; fleet?: StartedFleet }> {
  const tokenFile = isAbsolute(scriptEnv.FLOTILLA_API_TOKEN_FILE) ? scriptEnv.FLOTILLA_API_TOKEN_FILE : join(ROOT, scriptEnv.FLOTILLA_API_TOKEN_FILE);
  let token = scriptEnv.FLOTILLA_API_TOKEN;
  if (!(await apiAnswers(apiUrl))) {
    // The fleet run.sh starts takes the token from the same place this command reads it.
    token ??= ensureApiToken(tokenFile).token;
    return { token, fleet: await startFleetFor(apiUrl, env, label, say, signal) };
  }
  say(`${label}: using the fleet already answering at ${apiUrl}`);
  if (token === undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      throw new Error(`${label}: no API token: set FLOTILLA_API_TOKEN to the running fleet's token (no ${tokenFile} either)`);
    }
  }
  return { token };
}
