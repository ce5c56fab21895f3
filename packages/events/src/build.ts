/**
 * The build aggregate: one stream per build (`build-<buildId>`), its events' payload schemas, and
 * the intake request every door (HTTP, SNS, S3) parses into before anything reaches the log.
 */
import { z } from 'zod';
import { ULID_PATTERN } from './envelope.ts';
import type { EventDefinition } from './registry-types.ts';

/** `.` and `..` are dot-segments: a key or path built from one is normalized away by whoever maps keys to paths (review L6). */
const notOnlyDots = (value: string) => !/^\.+$/.test(value);
const NOT_ONLY_DOTS = 'must not be made only of dots';
export const repoSchema = z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, '1-40 characters of A-Z a-z 0-9 . _ -').refine(notOnlyDots, NOT_ONLY_DOTS);
export const envSchema = z.string().regex(/^[a-z0-9-]{1,12}$/, '1-12 characters of a-z 0-9 -');
export const versionSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 . _ -').refine(notOnlyDots, NOT_ONLY_DOTS);
export const branchSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._\/-]+$/, 'letters, digits and . _ / -');
export const commitSchema = z.string().regex(/^[0-9a-f]{7,40}$/, '7-40 lowercase hex characters');
export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex characters');
export const buildIdSchema = z.string().regex(ULID_PATTERN, 'must be a ULID');
export const MAX_HOSTS_PER_REGION = 100_000;
export const hostsPerRegionSchema = z.number().int().min(1).max(MAX_HOSTS_PER_REGION);
const uniqueRegions = (list: readonly string[]) => new Set(list).size === list.length;
const regionListSchema = z.array(z.string().min(1)).min(1).refine(uniqueRegions, 'regions must be unique');

export const artifactLocationSchema = z.object({ bucket: z.string().min(1), key: z.string().min(1), sha256: sha256Schema });

/** Where a build came from: a caller's door, or `onboarding`, a new service's first build. */
export const doorSchema = z.enum(['http', 'sns', 's3', 'onboarding']);
export type Door = z.infer<typeof doorSchema>;

/**
 * What a caller asks for, the same at every door. `allowedRegions` is the configured region list,
 * checked as an enum so that the allowed values are part of the schema (and of the OpenAPI
 * document): a request naming another region is refused at the door, with the list.
 */
export function buildRequestSchema(allowedRegions: readonly string[]) {
  const [first, ...rest] = allowedRegions;
  if (first === undefined) throw new RangeError('buildRequestSchema needs at least one allowed region');
  const region = z.enum([first, ...rest], { error: () => `must be one of: ${allowedRegions.join(', ')}` });
  return z.object({
    repo: repoSchema,
    env: envSchema,
    version: versionSchema,
    branch: branchSchema,
    commit: commitSchema,
    regions: z.array(region).min(1).refine(uniqueRegions, 'regions must be unique'),
    hostsPerRegion: hostsPerRegionSchema,
  });
}
export type BuildRequest = z.infer<ReturnType<typeof buildRequestSchema>>;

const requestedV2 = z.object({
  buildId: buildIdSchema,
  repo: repoSchema,
  env: envSchema,
  version: versionSchema,
  branch: branchSchema,
  commit: commitSchema,
  regions: regionListSchema,
  hostsPerRegion: hostsPerRegionSchema,
  source: z.object({ door: doorSchema, key: z.string().min(1) }),
  artifact: artifactLocationSchema.optional(),
});

/**
 * build.requested v1 carried one `hosts` count for every region and accepted `regions` as a
 * comma-separated string; v2 names the count `hostsPerRegion` and always lists regions.
 */
function upcastRequestedV1(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const { hosts, regions, ...rest } = data as { hosts?: unknown; regions?: unknown };
  return {
    ...rest,
    hostsPerRegion: hosts,
    regions: typeof regions === 'string' ? regions.split(',').map((r) => r.trim()).filter(Boolean) : regions,
  };
}

/** How a region's sync went, host by host. */
const hostCountsSchema = z.object({
  region: z.string().min(1),
  hosts: z.number().int().min(0),
  synced: z.number().int().min(0),
  failed: z.number().int().min(0),
});

const failedRegionSchema = z.object({ region: z.string().min(1), reason: z.string().min(1) });

export const buildEvents = {
  'build.requested': { schemaVersion: 2, schema: requestedV2, upcasters: { 1: upcastRequestedV1 } },
  'build.started': { schemaVersion: 1, schema: z.object({ executionArn: z.string().startsWith('arn:') }) },
  'artifact.published': {
    schemaVersion: 1,
    schema: artifactLocationSchema.extend({ sizeBytes: z.number().int().min(0), prebuilt: z.boolean() }),
  },
  'region.replicated': {
    schemaVersion: 1,
    schema: artifactLocationSchema.extend({ region: z.string().min(1), attempts: z.number().int().min(1) }),
  },
  'region.replication_failed': {
    schemaVersion: 1,
    schema: z.object({ region: z.string().min(1), reason: z.string().min(1), attempts: z.number().int().min(1) }),
  },
  'region.synced': { schemaVersion: 1, schema: hostCountsSchema.extend({ rounds: z.number().int().min(0) }) },
  'region.sync_failed': {
    schemaVersion: 1,
    schema: hostCountsSchema.extend({ minHealthyPercent: z.number().min(0).max(100), reason: z.string().min(1) }),
  },
  'build.succeeded': { schemaVersion: 1, schema: z.object({}) },
  'build.failed': { schemaVersion: 1, schema: z.object({ reason: z.string().min(1), failedRegions: z.array(failedRegionSchema) }) },
} as const satisfies Record<string, EventDefinition>;
