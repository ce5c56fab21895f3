/**
 * The Docker engine the container tests use: the one scripts/docker-engine.sh finds (DOCKER_HOST,
 * the engine it started under .run/docker/, or the default socket). The test command starts one
 * when none answers; a test run without one fails here, saying how to start it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/fleet.ts';

const run = promisify(execFile);

/** `{ DOCKER_HOST }` of an engine that answers, for the environment of docker and docker-compose. */
export async function dockerEnv(): Promise<{ DOCKER_HOST: string }> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts/docker-engine.sh'), 'host']);
  const host = stdout.trim();
  try {
    await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, DOCKER_HOST: host } });
  } catch (error) {
    throw new Error(`no Docker engine answers at ${host}: start one with \`scripts/docker-engine.sh start\` (the test command does)`, { cause: error });
  }
  return { DOCKER_HOST: host };
}
