/**
 * The fleet as end-to-end tests run it: a stack of the test file's own in the emulator, every
 * service started as the run command starts it (deploy/services.ts) on ephemeral ports, their logs kept and
 * written to .reports/e2e-<prefix>.log at the end, for reading after a failure.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsClients } from '@flotilla/platform';
import { deployTestStack, testEnv, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { ROOT, startFleet, waitHealthy, type Fleet, type FleetOptions } from '../../scripts/fleet.ts';

/** What every service of a test fleet gets: the emulator and its placeholder credentials. */
export const awsEnv = { AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL, AWS_REGION: testEnv.AWS_REGION, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

/** The build API's token in every test fleet of this process; send it with `apiHeaders`. */
export const TEST_API_TOKEN = `test-${randomBytes(24).toString('hex')}`;
export const apiHeaders = { authorization: `Bearer ${TEST_API_TOKEN}` } as const;

/** fetch() against a test fleet's build API, with the token. */
export const apiFetch = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { ...apiHeaders, ...(init.headers as Record<string, string> | undefined) } });

export interface TestFleet {
  stack: TestStack;
  fleet: Fleet;
  logs: string[];
  /** Stops the services, writes their logs, deletes the stack. */
  stop(): Promise<void>;
}

/** `regions`: the stack's regions (default DEFAULT_TEST_REGIONS); the services learn them from the stack. */
export async function startTestFleet(aws: AwsClients, label: string, options: { overrides?: FleetOptions['overrides']; regions?: readonly string[] } = {}): Promise<TestFleet> {
  // The stack's secret holds the fleet's token: its runner tasks (test runs) call this fleet's API.
  const stack = await deployTestStack(aws, uniquePrefix(label), { apiToken: TEST_API_TOKEN, ...(options.regions ? { regions: options.regions } : {}) });
  const logs: string[] = [];
  const fleet = await startFleet({
    prefix: stack.prefix,
    // info: the fleet waits on each service's 'http server listening' line.
    env: { ...awsEnv, LOG_LEVEL: 'info' },
    apiToken: TEST_API_TOKEN,
    ...(options.overrides ? { overrides: options.overrides } : {}),
    ports: 'ephemeral',
    onLog: (service, line) => logs.push(`${service} ${line}`),
  });
  await waitHealthy(fleet);
  return {
    stack,
    fleet,
    logs,
    async stop() {
      await fleet.stop(5_000);
      mkdirSync(join(ROOT, '.reports'), { recursive: true });
      writeFileSync(join(ROOT, '.reports', `e2e-${stack.prefix}.log`), logs.join('\n'));
      await stack.destroy();
    },
  };
}

/** `node packages/cli/src/index.ts` (what `pnpm flotilla` runs), from the repo root. */
export const CLI = ['packages/cli/src/index.ts'];

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI (or `command`) with `env` as its whole environment, as the README configures it
 * (FLOTILLA_API_URL, FLOTILLA_API_TOKEN, FLOTILLA_PREFIX, the AWS endpoint); resolves with its exit
 * code and output, whatever the code.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, command: { file: string; prefix: string[] } = { file: process.execPath, prefix: CLI }): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(command.file, [...command.prefix, ...args], { cwd: ROOT, env, timeout: 110_000, maxBuffer: 10 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The environment the CLI gets against a test fleet. */
export const fleetCliEnv = (fleet: Fleet, prefix: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  ...awsEnv,
  FLOTILLA_API_URL: fleet.url('build'),
  FLOTILLA_API_TOKEN: TEST_API_TOKEN,
  FLOTILLA_PREFIX: prefix,
  ...extra,
});
