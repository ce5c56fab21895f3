/**
 * The build API client. Every response is parsed with zod (objects stay loose, so `--json` prints
 * everything the API said, while the fields the CLI reads are checked). Connection failures
 * become "cannot reach the build API at ..."; error answers become their `message`.
 */
import { z } from 'zod';
import { doorSchema, envelopeSchema, serviceViewSchema, testRunViewSchema, type ServiceRequestInput, type TestRunRequestInput } from '@flotilla/events';
import type { ApiSettings } from './config.ts';
import { ApiError, isConnectionFailure, UnauthorizedError, UnreachableError, UserError } from './errors.ts';

export const statusSchema = z.enum(['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED']);
export type Status = z.infer<typeof statusSchema>;
/** The events package's doors (http, sns, s3 and onboarding): a build of any door parses, and `--door` takes each. */
export { doorSchema };

const errorBodySchema = z.object({ error: z.string(), message: z.string(), fields: z.array(z.string()).optional() });

export const submitResponseSchema = z.looseObject({ buildId: z.string(), status: statusSchema, duplicate: z.boolean() });
export type SubmitResponse = z.infer<typeof submitResponseSchema>;

export const buildSummarySchema = z.looseObject({
  buildId: z.string(),
  repo: z.string(),
  env: z.string(),
  version: z.string(),
  status: statusSchema,
  door: doorSchema,
  key: z.string(),
  requestedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  reason: z.string().optional(),
});
export type BuildSummary = z.infer<typeof buildSummarySchema>;

export const buildListSchema = z.looseObject({ builds: z.array(buildSummarySchema), nextCursor: z.string().optional() });
export type BuildList = z.infer<typeof buildListSchema>;

const progressSchema = z.looseObject({
  expectedHosts: z.number(),
  hosts: z.number(),
  synced: z.number(),
  failed: z.number(),
  percent: z.number(),
});

export const regionViewSchema = z.looseObject({
  replicated: z.boolean(),
  replicationFailure: z.string().optional(),
  synced: z.boolean(),
  syncFailure: z.string().optional(),
  hosts: z.number().optional(),
  syncedHosts: z.number().optional(),
  failedHosts: z.number().optional(),
  // Absent from a view as it was at a point in time (`?at=`): no live counters then.
  progress: progressSchema.optional(),
});
export type RegionView = z.infer<typeof regionViewSchema>;

export const buildViewSchema = z.looseObject({
  buildId: z.string(),
  status: statusSchema,
  repo: z.string().optional(),
  env: z.string().optional(),
  version: z.string().optional(),
  branch: z.string().optional(),
  commit: z.string().optional(),
  source: z.looseObject({ door: z.string(), key: z.string() }).optional(),
  executionArn: z.string().optional(),
  artifact: z.looseObject({ bucket: z.string(), key: z.string() }).optional(),
  requestedAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  failure: z.looseObject({ reason: z.string(), failedRegions: z.array(z.object({ region: z.string(), reason: z.string() })) }).optional(),
  lastVersion: z.number(),
  regions: z.record(z.string(), regionViewSchema),
});
export type BuildView = z.infer<typeof buildViewSchema>;

const queueDepthSchema = z.looseObject({ visible: z.number(), inFlight: z.number(), delayed: z.number() });

/** GET /builds/:id/why for a build that has not ended (a finished one answers with its outcome). */
export const buildWhySchema = z.looseObject({
  buildId: z.string(),
  status: statusSchema,
  stage: z.string().optional(),
  waitingOn: z.string().optional(),
  lastEvent: z.looseObject({ type: z.string(), version: z.number(), occurredAt: z.string(), ageMs: z.number() }).optional(),
  execution: z
    .looseObject({ status: z.string(), currentState: z.looseObject({ name: z.string(), enteredAt: z.string() }).optional(), error: z.string().optional(), cause: z.string().optional() })
    .optional(),
  queues: z.array(z.looseObject({ name: z.string(), depth: queueDepthSchema, dlq: z.string(), dlqDepth: queueDepthSchema })).optional(),
});
export type BuildWhy = z.infer<typeof buildWhySchema>;

export const eventSchema = envelopeSchema;
export type Event = z.infer<typeof eventSchema>;

export const buildEventsSchema = z.looseObject({ buildId: z.string(), events: z.array(eventSchema) });
export const globalEventsSchema = z.looseObject({ events: z.array(eventSchema), next: z.string().nullable() });
export type GlobalEvents = z.infer<typeof globalEventsSchema>;

export const cancelResponseSchema = z.looseObject({ buildId: z.string(), status: statusSchema, reason: z.string() });
export type CancelResponse = z.infer<typeof cancelResponseSchema>;

export const testRunStartedSchema = z.looseObject({ runId: z.string(), status: z.string(), duplicate: z.boolean() });
export type TestRunStarted = z.infer<typeof testRunStartedSchema>;
/** Loose, as the other answers: `--json` prints every field the API sent. */
export const testRunSchema = testRunViewSchema.loose();
export type TestRun = z.infer<typeof testRunSchema>;
export const testRunCancelledSchema = z.looseObject({ runId: z.string(), status: z.string() });

