/** Wiring only: the replication task worker, health and graceful shutdown. */
import { IdempotencyStore, locate, Records, startService, taskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { replicateTask, replicateTaskSchema } from './handlers/replicate.ts';

await startService({
  name: 'replication',
  config,
  workers: async ({ aws, store, logger, resources }) => {
    const locator = await locate(aws, config.FLOTILLA_PREFIX);
    const worker = taskWorker({
      name: 'replicate',
      sqs: aws.sqs,
      sfn: aws.sfn,
      ...(await locator.queuePair(resources.queues.replication)),
      logger,
      idempotency: new IdempotencyStore(aws.dynamodb, resources.tables.idempotency),
      parseInput: (input) => replicateTaskSchema.parse(input),
      work: replicateTask({
        aws,
        store,
        copies: new Records(aws.dynamodb, resources.tables.fileCopies),
        regionBucket: (region) => resources.regionBucket(region),
        failRegions: config.FAIL_REPLICATION_REGIONS,
      }),
    });
    worker.start();
    return [worker];
  },
});
