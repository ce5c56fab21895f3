/**
 * Integration tests find the emulator at AWS_ENDPOINT_URL. When nothing answers there, this setup
 * starts the native emulator with the project's own script and stops it after the run, in memory
 * (EMULATOR_PERSIST=0): every test run starts from an empty emulator. On a
 * machine with Docker, anything that serves the same endpoint (for example a Testcontainers
 * MiniStack) can supply it instead: the tests themselves are the same either way.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEnv } from '@flotilla/platform/testing';

const emulatorScript = fileURLToPath(new URL('../../scripts/emulator.sh', import.meta.url));

async function answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

export default async function setup(): Promise<(() => void) | undefined> {
  const endpoint = testEnv.AWS_ENDPOINT_URL;
  if (await answers(endpoint)) return undefined;
  const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, EMULATOR_PERSIST: '0' };
  execFileSync('bash', [emulatorScript, 'start'], { stdio: 'inherit', env });
  return () => {
    execFileSync('bash', [emulatorScript, 'stop'], { stdio: 'inherit', env });
  };
}
