/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { intakeEnvShape, onboardingEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    ...onboardingEnvShape,
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
    GITHUB_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.github.com').describe("GitHub's API for onboarding (REST, and GraphQL at <url>/graphql); ./scripts/run.sh points it at the local simulator"),
    GITHUB_TOKEN: z
      .string()
      .optional()
      // The template passes its GitHubToken parameter on as it is: empty means none.
      .transform((token) => token || undefined)
      .describe('Token the onboarding driver calls GitHub with (pull requests, auto-merge, workflow dispatch); without it creations are recorded but wait, and are reported stuck'),
    GITHUB_OWNER: z.string().regex(/^[A-Za-z0-9-]{1,39}$/).default('flotilla-org').describe('The GitHub organisation whose repositories onboarding changes (infra, app-config, proxy-upstreams, service-definitions, boilerplate)'),
    GITHUB_PACE_WRITES: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true')
      .describe("Space GitHub writes as GitHub asks (1 s apart, 3 s between pull requests and comments); 'false' for the local simulator, which asks nothing of the kind"),
    ONBOARDING_POLL_MS: z.coerce
      .number()
      .int()
      .min(100)
      .default(60_000)
      .describe("How long a service creation waits for GitHub's webhook before it polls GitHub for the state it waits on (then once per this interval)"),
    ONBOARDING_DRIVE_MS: z.coerce.number().int().min(100).default(1_000).describe('How often the onboarding driver looks at every open creation (the relay also wakes it on each event of one)'),
  },
  process.env,
);
export type Config = typeof config;
