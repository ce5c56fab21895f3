/**
 * The images scripts/images.sh builds on this machine, named in one place, and the emulator
 * version the project pins (scripts/emulator-requirements.txt): for the Testcontainers module, the
 * conformance check, the compose files and the tests. scripts/images.sh reads the names from here:
 *
 *   node packages/platform/src/testing/local-images.ts   prints BASE_IMAGE=... NODE_IMAGE=... RUNNER_IMAGE=... (shell assignments)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIREMENTS = fileURLToPath(new URL('../../../../scripts/emulator-requirements.txt', import.meta.url));

export function pinnedEmulatorVersion(): string {
  const match = /^ministack==(\S+)$/m.exec(readFileSync(REQUIREMENTS, 'utf8'));
  if (!match?.[1]) throw new Error('scripts/emulator-requirements.txt pins no ministack version');
  return match[1];
}

const MINISTACK_IMAGE_REPOSITORY = 'flotilla-local/ministack';

export function ministackImage(version: string = pinnedEmulatorVersion()): string {
  return `${MINISTACK_IMAGE_REPOSITORY}:${version}`;
}

export const LOCAL_IMAGES = {
  /** Debian minbase with python3-venv, made by mmdebstrap; also the image of local ECS tasks. */
  base: 'flotilla-local/debian:bookworm',
  /** The base plus the Node binary the bootstrap installed. */
  node: 'flotilla-local/node:24',
  /** The repo's Dockerfile on the Node layer: every service, and the compose file's deploy step. */
  app: 'flotilla-local/app:latest',
  /** The app plus vegeta (deploy/images/runner.Dockerfile): a region's load-test runner, run by the emulator's ECS. */
  runner: 'flotilla-local/runner:latest',
} as const;

if (import.meta.url === `file://${process.argv[1]}`) {
  const names = { BASE_IMAGE: LOCAL_IMAGES.base, NODE_IMAGE: LOCAL_IMAGES.node, MINISTACK_IMAGE: ministackImage(), APP_IMAGE: LOCAL_IMAGES.app, RUNNER_IMAGE: LOCAL_IMAGES.runner };
  console.log(Object.entries(names).map(([name, value]) => `${name}='${value}'`).join('\n'));
}
