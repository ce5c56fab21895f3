/**
 * The fleet as deploy/services.json declares it, and how each service's process starts: the same
 * node arguments locally (scripts/fleet.ts), in the compose files and in the ECS task definitions,
 * so a V8 bound (region-sync's heap) holds wherever the service runs.
 */
import fleet from './services.json' with { type: 'json' };

export interface ServiceSpec {
  name: string;
  port: number;
  /** V8 flags the service runs with, e.g. a heap bound. */
  nodeFlags?: string[];
}

export const SERVICES: readonly ServiceSpec[] = fleet.services;

/** Node's arguments to start the service `name`, from the repository's root: its flags, then its entry point. */
export function serviceNodeArgs(name: string): string[] {
  const spec = SERVICES.find((s) => s.name === name);
  if (!spec) throw new RangeError(`deploy/services.json has no service ${name}`);
  return [...(spec.nodeFlags ?? []), `services/${name}/src/main.ts`];
}
