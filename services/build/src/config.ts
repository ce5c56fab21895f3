/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { apiTokenEnvShape, intakeEnvShape, onboardingEnvShape, parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    ...intakeEnvShape,
    ...apiTokenEnvShape,
    ...onboardingEnvShape,
    GITHUB_WEBHOOK_SECRET: z
      .union([z.literal(''), z.string().min(16, 'at least 16 characters')])
      .optional()
      // The template passes its GitHubWebhookSecret parameter on as it is: empty means none.
      .transform((secret) => secret || undefined)
      .describe("The secret GitHub signs webhooks with (X-Hub-Signature-256); without it POST /webhooks/github answers 401 not_configured. ./scripts/run.sh makes one for the local simulator"),
    BUILD_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe('Build tasks this process works on at once (one SQS poller each, one task per receive)'),
    INTAKE_MAX_BACKLOG: z.coerce
      .number()
      .int()
      .min(0)
      .default(2_000)
      .describe('Open builds (listed PENDING or IN_PROGRESS) at which POST /builds answers 503 with Retry-After instead of taking more (0: never)'),
    INTAKE_BACKLOG_REFRESH_MS: z.coerce.number().int().min(50).default(1_000).describe('How often, at most, intake counts the open builds (one capped Query per status, never one per request)'),
    INTAKE_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).max(3_600).default(5).describe('The Retry-After a 503 for a full backlog carries, in seconds'),
    SSE_POLL_MS: z.coerce.number().int().min(50).default(500).describe('How often a live event stream first checks the log for new events'),
    SSE_POLL_MAX_MS: z.coerce.number().int().min(50).default(5_000).describe('The longest a quiet live event stream waits between reads of the log (it backs off to this while nothing happens)'),
    SSE_MAX_STREAMS: z.coerce.number().int().min(1).default(200).describe('Live event streams open at once, across all clients (429 past it)'),
    SSE_MAX_STREAMS_PER_CLIENT: z.coerce.number().int().min(1).default(10).describe('Live event streams open at once from one client address (429 past it)'),
  },
  process.env,
);
export type Config = typeof config;
