/** Wiring only: the stream relay, the intake doors, deploy.finished, the reconciler, and health. */
import { consume, IdempotencyStore, locate, Records, REGIONS, startService, StreamReader } from '@flotilla/platform';
import { config } from './config.ts';
import type { OrchestratorDeps } from './handlers/deps.ts';
import { deployFinishedHandler } from './handlers/deploy-finished.ts';
import { intakeHandler } from './handlers/intake.ts';
import { startReconciler } from './handlers/reconcile.ts';
import { relayHandler } from './handlers/relay.ts';
import { uploadHandler } from './handlers/upload.ts';

await startService({
  name: 'orchestrator',
  config,
  workers: async ({ aws, store, logger, resources }) => {
    const locator = await locate(aws, config.FLOTILLA_PREFIX);
    const syncQueueUrls = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await locator.queueUrl(resources.syncQueue(r))] as const)));
    const deps: OrchestratorDeps = {
      aws,
      store,
      idempotency: new IdempotencyStore(aws.dynamodb, resources.tables.idempotency),
      inFlight: new Records(aws.dynamodb, resources.tables.checkpoints),
      locator,
      logger,
      stateMachineArn: locator.stateMachineArn(),
      syncQueueUrls,
      defaults: { regions: config.DEFAULT_REGIONS, hostsPerRegion: config.DEFAULT_HOSTS_PER_REGION },
    };
    const queue = async (name: string, handle: ReturnType<typeof intakeHandler>) => {
      const consumer = consume({ name, sqs: aws.sqs, ...(await locator.queuePair(name)), logger, handle });
      consumer.start();
      return consumer;
    };
    const relay = new StreamReader({
      name: 'orchestrator-relay',
      db: aws.dynamodb,
      streams: aws.streams,
      tableName: resources.tables.events,
      checkpointTable: resources.tables.checkpoints,
      logger,
      handle: relayHandler(deps),
    });
    relay.start();
    return [
      await queue(resources.queues.intake, intakeHandler(deps)),
      await queue(resources.queues.uploads, uploadHandler(deps)),
      await queue(resources.queues.orchestrator, deployFinishedHandler(deps)),
      relay,
      startReconciler(deps, config.RECONCILE_INTERVAL_MS, config.EXECUTION_DEADLINE_MS),
    ];
  },
});
