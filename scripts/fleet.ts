/**
 * Starts and stops Flotilla's services as child processes, each as node with the flags and entry
 * point deploy/services.ts gives (as the compose files and ECS do), the way the README's run
 * command and the end-to-end tests both do. One place knows the fleet (deploy/services.json);
 * callers only choose the stack prefix and per-service overrides.
 * A caller that must own every process at every moment (the run command's Ctrl-C) hears of each
 * service as it is spawned (onSpawn) and can abort the start (signal): startFleet then stops every
 * service it spawned, listening or not, before it rejects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SERVICES, serviceNodeArgs } from '../deploy/services.ts';

const LISTEN_TIMEOUT_MS = 30_000;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export { SERVICES };
export type ServiceName = (typeof SERVICES)[number]['name'];
/** The lowest port in deploy/services.json; each service keeps its offset from it under --port-base. */
export const DEFAULT_PORT_BASE = Math.min(...SERVICES.map((s) => s.port));

/** The port each service listens on when the fleet starts at `base` (deploy/services.json's offsets). */
export function servicePorts(base: number = DEFAULT_PORT_BASE): { name: ServiceName; port: number }[] {
  return SERVICES.map((s) => ({ name: s.name, port: s.port - DEFAULT_PORT_BASE + base }));
}

export interface FleetOptions {
  prefix: string;
  /** Environment every service gets (AWS endpoint, region, credentials, log level). */
  env: Record<string, string>;
  /** The bearer token the build API requires (FLOTILLA_API_TOKEN); callers send it as Authorization: Bearer. */
  apiToken: string;
  /** Extra variables for one service, e.g. failure injection. */
  overrides?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * 'fixed' uses the ports in deploy/services.json; `{ base }` shifts them all to start at base;
   * 'ephemeral' lets each pick a free one.
   */
  ports: 'fixed' | 'ephemeral' | { base: number };
  /** Each structured log line a service prints, for the caller to show or keep. */
  onLog?: (service: ServiceName, line: string) => void;
  /** Called as soon as a service's process exists, before it listens. */
  onSpawn?: (service: ServiceName, child: ChildProcess) => void;
  /** Aborting stops every service spawned so far and makes startFleet reject with the reason. */
  signal?: AbortSignal;
}

function portOf(name: ServiceName, ports: FleetOptions['ports']): number {
  if (ports === 'ephemeral') return 0;
  const base = ports === 'fixed' ? DEFAULT_PORT_BASE : ports.base;
  return servicePorts(base).find((s) => s.name === name)?.port ?? 0;
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

/** Resolves with the port the service reports in its 'http server listening' log line. */
function startOne(name: ServiceName, port: number, options: FleetOptions): Promise<RunningService> {
  // Node itself, with the service's flags (deploy/services.json), so signals reach the service.
  const child = spawn(process.execPath, serviceNodeArgs(name), {
    cwd: ROOT,
    env: { ...process.env, ...options.env, FLOTILLA_API_TOKEN: options.apiToken, FLOTILLA_PREFIX: options.prefix, PORT: String(port), ...options.overrides?.[name] },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops
    // each service once, with SIGTERM, instead of every process getting the signal at once.
    detached: true,
  });
  options.onSpawn?.(name, child);
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`${name} exited with ${code} before listening`));
    };
    // The caller stops the process (it was reported through onSpawn); this only stops waiting.
    const onAbort = () => {
      child.off('exit', onExit);
      clearTimeout(timer);
      reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error(`${name}: start aborted`));
    };
    child.once('exit', onExit);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      options.signal?.removeEventListener('abort', onAbort);
      child.kill('SIGKILL');
      reject(new Error(`${name} did not log 'http server listening' within ${LISTEN_TIMEOUT_MS} ms (is LOG_LEVEL above info?)`));
    }, LISTEN_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        options.onLog?.(name, line);
        if (!line.includes('http server listening')) return;
        try {
          const { port: actual, host } = JSON.parse(line) as { port: number; host?: string };
          // Reached where it listens; one listening on every interface answers on loopback too.
          const reach = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
          child.off('exit', onExit);
          options.signal?.removeEventListener('abort', onAbort);
          clearTimeout(timer);
          resolve({ name, child, url: `http://${reach}:${actual}` });
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

async function stopAll(children: ChildProcess[], graceMs: number): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      child.kill('SIGTERM');
      if (!(await waitExit(child, graceMs))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    }),
  );
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  options.signal?.throwIfAborted();
  // Every process spawned, listening or not, so a failed or aborted start leaves none behind.
  const spawned: ChildProcess[] = [];
  const tracked: FleetOptions = {
    ...options,
    onSpawn: (name, child) => {
      spawned.push(child);
      options.onSpawn?.(name, child);
    },
  };
  const results = await Promise.allSettled(SERVICES.map((s) => startOne(s.name, portOf(s.name, options.ports), tracked)));
  const services = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (options.signal?.aborted) {
    await stopAll(spawned, 5_000);
    throw options.signal.reason instanceof Error ? options.signal.reason : new Error('fleet start aborted');
  }
  if (failed.length > 0) {
    await stopAll(spawned, 5_000);
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
      await stopAll([find(name).child], graceMs);
    },
    async startService(name) {
      const started = await startOne(name, portOf(name, options.ports), options);
      services.splice(services.indexOf(find(name)), 1, started);
      return started;
    },
    stop: (graceMs = 10_000) => stopAll(services.map((s) => s.child), graceMs),
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
