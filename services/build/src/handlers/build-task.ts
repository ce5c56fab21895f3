/**
 * The build step of the deploy state machine: produce the artifact (or verify a prebuilt one from
 * the S3 door), store it under artifacts/ in the global bucket, append artifact.published, and
 * answer the task token with the artifact's location. Every door yields the same log.
 */
import { z } from 'zod';
import { artifactLocationSchema, newEvent } from '@flotilla/events';
import { appendFact, copyObject, objectDigest, putObject, type AwsClients, type EventStore, type TaskContext, type TaskOutcome } from '@flotilla/platform';
import { artifactKey, buildArtifact } from '../domain/artifact.ts';

export const buildTaskSchema = z.object({
  buildId: z.string(),
  stream: z.string(),
  correlationId: z.string(),
  repo: z.string(),
  env: z.string(),
  version: z.string(),
  branch: z.string(),
  commit: z.string(),
  artifact: artifactLocationSchema.nullable().optional(),
});
export type BuildTask = z.infer<typeof buildTaskSchema>;
export type ArtifactOutput = z.infer<typeof artifactLocationSchema>;

export function buildTask(deps: { aws: AwsClients; store: EventStore; globalBucket: string }) {
  return async (task: BuildTask, ctx: TaskContext): Promise<TaskOutcome<ArtifactOutput>> => {
    const key = artifactKey(task);
    let sha256: string;
    let sizeBytes: number;
    const prebuilt = Boolean(task.artifact);
    if (task.artifact) {
      const digest = await objectDigest(deps.aws.s3, task.artifact.bucket, task.artifact.key);
      if (digest.sha256 !== task.artifact.sha256) {
        return { ok: false, error: 'ArtifactDigestMismatch', cause: `s3://${task.artifact.bucket}/${task.artifact.key} has sha256 ${digest.sha256}, the request said ${task.artifact.sha256}` };
      }
      try {
        // Only the version whose digest was checked: an upload replaced since is refused (review L5).
        await copyObject(deps.aws.s3, task.artifact, { bucket: deps.globalBucket, key }, { ifMatch: digest.eTag });
      } catch (error) {
        if ((error as Error).name !== 'PreconditionFailed') throw error;
        return { ok: false, error: 'ArtifactChanged', cause: `s3://${task.artifact.bucket}/${task.artifact.key} changed after its digest was checked` };
      }
      ({ sha256, size: sizeBytes } = digest);
    } else {
      const artifact = buildArtifact(task);
      await putObject(deps.aws.s3, deps.globalBucket, key, artifact.bytes, { sha256: artifact.sha256 });
      sha256 = artifact.sha256;
      sizeBytes = artifact.bytes.length;
    }
    const output = { bucket: deps.globalBucket, key, sha256 };
    await appendFact(deps.store, task.stream, newEvent({ type: 'artifact.published', data: { ...output, sizeBytes, prebuilt }, correlationId: task.correlationId, causationId: ctx.taskId }));
    ctx.logger.info({ key, sha256, sizeBytes, prebuilt }, 'artifact published');
    return { ok: true, output };
  };
}
