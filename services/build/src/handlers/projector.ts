/**
 * Keeps the build view (projections table, sk 'view') from the events topic. Idempotent on the
 * event's stream version; a lost race on the view is retried by re-reading it.
 */
import { buildIdOfStream, envelopeSchema, initialBuildState, parseEvent, type BuildState } from '@flotilla/events';
import { ConcurrencyError, withRetry, type EventStore, type ReceivedMessage, type Records } from '@flotilla/platform';
import { fillGap, projectEvent } from '../domain/view.ts';

export const viewKey = (buildId: string) => ({ pk: `build#${buildId}`, sk: 'view' });

export async function readView(views: Records, buildId: string): Promise<BuildState | undefined> {
  return (await views.get<{ state: BuildState }>(viewKey(buildId)))?.state;
}

export function projector(deps: { store: EventStore; views: Records }) {
  return async (received: ReceivedMessage): Promise<void> => {
    const envelope = envelopeSchema.parse(JSON.parse(received.body));
    const buildId = buildIdOfStream(envelope.stream);
    if (!buildId) return;
    const event = parseEvent(envelope);
    await withRetry(
      async () => {
        const stored = (await readView(deps.views, buildId)) ?? initialBuildState;
        const step = projectEvent(stored, event);
        if (step.kind === 'skip') return;
        const next =
          step.kind === 'apply' ? step.state : fillGap(stored, (await deps.store.readStream(envelope.stream, step.afterVersion)).map((e) => parseEvent(e)));
        if (!(await deps.views.putIfVersion(viewKey(buildId), { version: next.lastVersion, state: next }, stored.lastVersion))) {
          throw new ConcurrencyError(`view#${buildId}`, stored.lastVersion, undefined);
        }
      },
      { deadlineMs: 30_000 },
    );
  };
}
