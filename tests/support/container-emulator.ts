/**
 * What the test setup needs to run the emulator from the project's Testcontainers module
 * (MiniStackContainer) on a Docker engine: whether an engine answers, pointing Testcontainers at it,
 * and the loopback port the container serves on.
 */
import { DockerEngineMissingError, dockerHost, testEnv } from '@flotilla/platform/testing';

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

/** The loopback port of an endpoint the container can serve (host networking, bound to 127.0.0.1). */
export function loopbackPort(endpoint: string): number {
  const url = new URL(endpoint);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`the container emulator serves on 127.0.0.1 only, not on ${url.hostname} (AWS_ENDPOINT_URL=${endpoint})`);
  }
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}
