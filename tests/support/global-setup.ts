/**
 * Integration tests find the emulator at AWS_ENDPOINT_URL. When nothing answers there, this setup
 * starts one on that endpoint's port for the run, and stops it after, in memory (every test run
 * starts from an empty emulator). FLOTILLA_TEST_EMULATOR chooses how:
 *   container  the project's Testcontainers module (MiniStackContainer) on a Docker engine,
 *              after making sure the local image exists (scripts/images.sh ministack)
 *   native     the native emulator, with the project's own scripts/emulator.sh
 *   unset      container when a Docker engine answers (scripts/docker-engine.sh host), else native
 * The tests themselves are the same either way; tests/e2e/emulators.test.ts runs both paths.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureLocalImages, MiniStackContainer, testEnv, type TestEmulatorChoice } from '@flotilla/platform/testing';
import { answeringDockerEngine, loopbackPort, useDockerEngine } from './container-emulator.ts';
import { answers } from './private-emulator.ts';

const emulatorScript = fileURLToPath(new URL('../../scripts/emulator.sh', import.meta.url));

const say = (message: string) => console.log(`[emulator] ${message}`);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

async function chooseEmulator(): Promise<{ choice: TestEmulatorChoice; dockerHost?: string; why: string }> {
  const chosen = testEnv.FLOTILLA_TEST_EMULATOR;
  if (chosen === 'native') return { choice: 'native', why: 'FLOTILLA_TEST_EMULATOR=native' };
  const dockerHost = await answeringDockerEngine();
  if (chosen === 'container') {
    if (dockerHost === undefined) {
      throw new Error('FLOTILLA_TEST_EMULATOR=container, but no Docker engine answers (set DOCKER_HOST, or start one with scripts/docker-engine.sh start)');
    }
    return { choice: 'container', dockerHost, why: 'FLOTILLA_TEST_EMULATOR=container' };
  }
  return dockerHost === undefined
    ? { choice: 'native', why: 'no Docker engine answers' }
    : { choice: 'container', dockerHost, why: `a Docker engine answers at ${dockerHost}` };
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const endpoint = testEnv.AWS_ENDPOINT_URL;
  if (await answers(endpoint)) {
    say(`using the emulator that answers at ${endpoint}`);
    return undefined;
  }
  const { choice, dockerHost, why } = await chooseEmulator();
  switch (choice) {
    case 'container': {
      if (dockerHost === undefined) throw new Error('the container emulator needs a Docker engine');
      useDockerEngine(dockerHost);
      await ensureLocalImages('ministack');
      const started = performance.now();
      const container = await new MiniStackContainer().withPort(loopbackPort(endpoint)).start();
      say(`container ${container.getId().slice(0, 12)} (${why}) answers at ${endpoint}: started in ${seconds(started)}`);
      return async () => {
        await container.stop();
      };
    }
    case 'native': {
      const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, EMULATOR_PERSIST: '0' };
      const started = performance.now();
      execFileSync('bash', [emulatorScript, 'start'], { stdio: 'inherit', env });
      say(`native (${why}) answers at ${endpoint}: started in ${seconds(started)}`);
      return () => {
        execFileSync('bash', [emulatorScript, 'stop'], { stdio: 'inherit', env });
        return Promise.resolve();
      };
    }
    default: {
      const _never: never = choice;
      throw new Error(`unknown emulator choice ${String(_never)}`);
    }
  }
}
