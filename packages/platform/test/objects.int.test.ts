/**
 * S3 objects against the emulator: the build step copies a prebuilt upload only if it is still the
 * object whose digest it checked (CopySourceIfMatch on the ETag), so an upload replaced between the
 * check and the copy is refused instead of published under the old digest (review L5).
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyObject, headObject, objectDigest, putObject, readObjectText } from '../src/objects.ts';
import { testAwsClients, uniquePrefix } from '../src/testing/index.ts';

const aws = testAwsClients();
const bucket = `${uniquePrefix('objects')}-global`;
const keys = ['incoming/a/prod/1.zip', 'artifacts/a/prod/1/x.zip', 'testruns/current.json'];

beforeAll(async () => {
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(async () => {
  for (const Key of keys) await aws.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
  await aws.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  aws.destroy();
});

describe('copyObject with the checked ETag', () => {
  it('copies the object that was checked, and refuses one replaced since', async () => {
    const [upload, artifact] = keys as [string, string];
    await putObject(aws.s3, bucket, upload, new TextEncoder().encode('first'));
    const checked = await objectDigest(aws.s3, bucket, upload);
    expect(checked.eTag).toBe((await headObject(aws.s3, bucket, upload))?.eTag);

    await copyObject(aws.s3, { bucket, key: upload }, { bucket, key: artifact }, { ifMatch: checked.eTag });
    expect((await objectDigest(aws.s3, bucket, artifact)).sha256).toBe(checked.sha256);

    await putObject(aws.s3, bucket, upload, new TextEncoder().encode('replaced after the check'));
    await expect(copyObject(aws.s3, { bucket, key: upload }, { bucket, key: artifact }, { ifMatch: checked.eTag })).rejects.toMatchObject({ name: 'PreconditionFailed' });
    expect((await objectDigest(aws.s3, bucket, artifact)).sha256).toBe(checked.sha256);
  });
});

describe('readObjectText', () => {
  it("reads a small object's body as text, and a missing key as undefined", async () => {
    const key = keys[2] ?? '';
    expect(await readObjectText(aws.s3, bucket, key)).toBeUndefined();
    await putObject(aws.s3, bucket, key, new TextEncoder().encode('{"runId":"é"}'));
    expect(await readObjectText(aws.s3, bucket, key)).toBe('{"runId":"é"}');
  });
});
