/**
 * The log's stream is the outbox: every new event is published to the events topic (type, stream
 * and region as message attributes, for subscription filters), then the orchestrator acts on it:
 * build.requested -> append build.started; build.started -> StartExecution; build.failed -> one
 * alert; testrun.requested -> the run's scripts stored and its runners scaled up; service.requested
 * -> the creation opened for the onboarding driver, which every event of a creation wakes. Each
 * effect is idempotent (an append at a fixed expected version, a named execution, an alert keyed
 * on the event id, a row put by key), so a batch read twice acts once.
 *
 * What goes wrong is sorted by whose fault it is (reviews M2, M3):
 * - the event's own (invalid, or refused by the decider): its build fails with the reason, and the
 *   reader moves on; a record that cannot be read at all, or whose stream cannot be folded to fail
 *   the build, is quarantined (a row under QUARANTINE_PK, logged at error) and the reader moves on;
 * - an effect's (publish, StartExecution, a DynamoDB call): nothing fails; the error is thrown
 *   retryable and the reader holds the shard and retries, however the SDK classed it;
 * - an event newer than this code (unknown type, newer schemaVersion: a writer deployed first):
 *   held like an effect failure, never failed nor quarantined, until this reader is upgraded. Order
 *   within the shard is kept: the records behind it wait, which the held reader logs at error.
 */
import {
  buildIdOfStream,
  InvalidEventError,
  parseBuildEvent,
  parseOnboardingEvent,
  parseTestRunEvent,
  serviceNameOfStream,
  testRunIdOfStream,
  UnknownEventTypeError,
  UnsupportedSchemaVersionError,
  type BuildEvent,
  type BuildState,
  type EventEnvelope,
} from '@flotilla/events';
import {
  ConcurrencyError,
  CorruptRecordError,
  decideAndAppend,
  EffectFailedError,
  eventFromStreamRecord,
  faultPoint,
  isRetryable,
  loadAggregate,
  loadBuild,
  openCreation,
  publish,
  publishAll,
  ReaderTooOldError,
  startExecutionOnce,
  stopExecution,
  testRunAggregate,
  UnactionableEventError,
  type StreamBatch,
  type StreamRecord,
  type TransactWriteItem,
} from '@flotilla/platform';
import { actsOn, decideFailure, react, type Reaction } from '../domain/decide.ts';
import { IN_FLIGHT_PK, watermarkWrite, type OrchestratorDeps } from './deps.ts';
import { provisionTestRun } from './testruns.ts';

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
      const outcome = await stopExecution(deps.aws.sfn, { executionArn: reaction.executionArn, error: reaction.error ?? 'Flotilla.Cancelled', cause: reaction.cause });
      deps.logger.info({ stream: event.stream, executionArn: reaction.executionArn, outcome, cause: reaction.cause }, 'execution stop');
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

/** What is decided for one event: the reactions, or an UnactionableEventError naming why not. */
function decide(deps: OrchestratorDeps, event: BuildEvent, state: BuildState): Reaction[] {
  try {
    return react(event, state, { stateMachineArn: deps.stateMachineArn, syncQueueUrls: deps.syncQueueUrls, now: Date.now() });
  } catch (error) {
    throw new UnactionableEventError((error as Error).message, { stream: event.stream, version: event.version, type: event.type }, { cause: error });
  }
}

/** The attributes the events topic's subscriptions filter on. */
function eventAttributes(envelope: EventEnvelope) {
  const region = (envelope.data as { region?: unknown } | null)?.region;
  return { type: envelope.type, stream: envelope.stream, region: typeof region === 'string' ? region : undefined };
}

/** Publishes one event (unless the caller already did) and acts on it. */
export async function relayOne(deps: OrchestratorDeps, envelope: EventEnvelope, published = false): Promise<void> {
  if (!published) await publish(deps.aws.sns, deps.locator.topicArn(deps.locator.names.topics.events), envelope, eventAttributes(envelope));
  if (testRunIdOfStream(envelope.stream)) {
    // The run's runners go up on its request; the rest of a run is the supervisor's (testruns.ts).
    if (parseTestRunEvent(envelope).type === 'testrun.requested') await provisionTestRun(deps, (await loadAggregate(deps.store, envelope.stream, testRunAggregate)).state);
    return;
  }
  if (serviceNameOfStream(envelope.stream)) {
    // A creation is the driver's from its request on; each of its events wakes the driver to take the next step.
    const event = parseOnboardingEvent(envelope);
    if (event.type === 'service.requested') await openCreation(deps.inFlight, event.data.name);
    deps.onboarding.wake();
    return;
  }
  if (!buildIdOfStream(envelope.stream)) return;
  const event = parseBuildEvent(envelope);
  if (!actsOn(event.type)) return;
  const { state } = await loadBuild(deps.store, event.stream);
  for (const reaction of decide(deps, event, state)) {
    await carryOut(deps, event, reaction);
  }
}

/** The orchestrator's quarantine, in the checkpoints table: one row per record it could not read or act on at all. */
export const QUARANTINE_PK = 'quarantine#relay';

