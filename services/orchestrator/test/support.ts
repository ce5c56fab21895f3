/** The orchestrator's dependencies for a test stack, as main.ts wires them, with a silent logger. */
import { createLogger, EventStore, IdempotencyStore, locate, Records, type AwsClients } from '@flotilla/platform';
import type { TestStack } from '@flotilla/platform/testing';
import type { OrchestratorDeps } from '../src/handlers/deps.ts';

export async function orchestratorTestDeps(aws: AwsClients, stack: TestStack, overrides: Partial<OrchestratorDeps> = {}): Promise<OrchestratorDeps> {
  const locator = await locate(aws, stack.prefix);
  const checkpoints = new Records(aws.dynamodb, locator.names.tables.checkpoints);
  return {
    aws,
    store: new EventStore(aws.dynamodb, locator.names.tables.events),
    idempotency: new IdempotencyStore(aws.dynamodb, locator.names.tables.idempotency),
    inFlight: checkpoints,
    leases: checkpoints,
    locator,
    logger: createLogger('orchestrator-test', 'silent'),
    stateMachineArn: locator.stateMachineArn(),
    regions: stack.regions,
    syncQueueUrls: {},
    defaults: { regions: ['us-east-1'], hostsPerRegion: 1 },
    onboarding: { stepDeadlineMs: 60_000, wake: () => undefined },
    ...overrides,
  };
}
