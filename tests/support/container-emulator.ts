/**
 * The emulator from the project's Testcontainers module (MiniStackContainer) on a Docker engine:
 * finding the engine the way the project's scripts do, making sure the local image exists, and
 * starting the container on a loopback port.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DockerEngineMissingError, dockerHost, MiniStackContainer, testEnv, type StartedMiniStackContainer } from '@flotilla/platform/testing';
import { ROOT } from '../../scripts/fleet.ts';


/**
 * The Docker engine to use (DOCKER_HOST, else the one scripts/docker-engine.sh started, else the
 * default socket), or undefined when none answers there.
 */
export async function answeringDockerEngine(): Promise<string | undefined> {
  return dockerHost().catch((error: unknown) => {
    if (error instanceof DockerEngineMissingError) return undefined;
    throw error;
  });
}

/**
 * Points this process at the engine: Testcontainers reads DOCKER_HOST from the environment only.
 * Kept when already set (scripts/docker-engine.sh returned it unchanged then).
 */
export function useDockerEngine(host: string): void {
  if (testEnv.DOCKER_HOST === undefined) process.env.DOCKER_HOST = host;
}

/**
 * Builds the emulator image unless it is there already at the same source hash (a fast no-op then).
 * Its progress lines go to this process's stderr: a first build takes a while and says so.
 */
export function ensureEmulatorImage(host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'scripts/images.sh'), 'ministack'], {
      env: { ...process.env, DOCKER_HOST: host },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`scripts/images.sh ministack failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/** The loopback port of an endpoint the container can serve (host networking, bound to 127.0.0.1). */
export function loopbackPort(endpoint: string): number {
  const url = new URL(endpoint);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`the container emulator serves on 127.0.0.1 only, not on ${url.hostname} (AWS_ENDPOINT_URL=${endpoint})`);
  }
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

export async function startContainerEmulator(port: number): Promise<StartedMiniStackContainer> {
  return new MiniStackContainer().withPort(port).start();
}
