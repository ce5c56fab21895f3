import type { z } from 'zod';

/** Turns a payload of schemaVersion n into one of n + 1. Pure; never loosens the current schema. */
export type Upcaster = (data: unknown) => unknown;

export interface EventDefinition {
  /** The current payload contract; events are written at this version. */
  schemaVersion: number;
  schema: z.ZodType;
  /** Keyed by the version each one upcasts from. */
  upcasters?: Readonly<Record<number, Upcaster>>;
}
