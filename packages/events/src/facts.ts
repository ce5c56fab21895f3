/**
 * The fact an event states. A fact is recorded once per build stream: a worker that took a task
 * over from one that died (review H1), or a task Step Functions retried, does the work again and
 * must not record the same fact a second time under a new event id. The writers check it before
 * appending (platform's appendFact) and the chaos run counts repeats with it.
 */

/** The same key for two events means the same fact; `data.region` tells regions apart. */
export function factKey(event: { type: string; data?: unknown }): string {
  const region = (event.data as { region?: unknown } | undefined)?.region;
  switch (event.type) {
    // A build ends once, whichever way.
    case 'build.succeeded':
    case 'build.failed':
      return 'build.ended';
    // A region's copy, and its sync, end once, whichever way.
    case 'region.replicated':
    case 'region.replication_failed':
      return `region.replication:${String(region)}`;
    case 'region.synced':
    case 'region.sync_failed':
      return `region.sync:${String(region)}`;
    default:
      // build.requested, build.started, artifact.published, cancellation, and later additions: a fact by type.
      return event.type;
  }
}

/** Facts stated more than once in one stream's events, with how many times. */
export function duplicateFacts(events: readonly { type: string; data?: unknown }[]): { fact: string; times: number }[] {
  const seen = new Map<string, number>();
  for (const e of events) seen.set(factKey(e), (seen.get(factKey(e)) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([fact, times]) => ({ fact, times }));
}
