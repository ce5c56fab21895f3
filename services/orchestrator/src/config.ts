/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { intakeEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000).describe('How often the reconciler looks at every build that has not ended'),
    RECONCILE_GRACE_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe('How long the normal path (relay, deploy.finished) gets before the reconciler acts on a build or an ended execution'),
  },
  process.env,
);
export type Config = typeof config;
