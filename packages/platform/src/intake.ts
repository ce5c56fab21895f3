/**
 * Intake: the three doors (HTTP, SNS, S3) end here, in one `build.requested` event. Each door's
 * key (Idempotency-Key, requestId, bucket+key+eTag) is mapped once to a build id by a conditional
 * put, and the event is appended at expected version 0 of that build's stream, so a repeated or
 * redelivered request finds the same build and never makes a second one. Callers validate the
 * request first (buildRequestSchema): nothing invalid reaches the log.
 */
import { buildStream, createEventId, newEvent, type BuildRequest, type EventData } from '@flotilla/events';
import { ConcurrencyError } from './errors.ts';
import type { EventStore } from './event-store.ts';
import { hashKey, type IdempotencyStore } from './idempotency.ts';

export type Door = EventData<'build.requested'>['source']['door'];

export interface IntakeRequest {
  door: Door;
  /** The door's idempotency key. */
  key: string;
  request: BuildRequest;
  artifact?: EventData<'build.requested'>['artifact'];
  now?: number;
}

export interface IntakeResult {
  buildId: string;
  /** True when this key had already made a build: nothing new was appended. */
  duplicate: boolean;
}

export async function requestBuild(deps: { store: EventStore; idempotency: IdempotencyStore }, intake: IntakeRequest): Promise<IntakeResult> {
  const now = intake.now ?? Date.now();
  const mapped = await deps.idempotency.mapOnce(`intake#${intake.door}#${hashKey(intake.key)}`, createEventId(now));
  const buildId = mapped.value;
  const event = newEvent({
    type: 'build.requested',
    data: { buildId, ...intake.request, source: { door: intake.door, key: intake.key }, ...(intake.artifact ? { artifact: intake.artifact } : {}) },
    correlationId: buildId,
    causationId: `${intake.door}:${intake.key}`,
    now,
  });
  try {
    await deps.store.append(buildStream(buildId), [event], 0);
    return { buildId, duplicate: mapped.existing };
  } catch (error) {
    // The stream exists: an earlier delivery of this key already appended build.requested.
    if (error instanceof ConcurrencyError) return { buildId, duplicate: true };
    throw error;
  }
}
