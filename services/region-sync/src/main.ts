/** Wiring only: one sync worker per region queue, the host-counter stream reader, health, shutdown. */
import { Records, REGIONS, startService, startStreamReader, startTaskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { countersHandler } from './handlers/counters.ts';
import { syncTask, syncTaskSchema } from './handlers/sync.ts';

await startService({
  name: 'region-sync',
  config,
  workers: async (ctx) => {
    const work = syncTask({
      aws: ctx.aws,
      store: ctx.store,
      hostsTable: ctx.resources.tables.hosts,
      spread: { hostFailureRate: config.HOST_FAILURE_RATE, maxAttempts: config.MAX_HOST_ATTEMPTS, bucketFanout: config.BUCKET_FANOUT, minHealthyPercent: config.MIN_HEALTHY_PERCENT },
      writeConcurrency: config.HOST_WRITE_CONCURRENCY,
    });
    const workers = await Promise.all(
      REGIONS.map((region) =>
        startTaskWorker(ctx, ctx.resources.syncQueue(region), { name: `sync-${region}`, logger: ctx.logger.child({ region }), parseInput: (input) => syncTaskSchema.parse(input), work }),
      ),
    );
    const counters = startStreamReader(ctx, {
      name: 'host-counters',
      tableName: ctx.resources.tables.hosts,
      // Each distinct build and region in a batch is one write in the checkpoint's transaction (max 100).
      batchSize: 99,
      handle: countersHandler(new Records(ctx.aws.dynamodb, ctx.resources.tables.projections)),
    });
    return [...workers, counters];
  },
});
