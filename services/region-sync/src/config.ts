/** This service's environment, parsed once at start; process.env is read nowhere else. */
import { z } from 'zod';
import { parseEnv, platformEnvShape } from '@flotilla/platform';

export const config = parseEnv(
  {
    ...platformEnvShape,
    HOST_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0).describe('Probability that one host transfer fails (failure injection)'),
    MAX_HOST_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3).describe('Transfers tried per host before it is failed'),
    MIN_HEALTHY_PERCENT: z.coerce.number().min(0).max(100).default(100).describe('Share of hosts that must sync for the region to succeed'),
    BUCKET_FANOUT: z.coerce.number().int().min(1).max(100).default(4).describe('Hosts the regional bucket seeds per round'),
    RECOUNT_WINDOW_MS: z.coerce
      .number()
      .int()
      .min(60_000)
      .default(24 * 3_600_000)
      .describe('When the host stream lost records (emulator restart), builds requested this recently get their counters recounted'),
    SYNC_CONCURRENCY: z.coerce
      .number()
      .int()
      .min(1)
      .max(32)
      .default(4)
      .describe("Sync tasks each region's worker runs at once (one SQS poller each); each task streams its spread, so memory grows little with it, and their host writes share HOST_WRITE_CONCURRENCY"),
    HOST_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8).describe('BatchWriteItem requests (25 host records each) in flight in this process, shared by every region syncing at once'),
  },
  process.env,
);
export type Config = typeof config;