/** What became of one record. */
export type RelayOutcome = { kind: 'relayed' } | { kind: 'failed-build'; reason: string } | { kind: 'quarantined'; reason: string };

/** Where a record came from, to name it in the quarantine (the stream's keys and sequence number, or the log's item). */
export interface RecordOrigin {
  stream: string | undefined;
  version: number | undefined;
  eventId?: string | undefined;
  sequenceNumber?: string | undefined;
}

/**
 * The record or its event is at fault (unreadable, invalid, refused by the decider): retrying
 * cannot help. Everything else (a publish, an AWS call, a throttled read) is an effect failure.
 */
const isEventFault = (error: unknown): boolean =>
  error instanceof UnactionableEventError || error instanceof CorruptRecordError || error instanceof InvalidEventError || error instanceof SyntaxError;

/** An event newer than this code: held until the newer reader is deployed, never failed nor parked. */
const isNewerThanReader = (error: unknown): boolean => error instanceof UnsupportedSchemaVersionError || error instanceof UnknownEventTypeError;

/** Turns an error that must hold the shard into a retryable one, keeping what it was. */
function holdOn(error: unknown, origin: RecordOrigin): Error {
  if (isNewerThanReader(error)) {
    return new ReaderTooOldError(`the log holds an event newer than this orchestrator knows; deploy the newer orchestrator: ${(error as Error).message}`, { ...origin }, { cause: error });
  }
  if (isRetryable(error)) return error as Error;
  return new EffectFailedError(`relaying ${origin.stream ?? '?'} v${origin.version ?? '?'} failed on an effect: ${(error as Error).message}`, { ...origin }, { cause: error });
}

/**
 * Parks a record that cannot be read or acted on, so that the records behind it proceed. Keyed on
 * the record's place in the log when known, so the relay and catch-up park one record once.
 */
export async function quarantine(deps: OrchestratorDeps, origin: RecordOrigin, reason: string, error: unknown): Promise<RelayOutcome> {
  const sk = origin.stream !== undefined && origin.version !== undefined && Number.isFinite(origin.version) ? `${origin.stream}#${origin.version}` : (origin.sequenceNumber ?? 'unknown');
  deps.logger.error({ err: error, ...origin, reason, alert: 'relay.quarantine' }, 'record quarantined: it cannot be read or acted on; the relay moves past it');
  await deps.inFlight.put({ pk: QUARANTINE_PK, sk }, { ...origin, reason, quarantinedAt: new Date().toISOString() });
  return { kind: 'quarantined', reason };
}

/**
 * Fails the build of a record whose event cannot be acted on. The failure is decided from the
 * stream as it is; if the stream itself cannot be read (a corrupt record in it), the record is
 * quarantined instead: the failure path never depends on parsing what just failed to parse.
 */
async function failBuild(deps: OrchestratorDeps, origin: RecordOrigin & { stream: string }, meta: { correlationId: string; causationId: string }, reason: string, cause: unknown): Promise<RelayOutcome> {
  try {
    const { appended } = await decideAndAppend(deps.store, origin.stream, (state, history) => decideFailure(state, history, reason, { ...meta, now: Date.now() }));
    deps.logger.error({ err: cause, ...origin, reason, appended: appended.length }, 'record cannot be acted on: build failed');
    return { kind: 'failed-build', reason };
  } catch (error) {
    if (isEventFault(error)) return quarantine(deps, origin, `${reason}; its stream cannot be read to fail the build: ${(error as Error).message}`, error);
    throw holdOn(error, origin);
  }
}

/**
 * Relays one record of the log: publish and act. Only a fault of the event itself (parse or
 * decide) fails its build; an effect failure is thrown retryable, to hold the shard (review M2); an
 * event newer than this code holds too (review M3).
 */
export async function relayRecord(deps: OrchestratorDeps, envelope: EventEnvelope, origin: Partial<RecordOrigin> = {}, published = false): Promise<RelayOutcome> {
  const logger = deps.logger.child({ stream: envelope.stream, type: envelope.type, version: envelope.version, correlationId: envelope.correlationId });
  const where = { stream: envelope.stream, version: envelope.version, eventId: envelope.id, ...origin };
  try {
    await relayOne({ ...deps, logger }, envelope, published);
    return { kind: 'relayed' };
  } catch (error) {
    if (!isEventFault(error)) throw holdOn(error, where);
    const reason = `orchestrator could not act on ${envelope.type} v${envelope.version}: ${(error as Error).message}`;
    if (!buildIdOfStream(envelope.stream)) return quarantine({ ...deps, logger }, where, reason, error);
    return failBuild({ ...deps, logger }, where, { correlationId: envelope.correlationId, causationId: envelope.id }, reason, error);
  }
}

/**
 * Event ids this handler has relayed lately. The reader retries a failed batch whole; its records
 * relayed before the failure are skipped then (review L7), not published and acted on again for
 * every retry. Safe: each was fully relayed; a restart forgets them, and replays are idempotent.
 */
class RecentIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.add(id);
    // A Set iterates in insertion order: the first is the oldest.
    for (const oldest of this.#ids) {
      if (this.#ids.size <= this.#capacity) break;
      this.#ids.delete(oldest);
    }
  }
}

/** A stream record as read once per batch: its place in the log, and its event or why it could not be read. */
interface ReadRecord {
  origin: RecordOrigin;
  envelope?: EventEnvelope | undefined;
  error?: unknown;
}

function readRecord(record: StreamRecord): ReadRecord {
  const keys = record.dynamodb?.Keys;
  const origin: RecordOrigin = { stream: keys?.stream?.S, version: keys?.version?.N === undefined ? undefined : Number(keys.version.N), sequenceNumber: record.dynamodb?.SequenceNumber };
  try {
    return { origin, envelope: eventFromStreamRecord(record) };
  } catch (error) {
    return { origin, error };
  }
}

/**
 * Publishes the batch's events, ten to a request, before any is acted on (issue 9: one Publish per
 * event was the relay's largest share of calls). Records that cannot be read are left to their
 * run, which quarantines them; those SNS accepted already (a retried batch) are not published again.
 */
async function publishBatch(deps: OrchestratorDeps, reads: readonly ReadRecord[], published: RecentIds): Promise<void> {
  const envelopes = reads.flatMap(({ envelope }) => (envelope && !published.has(envelope.id) ? [envelope] : []));
  try {
    await publishAll(
      deps.aws.sns,
      deps.locator.topicArn(deps.locator.names.topics.events),
      envelopes.map((envelope) => ({ message: envelope, attributes: eventAttributes(envelope) })),
      (index) => {
        const envelope = envelopes[index];
        if (envelope) published.add(envelope.id);
      },
    );
  } catch (error) {
    const first = reads[0]?.origin;
    throw holdOn(error, { stream: first?.stream, version: undefined, sequenceNumber: first?.sequenceNumber });
  }
}

/** Acts on a record read from the stream; a record that cannot be read is quarantined, one of a newer schema holds. */
async function relayStreamRecord(deps: OrchestratorDeps, { origin, envelope, error }: ReadRecord, recent: RecentIds): Promise<EventEnvelope | undefined> {
  if (error !== undefined) {
    if (!isEventFault(error)) throw holdOn(error, origin);
    await quarantine(deps, origin, `unreadable record: ${(error as Error).message}`, error);
    return undefined;
  }
  if (!envelope || recent.has(envelope.id)) return envelope;
  await relayRecord(deps, envelope, { sequenceNumber: origin.sequenceNumber }, true);
  recent.add(envelope.id);
  return envelope;
}

/** The stream key of a record (the build's stream), or its sequence number when the record has none. */
const orderKey = (record: StreamRecord): string => record.dynamodb?.Keys?.stream?.S ?? `seq#${record.dynamodb?.SequenceNumber ?? '?'}`;

/**
 * Splits a batch into runs that must stay in order: one per stream (an aggregate's events are
 * decided on in version order), in the order the batch holds them. Different streams share no
 * state the relay decides on, so their runs may proceed side by side.
 */
export function runsByStream(records: StreamRecord[]): StreamRecord[][] {
  const runs = new Map<string, StreamRecord[]>();
  for (const record of records) {
    if (record.eventName !== 'INSERT') continue;
    const key = orderKey(record);
    const run = runs.get(key);
    if (run) run.push(record);
    else runs.set(key, [record]);
  }
  return [...runs.values()];
}

/**
 * The stream reader's handler: each record relayed, and the relay's watermark committed with the
 * checkpoint. Each record is read once; the batch's events are published first, ten to a request;
 * then the batch's streams are acted on side by side, up to `concurrency` at once, each stream's
 * records one after another (issue 9: relayed one record at a time, four to six AWS calls each,
 * the relay was the pipeline's slowest stage). The checkpoint still follows the whole batch: if any
 * stream's run fails, every run is let finish and the batch is retried whole, its records already
 * relayed skipped (RecentIds) and every effect idempotent, so at-least-once holds.
 */
export function relayHandler(deps: OrchestratorDeps, concurrency = 1) {
  const recent = new RecentIds(1_000);
  const published = new RecentIds(1_000);
  return async (batch: StreamBatch): Promise<TransactWriteItem[]> => {
    let last: string | undefined;
    const runs = runsByStream(batch.records).map((run) => run.map(readRecord));
    await publishBatch(deps, runs.flat(), published);
    let next = 0;
    const lane = async () => {
      for (let run = runs[next++]; run; run = runs[next++]) {
        for (const read of run) {
          const envelope = await relayStreamRecord(deps, read, recent);
          if (envelope && (!last || envelope.id > last)) last = envelope.id;
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(concurrency, runs.length)) }, lane));
    const failure = settled.find((s) => s.status === 'rejected');
    if (failure) throw failure.reason;
    return last ? [watermarkWrite(deps.inFlight, last)] : [];
  };
}
