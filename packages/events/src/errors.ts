/**
 * Errors raised while parsing events. None is retryable: the same bytes fail the same way, so a
 * consumer dead-letters them with the message. This package cannot depend on the platform's error
 * classes; `retryable` is the shared contract the platform's isRetryable() reads.
 */
import type { z } from 'zod';

/** Readable `field: message` lines from zod issues, with the field path dotted (data.regions.0). */
export function describeIssues(issues: readonly z.core.$ZodIssue[], pathPrefix: readonly PropertyKey[] = []): string[] {
  return issues.map((issue) => {
    const path = [...pathPrefix, ...issue.path].map(String).join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });
}

export abstract class EventError extends Error {
  readonly retryable = false;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, context: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}

function describeEvent(context: Record<string, unknown>): string {
  const type = typeof context['type'] === 'string' ? ` ${context['type']}` : '';
  const id = typeof context['id'] === 'string' ? ` ${context['id']}` : '';
  return `invalid${type} event${id}`;
}

/**
 * The envelope or the payload does not match its schema. `fields` holds one `path: message` line
 * per bad field (payload paths start with `data.`); `context.issues` keeps zod's raw issues.
 */
export class InvalidEventError extends EventError {
  readonly fields: string[];

  constructor(fields: string[], context: Record<string, unknown>, options?: { cause?: unknown }) {
    super(`${describeEvent(context)}: ${fields.join('; ')}`, { ...context, fields }, options);
    this.fields = fields;
  }
}

/** The `type` is not in the registry (a newer producer, or a typo at a boundary). */
export class UnknownEventTypeError extends EventError {}

/** The schemaVersion is newer than this code, or no upcaster chain reaches the current one. */
export class UnsupportedSchemaVersionError extends EventError {}
