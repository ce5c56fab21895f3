/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { intakeEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    SSE_POLL_MS: z.coerce.number().int().min(50).default(500).describe('How often a live event stream checks the log for new events'),
  },
  process.env,
);
export type Config = typeof config;
