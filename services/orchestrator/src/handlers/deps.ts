/** What the orchestrator's handlers share: clients, stores, and the resolved names of the stack. */
import type { AwsClients, EventStore, IdempotencyStore, Locator, Logger, Records, TransactWriteItem } from '@flotilla/platform';

export interface OrchestratorDeps {
  aws: AwsClients;
  store: EventStore;
  idempotency: IdempotencyStore;
  inFlight: Records;
  /** Test-run leases (testrun-leases.ts): the runs the supervisor looks after. */
  leases: Records;
  locator: Locator;
  logger: Logger;
  stateMachineArn: string;
  /** The regions this stack has (Locator.regions): a request may name only these. */
  regions: readonly string[];
  syncQueueUrls: Record<string, string>;
  defaults: { regions: string[]; hostsPerRegion: number };
  onboarding: {
    /** The step deadline a creation asked for over SNS gets (ONBOARDING_STEP_DEADLINE_MS). */
    stepDeadlineMs: number;
    /** Runs the onboarding driver now: the relay read an event of a creation. */
    wake: () => void;
  };
}

export const IN_FLIGHT_PK = 'in-flight';

/**
 * The relay's watermark: the newest event id it has relayed, committed with each checkpoint. After
 * the stream lost its records, catch-up reads the log from here (checkpoints table).
 */
export const WATERMARK_KEY = { pk: 'relay', sk: 'watermark' };

export function watermarkWrite(checkpoints: Records, lastEventId: string): TransactWriteItem {
  const write = checkpoints.updateInTransaction(WATERMARK_KEY, { set: { lastEventId, updatedAt: new Date().toISOString() } });
  if (!write) throw new Error('watermark update is empty');
  return write;
}
