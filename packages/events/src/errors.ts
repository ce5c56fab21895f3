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

/** The envelope or the payload does not match its schema; `fields` names each bad field. */
export class InvalidEventError extends EventError {
  readonly fields: string[];

  constructor(fields: string[], context: Record<string, unknown>, options?: { cause?: unknown }) {
    super(`invalid event: ${fields.join('; ')}`, { ...context, fields }, options);
    this.fields = fields;
  }
}

export class UnknownEventTypeError extends EventError {}

export class UnsupportedSchemaVersionError extends EventError {}
