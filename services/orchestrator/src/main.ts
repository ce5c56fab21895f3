/** Wiring only: the stream relay, the intake doors, deploy.finished, the reconciler, the test-run supervisor, and health. */
import { intakeDefaults, Records, startConsumer, startService, startStreamReader } from '@flotilla/platform';
import { config } from './config.ts';
import type { OrchestratorDeps } from './handlers/deps.ts';
import { catchUpFromLog } from './handlers/catch-up.ts';
import { deployFinishedHandler } from './handlers/deploy-finished.ts';
import { intakeHandler } from './handlers/intake.ts';
import { startReconciler } from './handlers/reconcile.ts';
import { relayHandler } from './handlers/relay.ts';
import { startTestRunSupervisor } from './handlers/testruns.ts';
import { uploadHandler } from './handlers/upload.ts';

await startService({
  name: 'orchestrator',
  config,
  workers: async (ctx) => {
    const { aws, store, idempotency, locator, logger, resources } = ctx;
    const regions = await locator.regions();
    const syncQueueUrls = Object.fromEntries(await Promise.all(regions.map(async (r) => [r, await locator.queueUrl(resources.syncQueue(r))] as const)));
    const checkpoints = new Records(aws.dynamodb, resources.tables.checkpoints);
    const deps: OrchestratorDeps = {
      aws,
      store,
      idempotency,
      inFlight: checkpoints,
      leases: checkpoints,
      locator,
      logger,
      stateMachineArn: locator.stateMachineArn(),
      regions,
      syncQueueUrls,
      defaults: intakeDefaults(config, regions),
    };
    return [
      await startConsumer(ctx, resources.queues.intake, intakeHandler(deps)),
      await startConsumer(ctx, resources.queues.uploads, uploadHandler(deps)),
      await startConsumer(ctx, resources.queues.orchestrator, deployFinishedHandler(deps)),
      await startStreamReader(ctx, {
        name: 'orchestrator-relay',
        tableName: resources.tables.events,
        handle: relayHandler(deps, config.RELAY_CONCURRENCY),
        onRecordsLost: async () => void (await catchUpFromLog(deps)),
      }),
      startReconciler(deps, config.RECONCILE_INTERVAL_MS, config.RECONCILE_GRACE_MS),
      startTestRunSupervisor(deps, config.TESTRUN_SUPERVISE_MS),
    ];
  },
});
