/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { intakeEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000).describe('How often the reconciler looks at in-flight builds'),
    EXECUTION_DEADLINE_MS: z.coerce.number().int().min(0).default(30 * 60_000).describe('Age after which an in-flight build is checked with DescribeExecution'),
  },
  process.env,
);
export type Config = typeof config;
