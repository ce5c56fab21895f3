/**
 * The log's stream is the outbox: every new event is published to the events topic (type, stream
 * and region as message attributes, for subscription filters), then the orchestrator acts on it:
 * build.requested -> append build.started; build.started -> StartExecution; build.failed -> one
 * alert. Each effect is idempotent (an append at a fixed expected version, a named execution, an
 * alert keyed on the event id), so a batch read twice acts once. A record that can never be acted
 * on fails its build with the reason, and the reader moves on; retryable errors hold the shard.
 */
import { buildIdOfStream, parseEvent, type BuildEvent, type EventEnvelope } from '@flotilla/events';
import {
  ConcurrencyError,
  decideAndAppend,
  eventFromStreamRecord,
  faultPoint,
  isRetryable,
  loadBuild,
  publish,
  startExecutionOnce,
  stopExecution,
  type StreamBatch,
  type TransactWriteItem,
} from '@flotilla/platform';
import { decideFailure, react, type Reaction } from '../domain/decide.ts';
import { IN_FLIGHT_PK, watermarkWrite, type OrchestratorDeps } from './deps.ts';

async function carryOut(deps: OrchestratorDeps, event: BuildEvent, reaction: Reaction): Promise<void> {
  switch (reaction.kind) {
    case 'append':
      try {
        await deps.store.append(event.stream, reaction.events, reaction.expectedVersion);
      } catch (error) {
        // Someone (an earlier read of this record) already moved the stream on: nothing to do. Only
        // a head above the expected version says so; anything else is thrown, to hold the shard (H4).
        if (!(error instanceof ConcurrencyError) || (error.actualVersion ?? (await deps.store.headVersion(event.stream))) <= reaction.expectedVersion) throw error;
      }
      return;
    case 'start-execution': {
      const outcome = await startExecutionOnce(deps.aws.sfn, { stateMachineArn: deps.stateMachineArn, name: reaction.name, input: reaction.input });
      deps.logger.info({ stream: event.stream, executionArn: reaction.executionArn, outcome }, 'execution start');
      faultPoint('execution.after-start');
      return;
    }
    case 'stop-execution': {
      const outcome = await stopExecution(deps.aws.sfn, { executionArn: reaction.executionArn, error: 'Flotilla.Cancelled', cause: reaction.cause });
      deps.logger.info({ stream: event.stream, executionArn: reaction.executionArn, outcome }, 'build cancelled: execution stop');
      return;
    }
    case 'track-in-flight':
      await deps.inFlight.put({ pk: IN_FLIGHT_PK, sk: reaction.buildId }, { executionArn: reaction.executionArn, startedAt: reaction.startedAt, stream: event.stream });
      return;
    case 'untrack':
      await deps.inFlight.delete({ pk: IN_FLIGHT_PK, sk: reaction.buildId });
      return;
    case 'publish-alert': {
      const { duplicate } = await deps.idempotency.runOnce(`alert#${event.id}`, () =>
        publish(deps.aws.sns, deps.locator.topicArn(deps.locator.names.topics.alerts), reaction.alert, { type: 'build.failed', buildId: reaction.alert.buildId }),
      );
      deps.logger.warn({ stream: event.stream, failedRegions: reaction.alert.failedRegions, duplicate }, 'build failed: alert published');
      return;
    }
    default: {
      const _never: never = reaction;
      return _never;
    }
  }
}

/** Publishes one event and acts on it. */
export async function relayOne(deps: OrchestratorDeps, envelope: EventEnvelope): Promise<void> {
  const region = (envelope.data as { region?: unknown } | null)?.region;
  await publish(deps.aws.sns, deps.locator.topicArn(deps.locator.names.topics.events), envelope, {
    type: envelope.type,
    stream: envelope.stream,
    region: typeof region === 'string' ? region : undefined,
  });
  if (!buildIdOfStream(envelope.stream)) return;
  const event = parseEvent(envelope);
  const { state } = await loadBuild(deps.store, event.stream);
  for (const reaction of react(event, state, { stateMachineArn: deps.stateMachineArn, syncQueueUrls: deps.syncQueueUrls, now: Date.now() })) {
    await carryOut(deps, event, reaction);
  }
}

/**
 * Relays one record of the log: publish and act. A record that can never be acted on fails its
 * build with the reason, and the caller moves on; a retryable error is thrown, to hold the shard.
 */
export async function relayRecord(deps: OrchestratorDeps, envelope: EventEnvelope): Promise<void> {
  const logger = deps.logger.child({ stream: envelope.stream, type: envelope.type, version: envelope.version, correlationId: envelope.correlationId });
  try {
    await relayOne({ ...deps, logger }, envelope);
  } catch (error) {
    if (isRetryable(error)) throw error;
    const reason = `orchestrator could not act on ${envelope.type} v${envelope.version}: ${(error as Error).message}`;
    logger.error({ err: error }, 'record cannot be acted on: failing the build');
    if (buildIdOfStream(envelope.stream)) {
      await decideAndAppend(deps.store, envelope.stream, (state, history) =>
        decideFailure(state, history, reason, { correlationId: envelope.correlationId, causationId: envelope.id, now: Date.now() }),
      );
    }
  }
}

/** The stream reader's handler: each record relayed, and the relay's watermark committed with the checkpoint. */
export function relayHandler(deps: OrchestratorDeps) {
  return async (batch: StreamBatch): Promise<TransactWriteItem[]> => {
    let last: string | undefined;
    for (const record of batch.records) {
      const envelope = record.eventName === 'INSERT' ? eventFromStreamRecord(record) : undefined;
      if (!envelope) continue;
      await relayRecord(deps, envelope);
      if (!last || envelope.id > last) last = envelope.id;
    }
    return last ? [watermarkWrite(deps.inFlight, last)] : [];
  };
}
