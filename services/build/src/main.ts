/** Wiring only: the HTTP API, the projector, the build task worker, health and graceful shutdown. */
import { BuildProjections, countBuildsWithStatus, intakeDefaults, Records, startConsumer, startService, startTaskWorker } from '@flotilla/platform';
import { config } from './config.ts';
import { buildTask, buildTaskSchema } from './handlers/build-task.ts';
import { projector } from './handlers/projector.ts';
import { IntakeBacklog } from './http/backlog.ts';
import { buildApi } from './http/index.ts';

await startService({
  name: 'build',
  config,
  apiToken: config.FLOTILLA_API_TOKEN,
  routes: async ({ aws, store, idempotency, logger, resources, locator }) => {
    const regions = await locator.regions();
    return buildApi({
      aws,
      store,
      idempotency,
      projections: new BuildProjections(aws.dynamodb, resources.tables),
      leases: new Records(aws.dynamodb, resources.tables.checkpoints),
      logger,
      locator,
      regions,
      defaults: intakeDefaults(config, regions),
      intakeTopicArn: locator.topicArn(locator.names.topics.intake),
      onboarding: { stepDeadlineMs: config.ONBOARDING_STEP_DEADLINE_MS, webhookSecret: config.GITHUB_WEBHOOK_SECRET },
      sse: { pollMs: config.SSE_POLL_MS, maxPollMs: config.SSE_POLL_MAX_MS, maxStreams: config.SSE_MAX_STREAMS, maxStreamsPerClient: config.SSE_MAX_STREAMS_PER_CLIENT },
      backlog: new IntakeBacklog(
        async (cap) => {
          const pending = await countBuildsWithStatus(aws.dynamodb, resources.tables.builds, 'PENDING', cap);
          return pending >= cap ? pending : pending + (await countBuildsWithStatus(aws.dynamodb, resources.tables.builds, 'IN_PROGRESS', cap - pending));
        },
        { maxBacklog: config.INTAKE_MAX_BACKLOG, refreshMs: config.INTAKE_BACKLOG_REFRESH_MS, retryAfterSeconds: config.INTAKE_RETRY_AFTER_SECONDS },
        logger.child({ part: 'intake-backlog' }),
      ),
    });
  },
  workers: async (ctx) => [
    await startTaskWorker(ctx, ctx.resources.queues.build, {
      name: 'build',
      // One build per poller, several at once: a slow build does not hold up the others.
      concurrency: config.BUILD_CONCURRENCY,
      parseInput: (input) => buildTaskSchema.parse(input),
      work: buildTask({ aws: ctx.aws, store: ctx.store, globalBucket: ctx.resources.globalBucket }),
    }),
    await startConsumer(ctx, ctx.resources.queues.projections, projector({ store: ctx.store, projections: new BuildProjections(ctx.aws.dynamodb, ctx.resources.tables) })),
  ],
});
