/**
 * A test's own emulator: a free port on 127.0.0.1 and a temp state directory, driven by the
 * project's scripts/emulator.sh exactly as the run command drives it. Never the shared one on
 * 4566: `stop` and `cleanup` only ever act on this port's emulator.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/fleet.ts';

const run = promisify(execFile);
export const EMULATOR_SCRIPT = join(ROOT, 'scripts/emulator.sh');

/** A port nothing listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      server.close(() => (address === null || typeof address === 'string' ? reject(new Error('no port')) : resolve(address.port)));
    });
  });
}

/** Whether anything answers HTTP at the endpoint. */
export async function answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

export interface PrivateEmulator {
  port: number;
  endpoint: string;
  stateDir: string;
  /** The environment scripts/emulator.sh (or run.sh) needs to act on this emulator. */
  env: NodeJS.ProcessEnv;
  /** Runs scripts/emulator.sh with `extraEnv` on top of `env` (e.g. EMULATOR_PERSIST=1). */
  script: (args: string[], extraEnv?: Record<string, string>) => Promise<{ stdout: string; stderr: string }>;
  /** Stops this port's emulator if it runs, keeps its log in .reports/, and removes its state directory and files. */
  cleanup: () => Promise<void>;
}

export async function privateEmulator(): Promise<PrivateEmulator> {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'flotilla-emulator-state-'));
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, EMULATOR_STATE_DIR: stateDir };
  const script = (args: string[], extraEnv: Record<string, string> = {}) => run('bash', [EMULATOR_SCRIPT, ...args], { env: { ...env, ...extraEnv } });
  return {
    port,
    endpoint,
    stateDir,
    env,
    script,
    cleanup: async () => {
      // Stops only an emulator started on this port (a no-op otherwise).
      await script(['stop']).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
      const dir = join(ROOT, '.run', `emulator-${port}`);
      if (existsSync(join(dir, 'ministack.log'))) {
        mkdirSync(join(ROOT, '.reports'), { recursive: true });
        copyFileSync(join(dir, 'ministack.log'), join(ROOT, '.reports', `emulator-${port}.log`));
      }
      rmSync(dir, { recursive: true, force: true }); // its pid file and log
    },
  };
}
