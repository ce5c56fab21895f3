/** The shared HTTP app without AWS: a failing route never leaks its error, a failing check answers 503. */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp, createLogger, HttpError, type HttpRoutes } from '@flotilla/platform';

const routes: HttpRoutes = (app) => {
  app.get('/boom', () => {
    throw new Error('connection string postgres://user:secret@db');
  });
  app.get('/teapot', () => {
    throw new HttpError(418, 'teapot', 'short and stout', ['spout: missing']);
  });
  return Promise.resolve();
};

let app: Awaited<ReturnType<typeof buildHttpApp>>;
beforeAll(async () => {
  app = await buildHttpApp({
    logger: createLogger('test', 'silent'),
    service: 'test',
    checks: { ok: () => Promise.resolve(), table: () => Promise.reject(new Error('table gone')) },
    routes,
  });
});
afterAll(() => app.close());

describe('the shared HTTP app', () => {
  it('answers a 5xx as internal, without the error text', async () => {
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal', message: 'internal error' });
    expect(res.body).not.toContain('secret');
  });

  it('answers an HttpError with its status and body', async () => {
    const res = await app.inject({ method: 'GET', url: '/teapot' });
    expect(res.statusCode).toBe(418);
    expect(res.json()).toEqual({ error: 'teapot', message: 'short and stout', fields: ['spout: missing'] });
  });

  it('answers /health 503 naming the check that failed', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ service: 'test', hostname: hostname(), status: 'unhealthy', checks: { ok: 'ok', table: 'table gone' } });
  });
});

describe('/health and /ready', () => {
  let split: Awaited<ReturnType<typeof buildHttpApp>>;
  beforeAll(async () => {
    split = await buildHttpApp({
      logger: createLogger('test', 'silent'),
      service: 'test',
      checks: { 'consumer:intake': () => Promise.resolve() },
      readiness: { eventsTable: () => Promise.reject(new Error('connect ETIMEDOUT dynamodb')), queues: () => Promise.resolve() },
    });
  });
  afterAll(() => split.close());

  it('/ready answers 503 naming the dependency that does not answer', async () => {
    const res = await split.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ service: 'test', hostname: hostname(), status: 'unhealthy', checks: { eventsTable: 'connect ETIMEDOUT dynamodb', queues: 'ok' } });
  });

  it('/health stays a liveness check: 200 while the process and its consumers are alive, whatever AWS does', async () => {
    const res = await split.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ service: 'test', hostname: hostname(), status: 'ok', checks: { 'consumer:intake': 'ok' } });
  });

  it('/ready is in the OpenAPI document with its schema', async () => {
    const doc = (await split.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, { get?: { responses?: Record<string, unknown> } }> }>();
    expect(Object.keys(doc.paths['/ready']?.get?.responses ?? {}).sort()).toEqual(['200', '503']);
  });
});
