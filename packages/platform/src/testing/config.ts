/** The environment tests run in: the emulator endpoint (default loopback) and a region. */
import { z } from 'zod';
import { parseEnv } from '../config.ts';

export const DEFAULT_TEST_ENDPOINT = 'http://127.0.0.1:4566';

export const testEnv = parseEnv(
  {
    AWS_ENDPOINT_URL: z.url().default(DEFAULT_TEST_ENDPOINT).describe('Emulator the tests run against'),
    AWS_REGION: z.string().default('us-east-1'),
  },
  process.env,
);
