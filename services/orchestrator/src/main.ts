/** Wiring only: the stream relay, the intake doors, deploy.finished, the reconciler, the test-run supervisor, the onboarding driver, and health. */
import { createGitHub, intakeDefaults, Records, startConsumer, startService, startStreamReader } from '@flotilla/platform';
import { config } from './config.ts';
import type { OrchestratorDeps } from './handlers/deps.ts';
import { catchUpFromLog } from './handlers/catch-up.ts';
import { deployFinishedHandler } from './handlers/deploy-finished.ts';
import { intakeHandler } from './handlers/intake.ts';
import { startOnboardingDriver } from './handlers/onboarding/driver.ts';
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
    let driver: ReturnType<typeof startOnboardingDriver> | undefined;
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
      onboarding: { stepDeadlineMs: config.ONBOARDING_STEP_DEADLINE_MS, wake: () => driver?.wake() },
    };
    const github = config.GITHUB_TOKEN
      ? createGitHub({ baseUrl: config.GITHUB_API_URL, token: config.GITHUB_TOKEN, owner: config.GITHUB_OWNER, paceWrites: config.GITHUB_PACE_WRITES, logger: logger.child({ part: 'github' }) })
      : undefined;
    if (github) driver = startOnboardingDriver(deps, github, config.ONBOARDING_DRIVE_MS, { pollAfterMs: config.ONBOARDING_POLL_MS });
    else logger.warn('onboarding driver off: no GITHUB_TOKEN; service creations are recorded but wait, and are reported stuck');
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
      ...(driver ? [driver] : []),
    ];
  },
});
