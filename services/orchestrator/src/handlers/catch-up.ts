/**
 * Catch-up from the log, for when the log's stream lost records: a local emulator keeps tables
 * across a restart but not stream records, so whatever was appended after the relay's last
 * checkpoint would never be relayed (a build.requested never gets its build.started, a build.started
 * never starts its execution). The log itself is read instead, from the relay's watermark less a
 * margin for writers' clock skew, and every event is relayed again: each effect is idempotent
 * (appends at fixed versions, named executions, alerts keyed on the event id), and projections
 * skip what they have.
 */
import { timeOfId } from '@flotilla/events';
import { LOG_EPOCH } from '@flotilla/platform';
import { WATERMARK_KEY, type OrchestratorDeps } from './deps.ts';
import { quarantine, relayRecord } from './relay.ts';

/** Events appended this long before the watermark's own id are read again: writers' clocks differ. */
export const CATCH_UP_MARGIN_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export async function catchUpFromLog(deps: OrchestratorDeps): Promise<{ since: Date; relayed: number }> {
  const mark = await deps.inFlight.get<{ lastEventId: string }>(WATERMARK_KEY);
  const since = mark ? new Date(timeOfId(mark.lastEventId) - CATCH_UP_MARGIN_MS) : LOG_EPOCH;
  deps.logger.warn({ since: since.toISOString(), watermark: mark?.lastEventId }, 'catching up from the log');
  let relayed = 0;
  // An item that is not a valid event is parked, as the relay parks it, instead of stopping the
  // catch-up (and with it the service's start) on every restart (review M3).
  const onCorrupt = async (error: Error, item: Record<string, { S?: string; N?: string }>) =>
    void (await quarantine(deps, { stream: item.stream?.S, version: Number(item.version?.N), eventId: item.id?.S }, `unreadable record: ${error.message}`, error));
  for await (const page of deps.store.readAll({ since, until: new Date(Date.now() + DAY_MS), onCorrupt })) {
    for (const envelope of page) {
      await relayRecord(deps, envelope);
      relayed++;
    }
    deps.logger.info({ relayed }, 'catch-up progress');
  }
  deps.logger.warn({ relayed }, 'caught up from the log');
  return { since, relayed };
}
