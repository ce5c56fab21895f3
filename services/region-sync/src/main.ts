/** Wiring only: one sync worker per region queue, the host-counter stream reader, health, shutdown. */
import { IdempotencyStore, locate, Records, REGIONS, startService, StreamReader, taskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { countersHandler } from './handlers/counters.ts';
import { syncTask, syncTaskSchema } from './handlers/sync.ts';

await startService({
  name: 'region-sync',
  config,
  workers: async ({ aws, store, logger, resources }) => {
    const locator = await locate(aws, config.FLOTILLA_PREFIX);
    const idempotency = new IdempotencyStore(aws.dynamodb, resources.tables.idempotency);
    const work = syncTask({
      aws,
      store,
      hostsTable: resources.tables.hosts,
      spread: { hostFailureRate: config.HOST_FAILURE_RATE, maxAttempts: config.MAX_HOST_ATTEMPTS, bucketFanout: config.BUCKET_FANOUT, minHealthyPercent: config.MIN_HEALTHY_PERCENT },
      writeConcurrency: config.HOST_WRITE_CONCURRENCY,
    });
    const workers = await Promise.all(
      REGIONS.map(async (region) => {
        const worker = taskWorker({
          name: `sync-${region}`,
          sqs: aws.sqs,
          sfn: aws.sfn,
          ...(await locator.queuePair(resources.syncQueue(region))),
          logger: logger.child({ region }),
          idempotency,
          parseInput: (input) => syncTaskSchema.parse(input),
          work,
        });
        worker.start();
        return worker;
      }),
    );
    const counters = new StreamReader({
      name: 'host-counters',
      db: aws.dynamodb,
      streams: aws.streams,
      tableName: resources.tables.hosts,
      checkpointTable: resources.tables.checkpoints,
      logger,
      // Each distinct build and region in a batch is one write in the checkpoint's transaction (max 100).
      batchSize: 99,
      handle: countersHandler(new Records(aws.dynamodb, resources.tables.projections)),
    });
    counters.start();
    return [...workers, counters];
  },
});
