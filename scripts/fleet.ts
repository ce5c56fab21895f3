/**
 * Starts and stops Flotilla's services as child processes, each through its package's own start
 * script, the way the README's run command and the end-to-end tests both do. One place knows the
 * fleet (deploy/services.json); callers only choose the stack prefix and per-service overrides.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import fleetFile from '../deploy/services.json' with { type: 'json' };

const LISTEN_TIMEOUT_MS = 30_000;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SERVICES = fleetFile.services;
export type ServiceName = (typeof SERVICES)[number]['name'];

export interface FleetOptions {
  prefix: string;
  /** Environment every service gets (AWS endpoint, region, credentials, log level). */
  env: Record<string, string>;
  /** Extra variables for one service, e.g. failure injection. */
  overrides?: Partial<Record<ServiceName, Record<string, string>>>;
  /** 'fixed' uses the ports in deploy/services.json; 'ephemeral' lets each pick a free one. */
  ports: 'fixed' | 'ephemeral';
  /** Each structured log line a service prints, for the caller to show or keep. */
  onLog?: (service: ServiceName, line: string) => void;
}

export interface RunningService {
  name: ServiceName;
  child: ChildProcess;
  url: string;
}

export interface Fleet {
  services: RunningService[];
  url(name: ServiceName): string;
  /** Stops one service (SIGTERM, then SIGKILL after the grace period). */
  stopService(name: ServiceName, graceMs?: number): Promise<void>;
  /** Starts a stopped service again, with the same configuration. */
  startService(name: ServiceName): Promise<RunningService>;
  stop(graceMs?: number): Promise<void>;
}

function startScript(name: string): string {
  const pkg = JSON.parse(readFileSync(`${ROOT}/services/${name}/package.json`, 'utf8')) as { scripts?: { start?: string } };
  const start = pkg.scripts?.start;
  if (!start) throw new Error(`services/${name}/package.json has no start script`);
  return start;
}

/** Resolves with the port the service reports in its 'http server listening' log line. */
function startOne(name: ServiceName, port: number, options: FleetOptions): Promise<RunningService> {
  // `exec` replaces the shell, so signals reach the service itself.
  const child = spawn('sh', ['-c', `exec ${startScript(name)}`], {
    cwd: `${ROOT}/services/${name}`,
    env: { ...process.env, ...options.env, FLOTILLA_PREFIX: options.prefix, PORT: String(port), ...options.overrides?.[name] },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops
    // each service once, with SIGTERM, instead of every process getting the signal at once.
    detached: true,
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} exited with ${code} before listening`));
    child.once('exit', onExit);
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`${name} did not log 'http server listening' within ${LISTEN_TIMEOUT_MS} ms (is LOG_LEVEL above info?)`));
    }, LISTEN_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        options.onLog?.(name, line);
        if (!line.includes('http server listening')) return;
        try {
          const { port: actual } = JSON.parse(line) as { port: number };
          child.off('exit', onExit);
          clearTimeout(timer);
          resolve({ name, child, url: `http://127.0.0.1:${actual}` });
        } catch {
          // not a structured line: keep waiting
        }
      });
    }
  });
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopAll(services: RunningService[], graceMs: number): Promise<void> {
  await Promise.all(
    services.map(async ({ child }) => {
      child.kill('SIGTERM');
      if (!(await waitExit(child, graceMs))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    }),
  );
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const results = await Promise.allSettled(SERVICES.map((s) => startOne(s.name, options.ports === 'fixed' ? s.port : 0, options)));
  const services = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0) {
    await stopAll(services, 5_000);
    throw new AggregateError(failed, `fleet failed to start: ${failed.map((e) => e.message).join('; ')}`);
  }
  const find = (name: ServiceName) => {
    const service = services.find((s) => s.name === name);
    if (!service) throw new Error(`no service named ${name}`);
    return service;
  };
  return {
    services,
    url: (name) => find(name).url,
    async stopService(name, graceMs = 10_000) {
      await stopAll([find(name)], graceMs);
    },
    async startService(name) {
      const port = options.ports === 'fixed' ? (SERVICES.find((s) => s.name === name)?.port ?? 0) : 0;
      const started = await startOne(name, port, options);
      services.splice(services.indexOf(find(name)), 1, started);
      return started;
    },
    stop: (graceMs = 10_000) => stopAll(services, graceMs),
  };
}

/** Polls every service's GET /health until all answer 200, or throws naming the ones that do not. */
export async function waitHealthy(fleet: Fleet, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let unhealthy: string[] = [];
  while (Date.now() < deadline) {
    const answers = await Promise.all(
      fleet.services.map(async (s) => {
        try {
          const res = await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(2_000) });
          return res.ok ? undefined : `${s.name}: ${res.status} ${await res.text()}`;
        } catch (error) {
          return `${s.name}: ${(error as Error).message}`;
        }
      }),
    );
    unhealthy = answers.filter((a): a is string => a !== undefined);
    if (unhealthy.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`services not healthy after ${timeoutMs} ms: ${unhealthy.join('; ')}`);
}
