/**
 * The HTTP side of every service: a Fastify app with zod route schemas (validated and serialized
 * by fastify-type-provider-zod), an OpenAPI document generated from those schemas at
 * GET /openapi.json, GET /health (liveness), GET /ready (dependencies), and one error handler, so
 * that every error answers the same body `{ error, message, fields? }` and a 5xx never leaks
 * internals. With `auth`, every route but the public ones (PUBLIC_ROUTES) needs
 * `Authorization: Bearer <token>`; with `rateLimit`, each client gets so many requests a minute
 * (429 with Retry-After past that).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type onRequestHookHandler,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { within } from './concurrency.ts';
import { IdempotencyKeyReusedError, isRetryable } from './errors.ts';
import { InvalidCursorError, InvalidListFilterError } from './projections/build-list.ts';
import type { Logger } from './logger.ts';

export type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
export type { FastifyReply, FastifyRequest } from 'fastify';

/** A service's routes: a Fastify plugin whose route schemas are zod schemas. */
export type HttpRoutes = FastifyPluginAsyncZod;

export type HealthCheck = () => Promise<void>;

/** Request bodies above this are refused with 413 before they are read. */
export const MAX_BODY_BYTES = 64 * 1024;
/** What a 503 (a dependency did not answer) tells the client to wait before retrying. */
const RETRY_AFTER_SECONDS = 2;

/** The body of every error answer. */
export const errorBodySchema = z
  .object({
    error: z.string().describe('Stable, machine-readable code, e.g. invalid_request, not_found'),
    message: z.string().describe('What went wrong, for a person'),
    fields: z.array(z.string()).optional().describe('One `path: message` line per invalid field'),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const healthSchema = z.object({
  service: z.string(),
  hostname: z.string().describe('The host answering: a container\'s own name when the service runs in one'),
  status: z.enum(['ok', 'unhealthy']),
  checks: z.record(z.string(), z.string()).describe("Each dependency check: 'ok' or why it failed"),
});

/** An answer a handler chooses: thrown, it becomes `status` with `{ error, message, fields }`. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly body: ErrorBody;

  constructor(statusCode: number, error: string, message: string, fields?: string[]) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.body = { error, message, ...(fields ? { fields } : {}) };
  }
}

export const notFound = (message: string) => new HttpError(404, 'not_found', message);

/** `idempotency-key` -> `Idempotency-Key`: header errors name the header as callers write it. */
const headerName = (name: string) => name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => `${dash}${c.toUpperCase()}`);

const WHERE: Record<string, string> = { body: 'request body', headers: 'headers', querystring: 'query', params: 'path' };

/** `/regions/0` -> `regions.0`, the same `path: message` lines the other doors write. */
function fieldLine(context: string | undefined, instancePath: string, message: string | undefined): string {
  const parts = instancePath.split('/').filter(Boolean);
  const path = context === 'headers' ? parts.map(headerName).join('.') : parts.join('.');
  return `${path || '(root)'}: ${message ?? 'invalid'}`;
}

/** Maps any error to the answer: status and body. Exported for its unit test. */
export function errorAnswer(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) return { status: error.statusCode, body: error.body };
  if (hasZodFastifySchemaValidationErrors(error)) {
    const fields = error.validation.map((v) => fieldLine(error.validationContext, v.instancePath, v.message));
    const where = WHERE[error.validationContext ?? ''] ?? 'request';
    return { status: 400, body: { error: 'invalid_request', message: `invalid ${where}: ${fields.join('; ')}`, fields } };
  }
  if (error instanceof IdempotencyKeyReusedError) return { status: 422, body: { error: 'idempotency_key_reused', message: error.message } };
  if (error instanceof InvalidCursorError) return { status: 400, body: { error: 'invalid_cursor', message: error.message, fields: [`cursor: ${error.message}`] } };
  if (error instanceof InvalidListFilterError) return { status: 400, body: { error: 'invalid_request', message: error.message } };
  const e = error as Partial<FastifyError>;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'body_too_large', message: `request body over ${MAX_BODY_BYTES} bytes` } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported_media_type', message: 'request body must be application/json' } };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'invalid_json', message: 'request body is not JSON' } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'invalid_json', message: 'request body is empty but content-type is application/json' } };
    default:
      break;
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return { status, body: { error: 'bad_request', message: e.message ?? 'bad request' } };
  // A dependency that did not answer (AWS throttling, an outage, a timeout): the same request may
  // pass later, so the client is told to retry, not that the server is broken.
  if (isRetryable(error)) return { status: 503, body: { error: 'unavailable', message: 'a service this API depends on did not answer; retry later' } };
  return { status: 500, body: { error: 'internal', message: 'internal error' } };
}

