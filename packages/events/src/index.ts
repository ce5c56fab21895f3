export * from './build.ts';
export * from './envelope.ts';
export * from './errors.ts';
export * from './registry.ts';
export type { EventDefinition, Upcaster } from './registry-types.ts';
export * from './status.ts';
export * from './testing.ts';
export * from './upcasters.ts';
export * from './projection.ts';
