/** What the orchestrator's handlers share: clients, stores, and the resolved names of the stack. */
import type { AwsClients, EventStore, IdempotencyStore, Locator, Logger, Records } from '@flotilla/platform';

export interface OrchestratorDeps {
  aws: AwsClients;
  store: EventStore;
  idempotency: IdempotencyStore;
  inFlight: Records;
  locator: Locator;
  logger: Logger;
  stateMachineArn: string;
  syncQueueUrls: Record<string, string>;
  defaults: { regions: string[]; hostsPerRegion: number };
}

export const IN_FLIGHT_PK = 'in-flight';
