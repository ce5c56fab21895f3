/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { parseEnv, platformEnvShape, REGIONS } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    REPLICATION_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(1)
      .max(64)
      .default(16)
      .describe('Regional copies this process works on at once (one SQS poller each, one task per receive)'),
    FAIL_REPLICATION_REGIONS: z
      .string()
      .default('')
      .transform((list) => list.split(',').map((r) => r.trim()).filter(Boolean))
      .pipe(z.array(z.enum(REGIONS as [string, ...string[]])))
      .describe('Failure injection: regions whose copy always fails (comma-separated; tests only)'),
  },
  process.env,
);
export type Config = typeof config;
