/**
 * Intake: the three doors (HTTP, SNS, S3) end here, in one `build.requested` event. Each door's
 * key (Idempotency-Key, requestId, bucket+key+eTag) is mapped once to a build id by a conditional
 * put, and the event is appended at expected version 0 of that build's stream, so a repeated or
 * redelivered request finds the same build and never makes a second one. The mapping also keeps
 * a fingerprint of the request the key came with: the same key with a different request is
 * refused (IdempotencyKeyReusedError) rather than answered with a build it did not ask for.
 * Callers validate the request first (buildRequestSchema): nothing invalid reaches the log.
 */
import { buildStream, createEventId, newEvent, type BuildRequest, type EventData } from '@flotilla/events';
import { ConcurrencyError, IdempotencyKeyReusedError } from './errors.ts';
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

/**
 * A digest of the request as it will be built: after the door applied its defaults, with the
 * fields in a fixed order and regions as a set (sorted), so `[a, b]` and `[b, a]` are one request.
 */
export function requestFingerprint(request: BuildRequest): string {
  const { repo, env, version, branch, commit, regions, hostsPerRegion } = request;
  return hashKey(JSON.stringify([repo, env, version, branch, commit, [...regions].sort(), hostsPerRegion]));
}

export async function requestBuild(deps: { store: EventStore; idempotency: IdempotencyStore }, intake: IntakeRequest): Promise<IntakeResult> {
  const now = intake.now ?? Date.now();
  const mapped = await deps.idempotency.mapOnce(`intake#${intake.door}#${hashKey(intake.key)}`, createEventId(now), {
    fingerprint: requestFingerprint(intake.request),
  });
  const buildId = mapped.value;
  if (!mapped.sameRequest) throw new IdempotencyKeyReusedError(intake.door, intake.key, buildId);
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
    // The stream exists: an earlier delivery of this key already appended build.requested. Only a
    // real conflict says so; a cancelled append that wrote nothing is transient and thrown (H4).
    if (error instanceof ConcurrencyError && (error.actualVersion ?? 1) > 0) return { buildId, duplicate: true };
    throw error;
  }
}
