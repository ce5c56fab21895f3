/** Wiring only: the replication task worker, health and graceful shutdown. */
import { Records, startService, startTaskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { replicateTask, replicateTaskSchema } from './handlers/replicate.ts';

await startService({
  name: 'replication',
  config,
  workers: async (ctx) => [
    await startTaskWorker(ctx, ctx.resources.queues.replication, {
      name: 'replicate',
      // One region's copy per poller: several builds' regions at once, a slow copy holding up no other.
      concurrency: config.REPLICATION_CONCURRENCY,
      parseInput: (input) => replicateTaskSchema.parse(input),
      work: replicateTask({
        aws: ctx.aws,
        store: ctx.store,
        copies: new Records(ctx.aws.dynamodb, ctx.resources.tables.fileCopies),
        regionBucket: (region) => ctx.resources.regionBucket(region),
        failRegions: config.FAIL_REPLICATION_REGIONS,
      }),
    }),
  ],
});
