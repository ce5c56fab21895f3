/**
 * The S3 door: a prebuilt artifact uploaded as incoming/<repo>/<env>/<version>.zip notifies the
 * uploads queue. Each ObjectCreated record becomes build.requested with the artifact's location
 * and sha256 (from x-amz-meta-sha256, else computed by streaming the object), keyed by
 * bucket + key + eTag. Regions and hosts come from object metadata or the configured defaults;
 * branch and commit from metadata. The s3:TestEvent sent when notifications are configured is
 * acknowledged and dropped.
 */
import { z } from 'zod';
import { buildRequestSchema, describeIssues } from '@flotilla/events';
import { headObject, InvalidMessageError, objectDigest, parseMessage, requestBuild, type ReceivedMessage } from '@flotilla/platform';
import type { OrchestratorDeps } from './deps.ts';

const s3EventSchema = z.union([
  z.object({ Event: z.literal('s3:TestEvent') }).loose(),
  z.object({
    Records: z.array(
      z.object({
        eventName: z.string(),
        s3: z.object({ bucket: z.object({ name: z.string() }), object: z.object({ key: z.string(), eTag: z.string().optional() }) }),
      }),
    ),
  }),
]);

export const INCOMING_KEY = /^incoming\/([^/]+)\/([^/]+)\/(.+)\.zip$/;

/** The emulator sends keys as stored; AWS URL-encodes them (spaces as '+'). Accept both. */
export function decodeEventKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

export function uploadHandler(deps: OrchestratorDeps) {
  const { s3 } = deps.aws;
  return async (received: ReceivedMessage): Promise<void> => {
    const event = parseMessage(received.body, s3EventSchema, 'S3 event notification');
    if ('Event' in event) {
      received.logger.info('s3:TestEvent acknowledged');
      return;
    }
    for (const record of event.Records) {
      if (!record.eventName.startsWith('ObjectCreated')) continue;
      const bucket = record.s3.bucket.name;
      const asSent = record.s3.object.key;
      // Use the key as received when it exists (the emulator), else its URL-decoded form (AWS).
      let key = asSent;
      let info = await headObject(s3, bucket, key);
      if (!info && decodeEventKey(asSent) !== asSent) {
        key = decodeEventKey(asSent);
        info = await headObject(s3, bucket, key);
      }
      if (!info) throw new InvalidMessageError(`uploaded object s3://${bucket}/${asSent} no longer exists`);
      const match = INCOMING_KEY.exec(key);
      if (!match) throw new InvalidMessageError(`upload key ${key} is not incoming/<repo>/<env>/<version>.zip`);
      const [, repo, env, version] = match;
      const meta = info.metadata;
      const parsed = buildRequestSchema(deps.regions).safeParse({
        repo,
        env,
        version,
        branch: meta.branch,
        commit: meta.commit,
        regions: meta.regions ? meta.regions.split(',').map((r) => r.trim()) : deps.defaults.regions,
        hostsPerRegion: meta.hosts ? Number(meta.hosts) : deps.defaults.hostsPerRegion,
      });
      if (!parsed.success) throw new InvalidMessageError(`upload s3://${bucket}/${key}: ${describeIssues(parsed.error.issues).join('; ')} (branch, commit, regions and hosts come from x-amz-meta-*)`);
      const sha256 = meta.sha256 && /^[0-9a-f]{64}$/.test(meta.sha256) ? meta.sha256 : (await objectDigest(s3, bucket, key)).sha256;
      const eTag = record.s3.object.eTag ?? info.eTag;
      const { buildId, duplicate } = await requestBuild(deps, { door: 's3', key: `${bucket}/${key}#${eTag}`, request: parsed.data, artifact: { bucket, key, sha256 } });
      received.logger.info({ bucket, key, buildId, duplicate }, duplicate ? 'upload repeat: same build' : 'build requested from upload');
    }
  };
}
