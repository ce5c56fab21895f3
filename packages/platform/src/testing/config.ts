/** The environment tests and the conformance check run in: the emulator endpoint (default loopback), region, credentials. */
import { z } from 'zod';
import { parseEnv } from '../config.ts';

export const DEFAULT_TEST_ENDPOINT = 'http://127.0.0.1:4566';

export const testEnv = parseEnv(
  {
    AWS_ENDPOINT_URL: z.url().default(DEFAULT_TEST_ENDPOINT).describe('Emulator the tests run against'),
    AWS_REGION: z.string().default('us-east-1'),
    // The emulator accepts any credentials; these never leave loopback.
    AWS_ACCESS_KEY_ID: z.string().default('test'),
    AWS_SECRET_ACCESS_KEY: z.string().default('test'),
  },
  process.env,
);