/**
 * Route patterns anyone may call, without a token. Health and readiness are probed by
 * supervisors that hold no token; the OpenAPI document describes the API, not its data; `/` and
 * its assets are the console's static files (the page itself calls the API with a token); the
 * GitHub webhook is authenticated by its HMAC signature instead. Matched against the route a
 * request was routed to (Fastify's pattern, not the raw URL), so `/assets/../builds` cannot
 * borrow an exception.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready', '/openapi.json', '/', '/index.html', '/favicon.ico', '/assets/*', '/webhooks/github']);

/** Routes the rate limit never refuses: supervisors probe them, and a refused probe restarts a healthy task. */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready']);

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether the Authorization header carries the token. Hand-written rather than
 * @fastify/bearer-auth (10.1.3): that plugin compares the raw strings, returning early on a length
 * mismatch, answers without WWW-Authenticate, and guards a whole encapsulation context, where
 * here the exceptions are routes the platform, the console and the webhook register in different
 * places. Both sides are hashed first, so timingSafeEqual always compares 32 bytes and the time
 * taken says nothing about the token's length or contents.
 */
export function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  const presented = digest(match?.[1] ?? '');
  return timingSafeEqual(presented, expected) && match !== null;
}

function refuseUnauthorized(request: FastifyRequest, reply: FastifyReply, logger: Logger) {
  // The header itself is never logged: only whether one came.
  logger.debug({ method: request.method, url: request.url, credentials: request.headers.authorization ? 'invalid' : 'missing' }, 'request refused: unauthorized');
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="flotilla"')
    .send({ error: 'unauthorized', message: 'this API needs Authorization: Bearer <token> (locally: the token in .run/api-token)' } satisfies ErrorBody);
}

export interface HttpAppOptions {
  logger: Logger;
  service: string;
  /**
   * Liveness checks for GET /health (the process and its consumers work); 503 naming each one
   * that throws. An orchestrator restarts a service that fails them, so no AWS call belongs here:
   * an AWS outage would otherwise restart every task at once.
   */
  checks?: Record<string, HealthCheck>;
  /**
   * Dependency checks for GET /ready (the AWS resources the service needs answer); 503 naming
   * each one that throws. During an AWS outage /ready says so while /health stays 200.
   */
  readiness?: Record<string, HealthCheck>;
  routes?: HttpRoutes;
  /** Version shown in the OpenAPI document. */
  version?: string;
  /** The API token every route but PUBLIC_ROUTES requires; without it, no route asks for one. */
  auth?: { token: string };
  /** Requests per minute per client address; without it, no limit. */
  rateLimit?: { perMinute: number };
}

/**
 * A check that has not answered by then counts as failed. During an outage an AWS call retries
 * for many seconds; a probe (the supervisor's, a load balancer's) must still get its answer in time.
 */
export const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<void> {
  if (!(await within(check(), timeoutMs)).done) throw new Error(`no answer within ${timeoutMs} ms`);
}

async function health(service: string, checks: Record<string, HealthCheck>, timeoutMs = CHECK_TIMEOUT_MS) {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await runCheck(check, timeoutMs);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  const ok = results.every(([, r]) => r === 'ok');
  return { ok, body: { service, hostname: hostname(), status: ok ? ('ok' as const) : ('unhealthy' as const), checks: Object.fromEntries(results) } };
}

/**
 * Fastify's own logger is the service's pino logger, raised to warn: its warnings and errors are
 * kept, its per-request and listening lines at info are not (the service logs what it does, and
 * the one listening line scripts/fleet.ts waits for).
 */
