/**
 * The upcaster mechanism: each definition keeps a chain of pure functions, one per step from
 * schemaVersion n to n + 1. Reading an old event runs the chain from its schemaVersion to the
 * current one; the result is then parsed with the current schema, which upcasting never loosens.
 */
import { InvalidEventError, UnsupportedSchemaVersionError } from './errors.ts';
import type { EventDefinition } from './registry-types.ts';

/** The schemaVersions a definition can read: 1..current when every step has an upcaster. */
export function readableSchemaVersions(definition: EventDefinition): number[] {
  const versions = [definition.schemaVersion];
  for (let v = definition.schemaVersion - 1; v >= 1 && definition.upcasters?.[v]; v--) versions.unshift(v);
  return versions;
}

/**
 * Runs `definition`'s upcasters on `data` from `fromVersion` up to its current schemaVersion.
 * `context` (event id, type) goes into any error. An upcaster that throws is reported as an
 * InvalidEventError with the thrown value as its cause: the stored payload is what is wrong.
 */
export function runUpcasters(definition: EventDefinition, fromVersion: number, data: unknown, context: Record<string, unknown> = {}): unknown {
  const where = { ...context, schemaVersion: fromVersion };
  const type = typeof context['type'] === 'string' ? context['type'] : 'event';
  if (fromVersion > definition.schemaVersion) {
    throw new UnsupportedSchemaVersionError(
      `${type} schemaVersion ${fromVersion} is newer than this code knows (${definition.schemaVersion}): deploy the newer reader first`,
      where,
    );
  }
  let current = data;
  for (let v = fromVersion; v < definition.schemaVersion; v++) {
    const step = definition.upcasters?.[v];
    if (!step) throw new UnsupportedSchemaVersionError(`${type} has no upcaster from schemaVersion ${v}`, where);
    try {
      current = step(current);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new InvalidEventError([`data: upcast from schemaVersion ${v} to ${v + 1} failed: ${reason}`], where, { cause });
    }
  }
  return current;
}
