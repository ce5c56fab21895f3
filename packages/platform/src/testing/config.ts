/**
 * The environment tests and the conformance check run in: the emulator endpoint (default
 * loopback), how the test setup supplies it when nothing answers there, region, credentials.
 */
import { z } from 'zod';
import { parseEnv } from '../config.ts';

export const DEFAULT_TEST_ENDPOINT = 'http://127.0.0.1:4566';

const testEmulatorChoice = z.enum(['container', 'native']);
export type TestEmulatorChoice = z.infer<typeof testEmulatorChoice>;

export const testEnv = parseEnv(
  {
    AWS_ENDPOINT_URL: z.url().default(DEFAULT_TEST_ENDPOINT).describe('Emulator the tests run against'),
    FLOTILLA_TEST_EMULATOR: testEmulatorChoice
      .optional()
      .describe('How the test setup starts the emulator when nothing answers at AWS_ENDPOINT_URL: container (Testcontainers), native, or unset: container when a Docker engine answers'),
    DOCKER_HOST: z.string().optional().describe('The Docker engine for the container path (scripts/docker-engine.sh host resolves it when unset)'),
    AWS_REGION: z.string().default('us-east-1'),
    // The emulator accepts any credentials; these never leave loopback.
    AWS_ACCESS_KEY_ID: z.string().default('test'),
    AWS_SECRET_ACCESS_KEY: z.string().default('test'),
  },
  process.env,
);