function fastifyLogger(logger: Logger): FastifyBaseLogger {
  const level = logger.levels.values[logger.level] ?? 0;
  return logger.child({ component: 'http' }, { level: level >= (logger.levels.values.warn ?? 40) ? logger.level : 'warn' });
}

/** The app, ready but not listening: what tests inject() into and what startHttpServer serves. */
export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { logger, service, checks = {}, readiness = {}, routes, auth, rateLimit } = options;
  const app = Fastify({
    loggerInstance: fastifyLogger(logger),
    // Requests are logged once, by the onResponse hook below, at debug.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: Fastify would otherwise read text/plain bodies as strings.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = errorAnswer(error);
    if (status === 503) {
      logger.warn({ err: error, method: request.method, url: request.url }, 'request failed on a dependency; answered 503');
      void reply.header('retry-after', RETRY_AFTER_SECONDS);
    } else if (status >= 500) logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    else logger.debug({ method: request.method, url: request.url, status, error: body.error }, 'request refused');
    return reply.code(status).send(body);
  });
  const expected = auth && digest(auth.token);
  // An unknown route answers 401 to a caller without the token, so strangers cannot map the API.
  app.setNotFoundHandler((request, reply) =>
    expected && !bearerMatches(request.headers.authorization, expected)
      ? refuseUnauthorized(request, reply, logger)
      : reply.code(404).send({ error: 'not_found', message: `no route for ${request.method} ${request.url}` }),
  );
  app.addHook('onResponse', (request, reply, done) => {
    logger.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    done();
  });

  // Both limits attach to each route as it is registered (onRoute), so they are in place before
  // any route: the rate limit first, so that guessing tokens is limited too, then the token.
  if (rateLimit) {
    await app.register(fastifyRateLimit, {
      global: true,
      max: rateLimit.perMinute,
      timeWindow: 60_000,
      allowList: (request) => PROBE_ROUTES.has(request.routeOptions.url ?? ''),
      errorResponseBuilder: (_request, context) =>
        new HttpError(context.statusCode, 'rate_limited', `more than ${context.max} requests a minute from this client; retry after ${context.after}`),
    });
  }
  if (expected) {
    const requireToken: onRequestHookHandler = (request, reply, done) => {
      if (bearerMatches(request.headers.authorization, expected)) done();
      else void refuseUnauthorized(request, reply, logger);
    };
    app.addHook('onRoute', (route) => {
      if (PUBLIC_ROUTES.has(route.url)) return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, requireToken];
    });
  }

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: `flotilla ${service}`, version: options.version ?? '0.1.0' },
      // Every operation needs the token unless it says `security: []` (the public routes do).
      ...(auth ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] } : {}),
    },
    transform: jsonSchemaTransform,
    // Schemas given an id with .meta({ id }) become components the routes refer to.
    transformObject: jsonSchemaTransformObject,
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/health',
    { schema: { summary: 'Liveness: whether the process and its consumers work', tags: ['health'], security: [], response: { 200: healthSchema, 503: healthSchema } } },
    async (_request, reply) => {
      const { ok, body } = await health(service, checks);
      return reply.code(ok ? 200 : 503).send(body);
    },
  );
  typed.get(
    '/ready',
    { schema: { summary: 'Whether the AWS resources the service depends on answer', tags: ['health'], security: [], response: { 200: healthSchema, 503: healthSchema } } },
    async (_request, reply) => {
      const { ok, body } = await health(service, readiness);
      return reply.code(ok ? 200 : 503).send(body);
    },
  );
  typed.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  if (routes) await typed.register(routes);
  await app.ready();
  return app;
}

export interface RunningHttpServer {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

/** `host`: the address to listen on; loopback unless the caller says otherwise (a container says 0.0.0.0). */
export async function startHttpServer(options: HttpAppOptions & { port: number; host?: string }): Promise<RunningHttpServer> {
  const app = await buildHttpApp(options);
  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  options.logger.info({ port, host: options.host ?? '127.0.0.1' }, 'http server listening');
  return { app, port, close: () => app.close() };
}
