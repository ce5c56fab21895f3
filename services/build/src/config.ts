/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { apiTokenEnvShape, intakeEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    ...apiTokenEnvShape,
    SSE_POLL_MS: z.coerce.number().int().min(50).default(500).describe('How often a live event stream first checks the log for new events'),
    SSE_POLL_MAX_MS: z.coerce.number().int().min(50).default(5_000).describe('The longest a quiet live event stream waits between reads of the log (it backs off to this while nothing happens)'),
    SSE_MAX_STREAMS: z.coerce.number().int().min(1).default(200).describe('Live event streams open at once, across all clients (429 past it)'),
    SSE_MAX_STREAMS_PER_CLIENT: z.coerce.number().int().min(1).default(10).describe('Live event streams open at once from one client address (429 past it)'),
  },
  process.env,
);
export type Config = typeof config;
