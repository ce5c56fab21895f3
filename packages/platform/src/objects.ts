/** S3 objects: digests computed by streaming (never buffering a whole artifact), puts, copies, heads, small reads. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ObjectInfo {
  size: number;
  eTag: string;
  metadata: Record<string, string>;
}

export async function headObject(s3: S3Client, bucket: string, key: string): Promise<ObjectInfo | undefined> {
  try {
    const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: out.ContentLength ?? 0, eTag: (out.ETag ?? '').replaceAll('"', ''), metadata: out.Metadata ?? {} };
  } catch (error) {
    if (error instanceof NotFound || error instanceof NoSuchKey || (error as Error).name === 'NotFound') return undefined;
    throw error;
  }
}

/** sha256 and size of an object, hashed as it streams, and the ETag of the version that was hashed. */
export async function objectDigest(s3: S3Client, bucket: string, key: string): Promise<{ sha256: string; size: number; eTag: string }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of out.Body as Readable) {
    const bytes = chunk as Uint8Array;
    hash.update(bytes);
    size += bytes.length;
  }
  return { sha256: hash.digest('hex'), size, eTag: (out.ETag ?? '').replaceAll('"', '') };
}

/** An object's body as UTF-8 text, or undefined when the key does not exist (a small object: it is read whole). */
export async function readObjectText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await out.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Uint8Array, metadata: Record<string, string> = {}): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata, ContentType: 'application/zip' }));
}

/**
 * Copies an object. With `ifMatch` (an ETag) S3 copies only that version of the source and answers
 * PreconditionFailed otherwise, so a copy cannot publish an object other than the one checked.
 */
export async function copyObject(s3: S3Client, from: { bucket: string; key: string }, to: { bucket: string; key: string }, options: { ifMatch?: string } = {}): Promise<void> {
  await s3.send(
    new CopyObjectCommand({
      Bucket: to.bucket,
      Key: to.key,
      CopySource: `${from.bucket}/${encodeURIComponent(from.key).replaceAll('%2F', '/')}`,
      ...(options.ifMatch ? { CopySourceIfMatch: `"${options.ifMatch}"` } : {}),
    }),
  );
}
