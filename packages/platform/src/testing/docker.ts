/**
 * The one door of tests and the conformance check to the Docker engine: the engine the project's
 * scripts use (scripts/docker-engine.sh host: DOCKER_HOST, the engine it started under
 * .run/docker/, or the default socket), reached with the docker CLI, so a test can see the
 * containers it (or the emulator's ECS) runs there, and clean them up.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);
const ENGINE_SCRIPT = fileURLToPath(new URL('../../../../scripts/docker-engine.sh', import.meta.url));
const IMAGES_SCRIPT = fileURLToPath(new URL('../../../../scripts/images.sh', import.meta.url));
const TIMEOUT_MS = 15_000;

/** One line of `docker ps --format '{{json .}}'`: only the fields a row reads. */
const PsLine = z.object({ ID: z.string().min(1), Names: z.string(), Image: z.string(), State: z.string(), Networks: z.string() });
export type Container = z.infer<typeof PsLine>;

/** No Docker engine answers where the scripts look for one. */
export class DockerEngineMissingError extends Error {
  override name = 'DockerEngineMissingError';
}

let engine: Promise<string> | undefined;

/**
 * The DOCKER_HOST of the engine scripts/docker-engine.sh names, once it answers. Resolved once
 * per process; a missing engine or CLI is a DockerEngineMissingError that says how to start one
 * (the test command always does).
 */
export function dockerHost(): Promise<string> {
  engine ??= (async () => {
    const { stdout } = await run('bash', [ENGINE_SCRIPT, 'host'], { timeout: TIMEOUT_MS });
    const host = stdout.trim();
    try {
      await run('docker', ['--host', host, 'version', '--format', '{{.Server.Version}}'], { timeout: TIMEOUT_MS });
    } catch (error) {
      throw new DockerEngineMissingError(`no Docker engine answers at ${host} (${firstLine(error)}): start one with scripts/docker-engine.sh start`, { cause: error });
    }
    return host;
  })();
  return engine;
}

/** Runs the docker CLI against that engine; its standard output, trimmed. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', ['--host', await dockerHost(), ...args], { timeout: TIMEOUT_MS });
  return stdout.trim();
}

/** `docker ps --all` filtered by every label given (key=value), in any state. */
export async function containersLabelled(labels: Readonly<Record<string, string>>): Promise<Container[]> {
  const filters = Object.entries(labels).flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
  const out = await docker('ps', '--all', '--no-trunc', ...filters, '--format', '{{json .}}');
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => PsLine.parse(JSON.parse(line)));
}

/** Force-removes every container carrying all the labels (running or not); returns how many. */
export async function removeContainersLabelled(labels: Readonly<Record<string, string>>): Promise<number> {
  const ids = (await containersLabelled(labels)).map((c) => c.ID);
  if (ids.length > 0) await docker('rm', '--force', '--volumes', ...ids);
  return ids.length;
}

/**
 * Builds the local images on that engine with scripts/images.sh (`all`, or one and what it stands
 * on) unless they are there at the same source hash (a fast no-op then). Its progress lines go to
 * this process's stderr: a first build takes a while and says so.
 */
export async function ensureLocalImages(target: 'all' | 'ministack' | 'runner'): Promise<void> {
  const host = await dockerHost();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [IMAGES_SCRIPT, target], { env: { ...process.env, DOCKER_HOST: host }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`scripts/images.sh ${target} failed (${signal ?? `exit ${code}`})`))));
  });
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' && stderr.trim() !== '' ? stderr : error instanceof Error ? error.message : String(error);
  return text.trim().split('\n')[0] ?? '';
}
