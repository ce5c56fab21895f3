/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { intakeEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    RELAY_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(1)
      .max(64)
      .default(16)
      .describe("Builds whose events the relay publishes and acts on at once, within one batch of the log's stream (each build's events stay in order; 1 relays one record at a time)"),
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000).describe('How often the reconciler looks at every build that has not ended'),
    RECONCILE_GRACE_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe('How long the normal path (relay, deploy.finished) gets before the reconciler acts on a build or an ended execution'),
    TESTRUN_SUPERVISE_MS: z.coerce
      .number()
      .int()
      .min(100)
      .default(1_000)
      .describe("How often the test-run supervisor looks at each open run: the deadline, and teardown of each region that is done (a region's teardown is seen within about this)"),
  },
  process.env,
);
export type Config = typeof config;
