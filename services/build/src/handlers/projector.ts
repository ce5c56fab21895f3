/**
 * Keeps the build view and the build list from the events topic, in each stream's version order
 * (duplicates skipped, gaps filled from the log): see BuildProjections in the platform package,
 * which replay runs too.
 */
import { buildIdOfStream, envelopeSchema, parseEvent } from '@flotilla/events';
import type { BuildProjections, EventStore, ReceivedMessage } from '@flotilla/platform';

export function projector(deps: { store: EventStore; projections: BuildProjections }) {
  return async (received: ReceivedMessage): Promise<void> => {
    const envelope = envelopeSchema.parse(JSON.parse(received.body));
    const buildId = buildIdOfStream(envelope.stream);
    if (!buildId) return;
    await deps.projections.project(parseEvent(envelope), buildId, async (stream, after) => (await deps.store.readStream(stream, after)).map((e) => parseEvent(e)));
  };
}
