/**
 * The registry from event type to its definition. Reading an event validates the envelope, finds
 * the type, upcasts an older payload step by step to the current schemaVersion, then validates
 * the payload against the current schema. Writing one (newEvent) validates the payload too, so
 * nothing that breaks a schema reaches the log.
 */
import type { z } from 'zod';
import { buildEvents } from './build.ts';
import { createEventId, envelopeSchema, type EventEnvelope, type PendingEvent } from './envelope.ts';
import { describeIssues, InvalidEventError, UnknownEventTypeError, UnsupportedSchemaVersionError } from './errors.ts';
import type { EventDefinition } from './registry-types.ts';

export const registry = { ...buildEvents } as const satisfies Record<string, EventDefinition>;

export type EventType = keyof typeof registry;
export type EventData<T extends EventType> = z.infer<(typeof registry)[T]['schema']>;
export type DomainEvent = { [T in EventType]: EventEnvelope<T, EventData<T>> }[EventType];
export type DomainEventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export type BuildEventType = keyof typeof buildEvents;
export type BuildEvent = { [T in BuildEventType]: EventEnvelope<T, EventData<T>> }[BuildEventType];

export const isEventType = (type: string): type is EventType => Object.hasOwn(registry, type);

function definitionOf(type: string, context: Record<string, unknown>): EventDefinition {
  if (!isEventType(type)) throw new UnknownEventTypeError(`unknown event type ${JSON.stringify(type)}`, context);
  return registry[type];
}

/** Upcasts `data` from `fromVersion` to the definition's current schemaVersion. */
export function upcast(type: string, fromVersion: number, data: unknown): unknown {
  const context = { type, schemaVersion: fromVersion };
  const definition = definitionOf(type, context);
  if (fromVersion > definition.schemaVersion) {
    throw new UnsupportedSchemaVersionError(
      `${type} schemaVersion ${fromVersion} is newer than this code knows (${definition.schemaVersion}): deploy the newer reader first`,
      context,
    );
  }
  let current = data;
  for (let v = fromVersion; v < definition.schemaVersion; v++) {
    const step = definition.upcasters?.[v];
    if (!step) throw new UnsupportedSchemaVersionError(`${type} has no upcaster from schemaVersion ${v}`, context);
    current = step(current);
  }
  return current;
}

/** Parses a stored or received event into the typed union, at the current schemaVersion. */
export function parseEvent(raw: unknown): DomainEvent {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    const { id, type } = (typeof raw === 'object' && raw !== null ? raw : {}) as { id?: unknown; type?: unknown };
    throw new InvalidEventError(describeIssues(envelope.error.issues), { id, type });
  }
  const { id, type, schemaVersion } = envelope.data;
  const context = { id, type, schemaVersion };
  const definition = definitionOf(type, context);
  const data = definition.schema.safeParse(upcast(type, schemaVersion, envelope.data.data));
  if (!data.success) throw new InvalidEventError(describeIssues(data.error.issues, ['data']), context);
  return { ...envelope.data, schemaVersion: definition.schemaVersion, data: data.data } as DomainEvent;
}

export interface NewEventInput<T extends EventType> {
  type: T;
  data: EventData<T>;
  correlationId: string;
  causationId: string;
  /** Epoch milliseconds; the id and occurredAt both come from it. */
  now?: number;
}

/** A validated event at the current schemaVersion, ready to append. */
export function newEvent<T extends EventType>(input: NewEventInput<T>): PendingEvent<T, EventData<T>> {
  const definition = registry[input.type] as EventDefinition;
  const parsed = definition.schema.safeParse(input.data);
  if (!parsed.success) throw new InvalidEventError(describeIssues(parsed.error.issues, ['data']), { type: input.type });
  const now = input.now ?? Date.now();
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
