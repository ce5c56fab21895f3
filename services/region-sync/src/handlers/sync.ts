/**
 * One region's sync task: spread the artifact from the regional bucket to every host (a pure,
 * seeded simulation, streamed), write one record per host as the spread yields them
 * (BatchWriteItem, bounded concurrency, unprocessed items retried, the spread paused while every
 * request slot is busy), append region.synced or region.sync_failed with the counts, answer the token.
 */
import { z } from 'zod';
import { artifactLocationSchema, newEvent } from '@flotilla/events';
import { appendFact, batchPut, hostPartition, type AwsClients, type RequestSlots, type EventStore, type TaskContext, type TaskOutcome } from '@flotilla/platform';
import { spreadHosts, type SpreadParams, type SpreadSummary } from '../domain/spread.ts';

export const syncTaskSchema = z.object({
  region: z.string(),
  buildId: z.string(),
  stream: z.string(),
  correlationId: z.string(),
  hostsPerRegion: z.number().int().min(1),
  artifact: artifactLocationSchema,
});
export type SyncTask = z.infer<typeof syncTaskSchema>;

/**
 * Host records expire after this (the hosts table's TTL attribute is expiresAt): a build's host
 * records matter while it runs and to the recount (RECOUNT_WINDOW_MS, a day by default); the
 * counters they produced stay (review L8).
 */
export const HOST_RECORD_TTL_SECONDS = 30 * 24 * 3600;

export interface SyncDeps {
  aws: AwsClients;
  store: EventStore;
  hostsTable: string;
  spread: Omit<SpreadParams, 'seed' | 'hosts'>;
  writeConcurrency: number;
  /** BatchWriteItem slots shared by every region's sync in this process. */
  writeSlots: RequestSlots;
}

export function syncTask(deps: SyncDeps) {
  return async (task: SyncTask, ctx: TaskContext): Promise<TaskOutcome<{ region: string; synced: number; failed: number }>> => {
    const now = Date.now();
    const at = new Date(now).toISOString();
    const expiresAt = Math.floor(now / 1000) + HOST_RECORD_TTL_SECONDS;
    const pk = hostPartition(task.buildId, task.region);
    // The spread is pulled by the writer as request slots free up: only the writer's window of
    // records is in memory, never the region (review H6). Its summary is the generator's return.
    const outcomes = spreadHosts({ ...deps.spread, seed: `${task.buildId}:${task.region}`, hosts: task.hostsPerRegion });
    let result: SpreadSummary | undefined;
    function* records() {
      for (;;) {
        const next = outcomes.next();
        if (next.done) {
          result = next.value;
          return;
        }
        const h = next.value;
        // writtenAt: when the record was handed to BatchWriteItem (ms), what the counter lag is measured from.
        yield { pk, sk: h.host, buildId: task.buildId, region: task.region, status: h.status, source: h.source, round: h.round, attempts: h.attempts, at, writtenAt: Date.now(), expiresAt };
      }
    }
    let lastLogged = 0;
    const total = task.hostsPerRegion;
    await batchPut(deps.aws.dynamodb, deps.hostsTable, records(), {
      concurrency: deps.writeConcurrency,
      slots: deps.writeSlots,
      onProgress: (written) => {
        if (written - lastLogged >= 5_000 || written === total) {
          lastLogged = written;
          ctx.logger.info({ region: task.region, written, total }, 'host records written');
        }
      },
    });
    if (!result) throw new Error(`the spread of ${task.region} for ${task.buildId} ended before it was written`);
    const counts = { region: task.region, hosts: task.hostsPerRegion, synced: result.synced, failed: result.failed };
    const meta = { correlationId: task.correlationId, causationId: ctx.taskId };
    if (result.healthy) {
      await appendFact(deps.store, task.stream, newEvent({ type: 'region.synced', data: { ...counts, rounds: result.rounds }, ...meta }));
      return { ok: true, output: counts };
    }
    const reason = `${result.synced} of ${task.hostsPerRegion} hosts synced, below ${deps.spread.minHealthyPercent}%`;
    await appendFact(deps.store, task.stream, newEvent({ type: 'region.sync_failed', data: { ...counts, minHealthyPercent: deps.spread.minHealthyPercent, reason }, ...meta }));
    return { ok: false, error: 'SyncFailed', cause: `${task.region}: ${reason}` };
  };
}
