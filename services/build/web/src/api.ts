/**
 * The build API, as the console calls it: one fetch wrapper (the token, the error classes) and one
 * named function per endpoint. The response types come from the server's own schemas, imported as
 * types only, so nothing of the server is bundled; the API validates its answers against those
 * schemas before they leave it.
 *
 * Every failure is an ApiError of one of four kinds, which the views show as they are:
 *   unreachable   the request got no answer (network, the service down, a proxy's 502/504)
 *   unauthorized  401: the token is cleared and the sign-in prompt comes back (auth.ts)
 *   unavailable   503 from the API: AWS (a dependency) did not answer
 *   refused       any other error answer: its status, code, message and per-field lines
 */
import type { z } from 'zod';
import type { EventEnvelope, ServiceView, TestRunView } from '@flotilla/events';
import type { acceptedSchema, buildEventsSchema, buildListSchema, buildRequestBody, buildStatusSchema, buildSummarySchema, buildViewSchema, buildWhySchema, cancelledSchema, regionsSchema } from '../../src/http/schemas.ts';
import { refuseToken, sessionToken } from './auth.ts';
import type { BuildFilters } from './router.ts';

export type BuildStatus = z.infer<typeof buildStatusSchema>;
export type BuildView = z.infer<typeof buildViewSchema>;
export type RegionView = BuildView['regions'][string];
export type BuildSummary = z.infer<typeof buildSummarySchema>;
export type BuildList = z.infer<typeof buildListSchema>;
export type Door = BuildSummary['door'];
export type Accepted = z.infer<typeof acceptedSchema>;
export type Cancelled = z.infer<typeof cancelledSchema>;
export type { EventEnvelope, ServiceView, TestRunView };

export type BuildEvents = z.infer<typeof buildEventsSchema>;

export type Regions = z.infer<typeof regionsSchema>;
export type BuildWhy = z.infer<typeof buildWhySchema>;
/** GET /builds/:id/why for a build that has not ended: where it is and what it waits on. */
export type BuildWaiting = Extract<BuildWhy, { status: 'PENDING' | 'IN_PROGRESS' }>;
/** GET /builds/:id/why for a build that ended: how. */
export type BuildOutcome = Exclude<BuildWhy, BuildWaiting>;

export const hasEnded = (why: BuildWhy): why is BuildOutcome => why.status === 'SUCCESS' || why.status === 'FAILED';

/** The body POST /builds takes; regions and hostsPerRegion left out get the service's defaults. */
export type BuildRequestBody = z.input<ReturnType<typeof buildRequestBody>>;

export type ApiErrorKind = 'unreachable' | 'unauthorized' | 'unavailable' | 'refused';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly kind: ApiErrorKind;
  /** The HTTP status, when there was an answer. */
  readonly status: number | undefined;
  /** The API's machine-readable code (`error`), e.g. not_found, backlog_full. */
  readonly code: string | undefined;
  /** One `path: message` line per invalid field (400s). */
  readonly fields: readonly string[];
  /** Retry-After, in seconds, when the answer had one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(kind: ApiErrorKind, message: string, details: { status?: number; code?: string; fields?: readonly string[]; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { cause: details.cause });
    this.kind = kind;
    this.status = details.status;
    this.code = details.code;
    this.fields = details.fields ?? [];
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

export const isAbort = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';
export const isNotFound = (error: unknown): boolean => error instanceof ApiError && error.status === 404;
/** A failure that asking again may mend: no answer, AWS unavailable, a server error, a rate limit. */
export const isTransient = (error: unknown): boolean =>
  error instanceof ApiError && (error.kind === 'unreachable' || error.kind === 'unavailable' || error.status === 429 || (error.status ?? 0) >= 500);

interface ErrorBody {
  error?: unknown;
  message?: unknown;
  fields?: unknown;
}

function retryAfterOf(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function errorOf(response: Response, token: string | undefined): Promise<ApiError> {
  const body = (await response.json().catch(() => undefined)) as ErrorBody | undefined;
  const status = response.status;
  const code = typeof body?.error === 'string' ? body.error : undefined;
  const message = typeof body?.message === 'string' ? body.message : `the build service answered ${status} ${response.statusText}`.trim();
  const fields = Array.isArray(body?.fields) ? body.fields.filter((f): f is string => typeof f === 'string') : [];
  const retryAfterSeconds = retryAfterOf(response);
  const details = { status, fields, ...(code === undefined ? {} : { code }), ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
  if (status === 401) {
    refuseToken(token);
    return new ApiError('unauthorized', 'The token was refused', details);
  }
  // A proxy in front of the service answering for it, without the API's error body.
  if ((status === 502 || status === 504) && code === undefined) return new ApiError('unreachable', `cannot reach the build service (${message})`, details);
  if (status === 503 && code !== 'backlog_full') return new ApiError('unavailable', message, details);
  return new ApiError('refused', message, details);
}

/**
 * One request to the API with the session's token. Answers the response when it is 2xx; throws an
 * ApiError otherwise, and rethrows an abort as it is (the caller went away, nothing to show).
 */
export async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = sessionToken();
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers, cache: 'no-store' });
  } catch (error) {
    if (isAbort(error) || init.signal?.aborted) throw error;
    throw new ApiError('unreachable', 'cannot reach the build service', { cause: error });
  }
  if (!response.ok) throw await errorOf(response, token);
  return response;
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await send(path, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
  return (await response.json()) as T;
}

async function postJson<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await send(path, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return (await response.json()) as T;
}

const segment = encodeURIComponent;

/** Builds per page of the list; the API allows up to 100. */
export const PAGE_SIZE = 50;

export function listBuilds(filters: BuildFilters, cursor: string | undefined, signal?: AbortSignal): Promise<BuildList> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (typeof value === 'string' && value !== '') params.set(name, value);
  params.set('limit', String(PAGE_SIZE));
  if (cursor !== undefined) params.set('cursor', cursor);
  return getJson(`/builds?${params.toString()}`, signal);
}

export const getBuild = (buildId: string, signal?: AbortSignal): Promise<BuildView> => getJson(`/builds/${segment(buildId)}`, signal);
export const getBuildEvents = (buildId: string, signal?: AbortSignal): Promise<BuildEvents> => getJson(`/builds/${segment(buildId)}/events`, signal);
export const getBuildWhy = (buildId: string, signal?: AbortSignal): Promise<BuildWhy> => getJson(`/builds/${segment(buildId)}/why`, signal);
export const cancelBuild = (buildId: string): Promise<Cancelled> => postJson(`/builds/${segment(buildId)}/cancel`, {});
export const requestBuild = (body: BuildRequestBody, idempotencyKey: string): Promise<Accepted> => postJson('/builds', body, { 'idempotency-key': idempotencyKey });
export const getRegions = (signal?: AbortSignal): Promise<Regions> => getJson('/regions', signal);
export const getTestRun = (runId: string, signal?: AbortSignal): Promise<TestRunView> => getJson(`/testruns/${segment(runId)}`, signal);
export const getService = (name: string, signal?: AbortSignal): Promise<ServiceView> => getJson(`/services/${segment(name)}`, signal);

/** The live streams' paths (stream.ts opens them). */
export const streams = {
  build: (buildId: string) => `/builds/${segment(buildId)}/stream?view=true`,
  testRun: (runId: string) => `/testruns/${segment(runId)}/stream`,
  events: () => '/events/stream',
};
