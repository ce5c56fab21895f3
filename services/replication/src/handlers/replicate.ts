/**
 * One region's replication task: copy the artifact from the global bucket to the region's bucket,
 * verify its sha256 after the copy, keep a FileCopyTracking record (start, end, attempts, outcome),
 * append region.replicated or region.replication_failed, and answer the token. Publishes nothing.
 */
import { z } from 'zod';
import { artifactLocationSchema, newEvent } from '@flotilla/events';
import { appendFact, copyObject, objectDigest, type AwsClients, type EventStore, type Records, type TaskContext, type TaskOutcome } from '@flotilla/platform';

export const replicateTaskSchema = z.object({
  region: z.string(),
  buildId: z.string(),
  stream: z.string(),
  correlationId: z.string(),
  artifact: artifactLocationSchema,
});
export type ReplicateTask = z.infer<typeof replicateTaskSchema>;

export interface ReplicationDeps {
  aws: AwsClients;
  store: EventStore;
  copies: Records;
  regionBucket: (region: string) => string;
  failRegions: readonly string[];
}

export function replicateTask(deps: ReplicationDeps) {
  return async (task: ReplicateTask, ctx: TaskContext): Promise<TaskOutcome<{ region: string; bucket: string; key: string; sha256: string }>> => {
    const tracking = { pk: `build#${task.buildId}`, sk: `region#${task.region}` };
    const bucket = deps.regionBucket(task.region);
    const copy = await deps.copies.update<{ attempts?: number }>(tracking, {
      set: { startedAt: new Date().toISOString(), outcome: 'COPYING', source: `${task.artifact.bucket}/${task.artifact.key}`, target: `${bucket}/${task.artifact.key}` },
      add: { attempts: 1 },
    });
    const attempts = Number(copy?.attempts ?? 1);
    const meta = { correlationId: task.correlationId, causationId: ctx.taskId };

    const fail = async (reason: string): Promise<TaskOutcome<never>> => {
      await deps.copies.update(tracking, { set: { endedAt: new Date().toISOString(), outcome: 'FAILED', reason } });
      await appendFact(deps.store, task.stream, newEvent({ type: 'region.replication_failed', data: { region: task.region, reason, attempts }, ...meta }));
      ctx.logger.warn({ region: task.region, reason }, 'replication failed');
      return { ok: false, error: 'ReplicationFailed', cause: `${task.region}: ${reason}` };
    };

    if (deps.failRegions.includes(task.region)) return fail('injected copy failure (FAIL_REPLICATION_REGIONS)');
    ctx.logger.debug({ region: task.region, attempts }, 'copying');
    await copyObject(deps.aws.s3, task.artifact, { bucket, key: task.artifact.key });
    ctx.logger.debug({ region: task.region }, 'verifying the copy');
    const { sha256 } = await objectDigest(deps.aws.s3, bucket, task.artifact.key);
    if (sha256 !== task.artifact.sha256) return fail(`sha256 after copy is ${sha256}, expected ${task.artifact.sha256}`);

    await deps.copies.update(tracking, { set: { endedAt: new Date().toISOString(), outcome: 'SUCCEEDED' } });
    const output = { region: task.region, bucket, key: task.artifact.key, sha256 };
    await appendFact(deps.store, task.stream, newEvent({ type: 'region.replicated', data: { ...output, attempts }, ...meta }));
    ctx.logger.info({ region: task.region, attempts }, 'replicated and verified');
    return { ok: true, output };
  };
}
