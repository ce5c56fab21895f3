/** Wiring only: the HTTP API, the projector, the build task worker, health and graceful shutdown. */
import { consume, IdempotencyStore, locate, Records, startService, taskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { apiRoutes } from './handlers/api.ts';
import { buildTask, buildTaskSchema } from './handlers/build-task.ts';
import { projector } from './handlers/projector.ts';

await startService({
  name: 'build',
  config,
  routes: ({ aws, store, logger, resources }) =>
    apiRoutes({
      store,
      idempotency: new IdempotencyStore(aws.dynamodb, resources.tables.idempotency),
      projections: new Records(aws.dynamodb, resources.tables.projections),
      logger,
      defaults: { regions: config.DEFAULT_REGIONS, hostsPerRegion: config.DEFAULT_HOSTS_PER_REGION },
      ssePollMs: config.SSE_POLL_MS,
    }),
  workers: async ({ aws, store, logger, resources }) => {
    const locator = await locate(aws, config.FLOTILLA_PREFIX);
    const builds = taskWorker({
      name: 'build',
      sqs: aws.sqs,
      sfn: aws.sfn,
      ...(await locator.queuePair(resources.queues.build)),
      logger,
      idempotency: new IdempotencyStore(aws.dynamodb, resources.tables.idempotency),
      parseInput: (input) => buildTaskSchema.parse(input),
      work: buildTask({ aws, store, globalBucket: resources.globalBucket }),
    });
    const views = consume({
      name: 'projector',
      sqs: aws.sqs,
      ...(await locator.queuePair(resources.queues.projections)),
      logger,
      handle: projector({ store, views: new Records(aws.dynamodb, resources.tables.projections) }),
    });
    builds.start();
    views.start();
    return [builds, views];
  },
});
