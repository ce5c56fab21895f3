/**
 * Environment of the local scripts (run, deploy). These drive the local emulator by design, so
 * unlike a service's config they default the endpoint to loopback.
 */
import { z } from 'zod';
import { parseEnv } from '@flotilla/platform';

export const scriptEnv = parseEnv(
  {
    AWS_ENDPOINT_URL: z.url().default('http://127.0.0.1:4566').describe('Emulator endpoint (the scripts target the local AWS)'),
    AWS_REGION: z.string().default('us-east-1'),
    AWS_ACCESS_KEY_ID: z.string().default('test'),
    AWS_SECRET_ACCESS_KEY: z.string().default('test'),
    LOG_LEVEL: z.string().default('info'),
    EMULATOR_PERSIST: z
      .enum(['0', '1'])
      .default('1')
      .describe('1: an emulator the run command starts keeps its state across restarts (scripts/emulator.sh); 0: in memory'),
    EMULATOR_STATE_DIR: z.string().min(1).optional().describe('Where that state lives (default .run/emulator-<port>/state)'),
  },
  process.env,
);
