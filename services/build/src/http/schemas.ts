/**
 * The API's request and response schemas: the routes validate with them and /openapi.json is
 * generated from them, so the document cannot drift from what the code accepts.
 */
import { z } from 'zod';
import { buildIdSchema, buildRequestSchema, doorSchema, envelopeSchema, envSchema, hostsPerRegionSchema, registry, repoSchema, ULID_PATTERN } from '@flotilla/events';
import { errorBodySchema, MAX_LIST_LIMIT } from '@flotilla/platform';

export { errorBodySchema };

export const buildIdParams = z.object({ id: buildIdSchema.describe('The build id (a ULID)') });

export const idempotencyHeaders = z
  .object({
    'idempotency-key': z
      .string({ error: 'required (1-256 characters)' })
      .min(1, 'required (1-256 characters)')
      .max(256, 'at most 256 characters')
      .describe('Names the request: a repeat with the same key and request finds the same build'),
  })
  // Every other header passes through untouched.
  .loose();

/**
 * The request body: regions and hostsPerRegion may be left out and get the service's defaults.
 * `regions` are the stack's: a region it lacks is a 400 naming the ones it has, never a build
 * whose region no worker would ever take.
 */
export function buildRequestBody(regions: readonly string[], defaults: { regions: string[]; hostsPerRegion: number }) {
  const request = buildRequestSchema(regions);
  return request.extend({
    regions: request.shape.regions.default(defaults.regions).describe('Target regions, each once; default: the service\'s DEFAULT_REGIONS'),
    hostsPerRegion: hostsPerRegionSchema.default(defaults.hostsPerRegion).describe('Hosts to sync in each region'),
  });
}

export const buildStatusSchema = z.enum(['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED']);

export const acceptedSchema = z.object({
  buildId: z.string(),
  status: z.literal('PENDING'),
  duplicate: z.boolean().describe('True when this key had already made the build'),
  links: z.object({ self: z.string(), events: z.string(), stream: z.string() }),
});

const progressSchema = z.object({
  expectedHosts: z.number().int(),
  hosts: z.number().int(),
  synced: z.number().int(),
  failed: z.number().int(),
  percent: z.number().int(),
  countersCatchingUp: z
    .boolean()
    .describe("The region's host records are all written (per the log) but the counters have not counted them all yet: percent is still rising"),
});

const regionViewSchema = z.object({
  replicated: z.boolean(),
  replicationFailure: z.string().optional(),
  synced: z.boolean(),
  syncFailure: z.string().optional(),
  hosts: z.number().int().optional(),
  syncedHosts: z.number().int().optional(),
  failedHosts: z.number().int().optional(),
  rounds: z.number().int().optional(),
  progress: progressSchema.optional().describe('Live host counters; absent in a view of the past (?at=)'),
});

export const buildViewSchema = z
  .object({
    buildId: z.string(),
    status: buildStatusSchema,
    repo: z.string(),
    env: z.string(),
    version: z.string(),
    branch: z.string(),
    commit: z.string(),
    source: z.object({ door: doorSchema, key: z.string() }),
    executionArn: z.string().optional(),
    artifact: z.object({ bucket: z.string(), key: z.string(), sha256: z.string(), sizeBytes: z.number().int(), prebuilt: z.boolean() }).optional(),
    requestedAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    failure: z.object({ reason: z.string(), failedRegions: z.array(z.object({ region: z.string(), reason: z.string() })) }).optional(),
    lastVersion: z.number().int().describe('Version of the last event folded into this view'),
    regions: z.record(z.string(), regionViewSchema),
  })
  .meta({ id: 'BuildView' });

/** `GET /builds/:id/stream?view=true`: the build's view beside its events. */
export const streamQuery = z.object({
  view: z.enum(['true', 'false']).optional().describe("With true, also send the build's view (event: view) each time it changes, host counters included"),
});

/** `?at=`: a stream version (1, 2, ...) or an ISO-8601 time. */
export const atQuery = z.object({
  at: z
    .string()
    .refine((v) => /^[1-9]\d{0,8}$/.test(v) || z.iso.datetime({ offset: true }).safeParse(v).success, 'must be a version number (1, 2, ...) or an ISO-8601 time')
    .optional()
    .describe('Answer the view as it was: after this stream version, or at this ISO-8601 time (without live host counters)'),
});

export const eventSchema = envelopeSchema.meta({ id: 'Event' });

export const buildEventsSchema = z.object({ buildId: z.string(), events: z.array(eventSchema) });

const eventTypes = Object.keys(registry) as [keyof typeof registry, ...Array<keyof typeof registry>];

