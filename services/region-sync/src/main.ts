/** Wiring only: the host-counter stream reader, then one sync worker per region queue, health, shutdown. */
import { MAX_GET_RECORDS, Records, RequestSlots, startService, startStreamReader, startTaskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { countersHandler } from './handlers/counters.ts';
import { recountRecentBuilds } from './handlers/recount.ts';
import { syncTask, syncTaskSchema } from './handlers/sync.ts';

await startService({
  name: 'region-sync',
  config,
  workers: async (ctx) => {
    const counters = new Records(ctx.aws.dynamodb, ctx.resources.tables.projections);
    // First: the counter reader, which recounts from the host records if its stream lost records.
    // Only then the sync workers, the one writer of host records, so no write races the recount.
    const reader = await startStreamReader(ctx, {
      name: 'host-counters',
      tableName: ctx.resources.tables.hosts,
      // As many records as one GetRecords gives: the handler adds them up per build and region, so
      // a read is a handful of writes, and a read with more than 99 of those is committed in parts.
      batchSize: MAX_GET_RECORDS,
      handle: countersHandler(counters),
      onRecordsLost: async () => void (await recountRecentBuilds({ aws: ctx.aws, names: ctx.resources, counters, logger: ctx.logger }, config.RECOUNT_WINDOW_MS)),
    });
    const work = syncTask({
      aws: ctx.aws,
      store: ctx.store,
      hostsTable: ctx.resources.tables.hosts,
      spread: { hostFailureRate: config.HOST_FAILURE_RATE, maxAttempts: config.MAX_HOST_ATTEMPTS, bucketFanout: config.BUCKET_FANOUT, minHealthyPercent: config.MIN_HEALTHY_PERCENT },
      writeConcurrency: config.HOST_WRITE_CONCURRENCY,
      // One pool for the process: however many regions sync at once, the requests in flight (and
      // the records held for them) stay HOST_WRITE_CONCURRENCY, and the counter reader keeps up.
      writeSlots: new RequestSlots(config.HOST_WRITE_CONCURRENCY),
    });
    // One worker per region the stack has (a test stack may carry only a few).
    const workers = await Promise.all(
      (await ctx.locator.regions()).map((region) =>
        startTaskWorker(ctx, ctx.resources.syncQueue(region), { name: `sync-${region}`, logger: ctx.logger.child({ region }), concurrency: config.SYNC_CONCURRENCY, parseInput: (input) => syncTaskSchema.parse(input), work }),
      ),
    );
    return [...workers, reader];
  },
});
