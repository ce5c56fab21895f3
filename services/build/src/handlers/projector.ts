/**
 * Keeps the build view and the build list from the events topic, in each stream's version order
 * (duplicates skipped, gaps filled from the log): see BuildProjections in the platform package,
 * which replay runs too.
 */
import { buildIdOfStream, envelopeSchema, parseBuildEvent } from '@flotilla/events';
import type { BuildProjections, EventStore, ReceivedMessage } from '@flotilla/platform';

export function projector(deps: { store: EventStore; projections: BuildProjections }) {
  return async (received: ReceivedMessage): Promise<void> => {
    const envelope = envelopeSchema.parse(JSON.parse(received.body));
    if (!buildIdOfStream(envelope.stream)) return;
    await deps.projections.project(parseBuildEvent(envelope), deps.store);
  };
}