export const MAX_EVENTS_PAGE = 500;

export const logQuery = z.object({
  after: z.string().regex(ULID_PATTERN, 'must be an event id (a ULID)').optional().describe('Events after this event id, oldest first; without it, the newest `limit` events'),
  type: z.enum(eventTypes).optional().describe('Only events of this type'),
  buildId: buildIdSchema.optional().describe("Only this build's events"),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(50).describe(`Events per answer, 1-${MAX_EVENTS_PAGE}`),
});

/** `GET /events/stream`: resumes after the last event id the reader has. */
export const logStreamHeaders = z
  .object({ 'last-event-id': z.string().regex(ULID_PATTERN, 'must be an event id (a ULID)').optional().describe('Resume after this event id') })
  // Every other header passes through untouched.
  .loose();

export const logPageSchema = z.object({
  events: z.array(eventSchema),
  next: z.string().nullable().describe('Pass as `after` to read on; null when the log is empty'),
});

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time' });

/** `GET /builds`: filters, all optional; `key` looks a build up by its door's key (with `door`). */
export const listQuery = z.object({
  repo: repoSchema.optional().describe('Only builds of this repository'),
  env: envSchema.optional().describe('Only builds to this environment'),
  status: buildStatusSchema.optional().describe('Only builds in this status'),
  door: doorSchema.optional().describe('Only builds that came through this door'),
  key: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .describe("The door's key, with `door`: http = the Idempotency-Key; sns = the requestId; s3 = `<bucket>/<key>#<eTag>`; onboarding = the service name"),
  since: isoTime.optional().describe('Only builds requested at or after this time'),
  until: isoTime.optional().describe('Only builds requested at or before this time'),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(20).describe(`Builds per page, 1-${MAX_LIST_LIMIT}`),
  cursor: z.string().min(1).max(2048).optional().describe('Where the previous page stopped (its nextCursor), with the same filters'),
});

export const buildSummarySchema = z
  .object({
    buildId: z.string(),
    repo: z.string(),
    env: z.string(),
    version: z.string(),
    status: buildStatusSchema,
    door: doorSchema,
    key: z.string(),
    requestedAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    reason: z.string().optional().describe('Why it failed'),
    regions: z.array(z.string()),
    hostsPerRegion: z.number().int(),
  })
  .meta({ id: 'BuildSummary' });

export const buildListSchema = z.object({
  builds: z.array(buildSummarySchema).describe('Newest first'),
  nextCursor: z.string().optional().describe('Present when more builds may follow: pass it as `cursor` with the same filters'),
});

export const regionsSchema = z.object({
  regions: z.array(z.string()).describe('The regions this stack has: a build may name only these'),
  defaults: z.object({ regions: z.array(z.string()), hostsPerRegion: z.number().int() }).describe('What a build request that leaves them out gets'),
});

const queueDepthSchema = z.object({ visible: z.number().int(), inFlight: z.number().int(), delayed: z.number().int() });

/** `GET /builds/:id/why`: how a build ended, or what it waits on now. */
export const buildWhySchema = z
  .union([
    z.object({
      buildId: z.string(),
      status: z.enum(['SUCCESS', 'FAILED']),
      finishedAt: z.string().optional(),
      reason: z.string().optional().describe('Why it failed'),
      failedRegions: z.array(z.object({ region: z.string(), reason: z.string() })).optional(),
    }),
    z.object({
      buildId: z.string(),
      status: z.enum(['PENDING', 'IN_PROGRESS']),
      stage: z.enum(['intake', 'build', 'replication', 'sync', 'finish']),
      waitingOn: z.string().describe('What the build waits on, in words'),
      lastEvent: z.object({ type: z.string(), version: z.number().int(), occurredAt: z.string(), ageMs: z.number() }).optional(),
      execution: z
        .object({
          status: z.string(),
          startedAt: z.string().optional(),
          stoppedAt: z.string().optional(),
          currentState: z.object({ name: z.string(), enteredAt: z.string() }).optional().describe('The state entered last and not yet left'),
          error: z.string().optional(),
          cause: z.string().optional(),
        })
        .optional()
        .describe('Its Step Functions execution; absent before build.started'),
      queues: z.array(z.object({ name: z.string(), depth: queueDepthSchema, dlq: z.string(), dlqDepth: queueDepthSchema })).describe("The stage's queues and their dead-letter queues"),
    }),
  ])
  .meta({ id: 'BuildWhy' });
export type BuildWhy = z.infer<typeof buildWhySchema>;

export const cancelledSchema = z.object({ buildId: z.string(), status: z.literal('FAILED'), reason: z.literal('cancelled') });