export const serviceStatusSchema = z.enum(['IN_PROGRESS', 'CREATED', 'FAILED']);
export const serviceCreatedSchema = z.looseObject({
  name: z.string(),
  status: serviceStatusSchema,
  duplicate: z.boolean(),
  links: z.looseObject({ self: z.string(), events: z.string() }),
});
export type ServiceCreated = z.infer<typeof serviceCreatedSchema>;
/** A service creation's status document; loose, as the other answers. */
export const serviceSchema = serviceViewSchema.loose();
export type Service = z.infer<typeof serviceSchema>;
export const serviceEventsSchema = z.looseObject({ name: z.string(), events: z.array(eventSchema) });
/** What `services create` sends: the template goes as given, and the API names a bad one. */
export type ServiceRequestBody = Omit<ServiceRequestInput, 'template'> & { template: string };

export interface SubmitRequest {
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
  regions?: string[] | undefined;
  hostsPerRegion?: number | undefined;
}

const REQUEST_TIMEOUT_MS = 15_000;

export class BuildApi {
  readonly baseUrl: string;
  readonly #settings: ApiSettings;

  constructor(settings: ApiSettings) {
    this.baseUrl = settings.url;
    this.#settings = settings;
  }

  private async request<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined } = {},
  ): Promise<z.infer<S>> {
    const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(init.signal ? [init.signal] : [])];
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.#settings.token === undefined ? {} : { authorization: `Bearer ${this.#settings.token}` }),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      if (isConnectionFailure(error)) {
        throw new UnreachableError(`cannot reach the build API at ${this.baseUrl} (is ./scripts/run.sh running?)`, { hint: 'set --api or FLOTILLA_API_URL to point elsewhere', cause: error });
      }
      if ((error as Error).name === 'TimeoutError') throw new UnreachableError(`the build API at ${this.baseUrl} did not answer ${method} ${path} within ${REQUEST_TIMEOUT_MS / 1000} s`, { cause: error });
      throw error;
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.status === 401) {
      const what = this.#settings.token === undefined ? 'got no token' : `refused the token from ${this.#settings.tokenSource ?? 'the settings'}`;
      throw new UnauthorizedError(`the build API at ${this.baseUrl} ${what} (401)`, {
        hint: 'pass --token <token> or set FLOTILLA_API_TOKEN; for the local stack, ./scripts/run.sh writes the token to .run/api-token and this CLI reads it',
      });
    }
    if (!res.ok) {
      const parsed = errorBodySchema.safeParse(body);
      if (parsed.success) throw new ApiError(res.status, parsed.data.error, parsed.data.message, parsed.data.fields);
      throw new ApiError(res.status, 'http_error', `${method} ${path} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new UserError(`the build API answered ${method} ${path} with a body this CLI does not understand: ${problems.join('; ')}`, {
        hint: 'is the CLI older or newer than the API?',
      });
    }
    return parsed.data;
  }

  submit(request: SubmitRequest, idempotencyKey: string): Promise<SubmitResponse> {
    return this.request('POST', '/builds', submitResponseSchema, { body: request, headers: { 'idempotency-key': idempotencyKey } });
  }

  list(query: URLSearchParams): Promise<BuildList> {
    const qs = query.toString();
    return this.request('GET', `/builds${qs ? `?${qs}` : ''}`, buildListSchema);
  }

  get(buildId: string, at?: string, signal?: AbortSignal): Promise<BuildView> {
    const qs = at === undefined ? '' : `?${new URLSearchParams({ at }).toString()}`;
    return this.request('GET', `/builds/${encodeURIComponent(buildId)}${qs}`, buildViewSchema, { signal });
  }

  events(buildId: string): Promise<z.infer<typeof buildEventsSchema>> {
    return this.request('GET', `/builds/${encodeURIComponent(buildId)}/events`, buildEventsSchema);
  }

  /** What a build that has not ended waits on (the build service reads its execution and queues), or how it ended. */
  why(buildId: string): Promise<BuildWhy> {
    return this.request('GET', `/builds/${encodeURIComponent(buildId)}/why`, buildWhySchema);
  }

  cancel(buildId: string): Promise<CancelResponse> {
    return this.request('POST', `/builds/${encodeURIComponent(buildId)}/cancel`, cancelResponseSchema, { body: {} });
  }

  /** The script goes as read: the API checks it and names each bad field. */
  startTestRun(request: Omit<TestRunRequestInput, 'script'> & { script: unknown }, idempotencyKey: string): Promise<TestRunStarted> {
    return this.request('POST', '/testruns', testRunStartedSchema, { body: request, headers: { 'idempotency-key': idempotencyKey } });
  }

  testRun(runId: string, signal?: AbortSignal): Promise<TestRun> {
    return this.request('GET', `/testruns/${encodeURIComponent(runId)}`, testRunSchema, { signal });
  }

  cancelTestRun(runId: string): Promise<z.infer<typeof testRunCancelledSchema>> {
    return this.request('POST', `/testruns/${encodeURIComponent(runId)}/cancel`, testRunCancelledSchema, { body: {} });
  }

  createService(request: ServiceRequestBody): Promise<ServiceCreated> {
    return this.request('POST', '/services', serviceCreatedSchema, { body: request });
  }

  service(name: string, signal?: AbortSignal): Promise<Service> {
    return this.request('GET', `/services/${encodeURIComponent(name)}`, serviceSchema, { signal });
  }

  serviceEvents(name: string): Promise<z.infer<typeof serviceEventsSchema>> {
    return this.request('GET', `/services/${encodeURIComponent(name)}/events`, serviceEventsSchema);
  }

  globalEvents(query: URLSearchParams, signal?: AbortSignal): Promise<GlobalEvents> {
    const qs = query.toString();
    return this.request('GET', `/events${qs ? `?${qs}` : ''}`, globalEventsSchema, { signal });
  }
}
