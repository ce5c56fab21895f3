/**
 * The reconciler against the emulator: an execution that ended without its deploy.finished
 * message (here: stopped by hand, so ABORTED) gets build.failed once, and leaves the in-flight list.
 */
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildStream, createEventId, foldBuild, newEvent } from '@flotilla/events';
import { BuildProjections, readBuildEvents, Records, startExecutionOnce } from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { executionStatus } from '@flotilla/platform';
import { executionArn, executionName } from '../src/domain/execution.ts';
import { IN_FLIGHT_PK, type OrchestratorDeps } from '../src/handlers/deps.ts';
import { orchestratorTestDeps } from './support.ts';
import { reconcileOnce, startReconciler } from '../src/handlers/reconcile.ts';

const aws = testAwsClients();
let stack: TestStack;
let deps: OrchestratorDeps;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('reconcile'));
  deps = await orchestratorTestDeps(aws, stack);

});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

it('fails a build whose execution was aborted without telling the orchestrator, once', async () => {
  const buildId = '01JD0ZQ8X3V7K2M4N6P8R0T2W9';
  const stream = buildStream(buildId);
  const name = executionName({ repo: 'payments-api', env: 'prod', buildId });
  const arn = executionArn(deps.stateMachineArn, name);
  const meta = { correlationId: buildId, causationId: 'test' };
  await deps.store.append(
    stream,
    [
      newEvent({
        type: 'build.requested',
        data: { buildId, repo: 'payments-api', env: 'prod', version: '1.0.0', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 1, source: { door: 'http', key: 'k' } },
        ...meta,
      }),
      newEvent({ type: 'build.started', data: { executionArn: arn }, ...meta }),
    ],
    0,
  );
  // The execution waits on a build task nobody answers; stopping it ends it without deploy.finished.
  expect(await startExecutionOnce(aws.sfn, { stateMachineArn: deps.stateMachineArn, name, input: { buildId, stream, correlationId: buildId, regions: [] } })).toBe('started');
  await aws.sfn.send(new StopExecutionCommand({ executionArn: arn, error: 'Stopped', cause: 'by the test' }));
  await eventually(async () => ((await executionStatus(aws.sfn, arn)).status === 'ABORTED' ? true : undefined), { description: 'the execution to be aborted' });
  await deps.inFlight.put({ pk: IN_FLIGHT_PK, sk: buildId }, { executionArn: arn, startedAt: new Date(Date.now() - 60_000).toISOString(), stream });

  // Ended within the grace: deploy.finished may still come, so it is left alone.
  expect(await reconcileOnce(deps, 10 * 60_000)).toBe(0);
  const later = Date.now() + 5_000;
  expect(await reconcileOnce(deps, 1_000, later)).toBe(1);
  const events = await readBuildEvents(deps.store, stream);
  expect(events.map((e) => e.type)).toEqual(['build.requested', 'build.started', 'build.failed']);
  expect(events[2]?.type === 'build.failed' && events[2].data.reason).toMatch(/^execution ABORTED/);
  expect(await deps.inFlight.list(IN_FLIGHT_PK)).toEqual([]);
  // A second pass finds nothing left to do.
  expect(await reconcileOnce(deps, 1_000, later)).toBe(0);
});

it('sees a PENDING build nobody tracks, whose build.requested was never relayed, and moves it on', async () => {
  const buildId = createEventId();
  const stream = buildStream(buildId);
  await deps.store.append(
    stream,
    [
      newEvent({
        type: 'build.requested',
        data: { buildId, repo: 'payments-api', env: 'prod', version: '2.0.0', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 1, source: { door: 'http', key: buildId } },
        correlationId: buildId,
        causationId: 'test',
      }),
    ],
    0,
  );
  // Only the build list knows it (as the projector left it): no in-flight record, no relay.
  const projections = new BuildProjections(aws.dynamodb, deps.locator.names.tables);
  await projections.writeListRow(foldBuild(await readBuildEvents(deps.store, stream)));
  // A broken list entry (its stream holds an event this code cannot read) must not stall the rest.
  const broken = createEventId();
  await deps.store.append(buildStream(broken), [{ ...newEvent({ type: 'build.succeeded', data: {}, correlationId: 'c', causationId: 'k' }), schemaVersion: 99 }], 0);
  await deps.inFlight.put({ pk: IN_FLIGHT_PK, sk: broken }, { stream: buildStream(broken) });

  // A minute on, past the grace.
  await reconcileOnce({ ...deps, syncQueueUrls: { 'us-east-1': 'https://sqs.invalid/us-east-1' } }, 30_000, Date.now() + 60_000);
  const events = await readBuildEvents(deps.store, stream);
  expect(events.map((e) => e.type)).toEqual(['build.requested', 'build.started']);
});

it('never runs two passes at once, however short the interval (issue 9: passes outlasting it overlapped)', async () => {
  // The real in-flight list, watched: each pass starts by listing it.
  let running = 0;
  let peak = 0;
  let passes = 0;
  const inFlight = new Records(aws.dynamodb, deps.locator.names.tables.checkpoints);
  const list = inFlight.list.bind(inFlight);
  inFlight.list = async (...args: Parameters<typeof list>) => {
    running++;
    passes++;
    peak = Math.max(peak, running);
    try {
      // Slower than the interval, as a pass over hundreds of builds is on a saturated emulator.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return await list(...args);
    } finally {
      running--;
    }
  };
  const reconciler = startReconciler({ ...deps, inFlight }, 1, 30_000);
  await eventually(() => Promise.resolve(passes >= 5 ? true : undefined), { description: 'five passes' });
  await reconciler.stop();
  expect(peak).toBe(1);
  const after = passes;
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(passes).toBe(after);
});
