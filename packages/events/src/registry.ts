/**
 * The registry from event type to its definition. Reading an event validates the envelope, finds
 * the type, upcasts an older payload step by step to the current schemaVersion, then validates
 * the payload against the current schema. Writing one (newEvent) validates the payload too, so
 * nothing that breaks a schema reaches the log.
 */
import { z } from 'zod';
import { buildEvents } from './build.ts';
import { onboardingEvents } from './onboarding.ts';
import { testRunEvents } from './testrun.ts';
import { createEventId, envelopeSchema, type EventEnvelope, type PendingEvent } from './envelope.ts';
import { describeIssues, InvalidEventError, UnknownEventTypeError } from './errors.ts';
import { runUpcasters } from './upcasters.ts';
import type { EventDefinition } from './registry-types.ts';

export const registry = { ...buildEvents, ...testRunEvents, ...onboardingEvents } as const satisfies Record<string, EventDefinition>;

export type EventType = keyof typeof registry;
export type EventData<T extends EventType> = z.infer<(typeof registry)[T]['schema']>;
export type DomainEvent = { [T in EventType]: EventEnvelope<T, EventData<T>> }[EventType];
export type DomainEventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export type BuildEventType = keyof typeof buildEvents;
export type BuildEvent = { [T in BuildEventType]: EventEnvelope<T, EventData<T>> }[BuildEventType];

export type TestRunEventType = keyof typeof testRunEvents;
export type TestRunEvent = { [T in TestRunEventType]: EventEnvelope<T, EventData<T>> }[TestRunEventType];

export type OnboardingEventType = keyof typeof onboardingEvents;
export type OnboardingEvent = { [T in OnboardingEventType]: EventEnvelope<T, EventData<T>> }[OnboardingEventType];

export const isEventType = (type: string): type is EventType => Object.hasOwn(registry, type);

function definitionOf(type: string, context: Record<string, unknown>): EventDefinition {
  if (!isEventType(type)) throw new UnknownEventTypeError(`unknown event type ${JSON.stringify(type)}`, context);
  return registry[type];
}

/** Upcasts `data` of `type` from `fromVersion` to the type's current schemaVersion (not yet validated). */
export function upcast(type: string, fromVersion: number, data: unknown, context: Record<string, unknown> = {}): unknown {
  const where = { ...context, type, schemaVersion: fromVersion };
  return runUpcasters(definitionOf(type, where), fromVersion, data, where);
}

/** Parses a stored or received event into the typed union, at the current schemaVersion. */
export function parseEvent(raw: unknown): DomainEvent {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    const { id, type, schemaVersion } = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    throw new InvalidEventError(describeIssues(envelope.error.issues), { id, type, schemaVersion, issues: envelope.error.issues });
  }
  const { id, type, schemaVersion } = envelope.data;
  const context = { id, type, schemaVersion };
  const definition = definitionOf(type, context);
  const data = definition.schema.safeParse(upcast(type, schemaVersion, envelope.data.data, { id }));
  if (!data.success) throw new InvalidEventError(describeIssues(data.error.issues, ['data']), { ...context, issues: data.error.issues });
  return { ...envelope.data, schemaVersion: definition.schemaVersion, data: data.data } as DomainEvent;
}

/** Whether a parsed event belongs to the build aggregate (its type is one of buildEvents). */
export const isBuildEvent = (event: DomainEvent): event is BuildEvent => Object.hasOwn(buildEvents, event.type);
export const isTestRunEvent = (event: DomainEvent): event is TestRunEvent => Object.hasOwn(testRunEvents, event.type);
export const isOnboardingEvent = (event: DomainEvent): event is OnboardingEvent => Object.hasOwn(onboardingEvents, event.type);

/** Parses an event read from a build stream: one of another aggregate's types there is invalid. */
export function parseBuildEvent(raw: unknown): BuildEvent {
  return parseOf(raw, isBuildEvent, 'build');
}

/** Parses an event read from a test-run stream. */
export function parseTestRunEvent(raw: unknown): TestRunEvent {
  return parseOf(raw, isTestRunEvent, 'test-run');
}

/** Parses an event read from a service (onboarding) stream. */
export function parseOnboardingEvent(raw: unknown): OnboardingEvent {
  return parseOf(raw, isOnboardingEvent, 'onboarding');
}

function parseOf<E extends DomainEvent>(raw: unknown, belongs: (event: DomainEvent) => event is E, aggregate: string): E {
  const event = parseEvent(raw);
  if (!belongs(event)) throw new InvalidEventError([`type: ${event.type} is not a ${aggregate} event`], { id: event.id, type: event.type, stream: event.stream });
  return event;
}

export interface NewEventInput<T extends EventType> {
  type: T;
  data: EventData<T>;
  correlationId: string;
  causationId: string;
  /** Epoch milliseconds; the id and occurredAt both come from it. */
  now?: number;
}

const causalitySchema = z.object({ correlationId: z.string().min(1), causationId: z.string().min(1) });

/**
 * A validated event at the current schemaVersion, ready to append: the payload is parsed with the
 * type's current schema, so nothing that breaks a schema reaches the log.
 */
export function newEvent<T extends EventType>(input: NewEventInput<T>): PendingEvent<T, EventData<T>> {
  const definition = definitionOf(input.type, { type: input.type });
  const context = { type: input.type, schemaVersion: definition.schemaVersion };
  const ids = causalitySchema.safeParse(input);
  if (!ids.success) throw new InvalidEventError(describeIssues(ids.error.issues), { ...context, issues: ids.error.issues });
  const parsed = definition.schema.safeParse(input.data);
  if (!parsed.success) throw new InvalidEventError(describeIssues(parsed.error.issues, ['data']), { ...context, issues: parsed.error.issues });
  const now = input.now ?? Date.now();
  if (!Number.isFinite(now)) throw new InvalidEventError([`now: must be epoch milliseconds, got ${String(now)}`], context);
  return {
    id: createEventId(now),
    type: input.type,
    schemaVersion: definition.schemaVersion,
    occurredAt: new Date(now).toISOString(),
    correlationId: input.correlationId,
    causationId: input.causationId,
    data: parsed.data as EventData<T>,
  };
}
