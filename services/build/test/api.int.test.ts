/**
 * The build API as the service serves it (the platform's Fastify app with the build routes),
 * driven with inject() against a stack of its own in the emulator: intake and its idempotency,
 * every error answer, the view now and as it was, the live stream, the global log, test runs (their
 * start, leases, view, stream and cancel), service creations (/services) and GitHub's webhook door
 * (signatures checked over the raw body, relevant deliveries forwarded to the intake queue), and the
 * OpenAPI document.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { hostname } from 'node:os';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, MAX_CONCURRENT_TEST_RUNS, newEvent, testRunStream, type PendingEvent, type TestRunView } from '@flotilla/events';
import { BuildProjections, buildHttpApp, createLogger, EventStore, IdempotencyStore, locate, readBuildEvents, Records, REGIONS, releaseTestRunLeases, requestBuild, resourceNames } from '@flotilla/platform';
import { deployTestStack, eventually, sampleBuildRequest, sampleTestRunRequest, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { consoleRoutes } from '../src/http/console.ts';
import { buildApi, type ApiDeps } from '../src/http/index.ts';

const aws = testAwsClients();
let stack: TestStack;
let app: Awaited<ReturnType<typeof buildHttpApp>>;
let store: EventStore;
let idempotency: IdempotencyStore;
let projections: BuildProjections;
let leases: Records;
let apiDeps: ApiDeps;

const TOKEN = 'build-api-int-test-token-0123456789';
/** Every request of this file carries the token, unless it sets its own Authorization header. */
type InjectOptions = { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: string };
const inject = (options: InjectOptions) => app.inject({ ...options, headers: { authorization: `Bearer ${TOKEN}`, ...options.headers } });
const SSE = { pollMs: 50, maxPollMs: 400, maxStreams: 3, maxStreamsPerClient: 2 };
const WEBHOOK_SECRET = 'webhook-secret-of-the-api-test';

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('build-api'));
  const names = resourceNames(stack.prefix);
  store = new EventStore(aws.dynamodb, names.tables.events);
  idempotency = new IdempotencyStore(aws.dynamodb, names.tables.idempotency);
  projections = new BuildProjections(aws.dynamodb, names.tables);
  leases = new Records(aws.dynamodb, names.tables.checkpoints);
  const logger = createLogger('build', 'silent');
  const where = await locate(aws, stack.prefix);
  apiDeps = {
    aws,
    store,
    idempotency,
    projections,
    leases,
    logger,
    locator: where,
    // As the service learns them at start: from the stack's sync queues.
    regions: await where.regions(),
    defaults: { regions: ['us-east-1', 'eu-west-1'], hostsPerRegion: 10 },
    sse: SSE,
    intakeTopicArn: where.topicArn(names.topics.intake),
    onboarding: { stepDeadlineMs: 60_000, webhookSecret: WEBHOOK_SECRET },
  };
  app = await buildHttpApp({ logger, service: 'build', checks: { eventsTable: () => store.ping() }, routes: buildApi(apiDeps), auth: { token: TOKEN } });
});
afterAll(async () => {
  await app?.close();
  await stack?.destroy();
  aws.destroy();
});

type ErrorBody = { error: string; message: string; fields?: string[] };

const request = (overrides: Record<string, unknown> = {}) => sampleBuildRequest(overrides);

let keys = 0;
let listening: Promise<string> | undefined;
/** The app on a loopback port, for the tests that read a live stream over real HTTP (listened once). */
const address = () => (listening ??= app.listen({ port: 0, host: '127.0.0.1' }));
const newKey = (label: string) => `${label}-${Date.now()}-${++keys}`;

const post = (body: unknown, key?: string, headers: Record<string, string> = {}) =>
  inject({
    method: 'POST',
    url: '/builds',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }), ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('POST /builds', () => {
  it('answers 202 with the build id, its links and a Location', async () => {
    const res = await post(request(), newKey('ok'));
    expect(res.statusCode).toBe(202);
    const body = res.json<{ buildId: string; status: string; duplicate: boolean; links: Record<string, string> }>();
    expect(body).toMatchObject({ status: 'PENDING', duplicate: false });
    expect(body.links).toEqual({ self: `/builds/${body.buildId}`, events: `/builds/${body.buildId}/events`, stream: `/builds/${body.buildId}/stream` });
    expect(res.headers.location).toBe(`/builds/${body.buildId}`);
    const events = (await store.readStream(buildStream(body.buildId))).map((e) => e.type);
    expect(events).toEqual(['build.requested']);
  });

  it('a repeat of the same request under its key, regions in any order, finds the same build', async () => {
    const key = newKey('repeat');
    const body = request();
    const first = (await post(body, key)).json<{ buildId: string; duplicate: boolean }>();
    const again = await post(body, key);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ buildId: first.buildId, duplicate: true });
    const reordered = await post({ ...body, regions: [...body.regions].reverse() }, key);
    expect(reordered.statusCode).toBe(202);
    expect(reordered.json()).toMatchObject({ buildId: first.buildId, duplicate: true });
    expect(await store.readStream(buildStream(first.buildId))).toHaveLength(1);
  });

  it('a repeat that leaves out regions and hosts matches the request with the defaults written out', async () => {
    const key = newKey('defaults');
    const { regions: _regions, hostsPerRegion: _hosts, ...bare } = request();
    const first = (await post(bare, key)).json<{ buildId: string }>();
    const explicit = await post({ ...bare, regions: ['eu-west-1', 'us-east-1'], hostsPerRegion: 10 }, key);
    expect(explicit.json()).toMatchObject({ buildId: first.buildId, duplicate: true });
  });

  it('answers 422 idempotency_key_reused, naming the key, for a different request under a used key', async () => {
    const key = newKey('reused');
    const body = request();
    const first = (await post(body, key)).json<{ buildId: string }>();
    const res = await post({ ...body, hostsPerRegion: 21 }, key);
    expect(res.statusCode).toBe(422);
    const error = res.json<ErrorBody>();
    expect(error.error).toBe('idempotency_key_reused');
    expect(error.message).toContain(key);
    expect(await store.readStream(buildStream(first.buildId))).toHaveLength(1);
  });

  it('answers 400 naming each bad field; a bad region lists the allowed ones', async () => {
    const res = await post(request({ env: 'PROD!', regions: ['us-east-1', 'mars-1'], hostsPerRegion: 0 }), newKey('bad'));
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error).toBe('invalid_request');
    const fields = (body.fields ?? []).join('\n');
    expect(fields).toMatch(/^env: 1-12 characters/m);
    expect(fields).toMatch(/^hostsPerRegion: /m);
    expect(fields).toContain(`regions.1: must be one of: ${stack.regions.join(', ')}`);
    expect(body.message).toContain('regions.1');
  });

  it('answers 400 for a region of deploy/regions.json that this stack was deployed without', async () => {
    const absent = REGIONS.filter((r) => !stack.regions.includes(r));
    expect(absent.length).toBeGreaterThan(0);
    const res = await post(request({ regions: ['us-east-1', absent[0]] }), newKey('absent-region'));
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorBody>();
    expect(body.error).toBe('invalid_request');
    expect(body.fields).toEqual([`regions.1: must be one of: ${stack.regions.join(', ')}`]);
  });

  it('answers 400 naming repo or version when it is made only of dots (it would be a dot-segment in artifact keys)', async () => {
    for (const [field, value] of [['repo', '..'], ['repo', '.'], ['version', '..'], ['version', '...']] as const) {
      const res = await post(request({ [field]: value }), newKey('dots'));
      expect(res.statusCode, `${field}=${value}`).toBe(400);
      expect(res.json<ErrorBody>().fields, `${field}=${value}`).toEqual([`${field}: must not be made only of dots`]);
    }
    expect((await post(request({ repo: '.config', version: '1..2' }), newKey('dotted'))).statusCode).toBe(202);
  });

  it('answers 400 for a region named twice and for a body that is not an object', async () => {
    const twice = await post(request({ regions: ['us-east-1', 'us-east-1'] }), newKey('twice'));
    expect(twice.statusCode).toBe(400);
    expect(twice.json<ErrorBody>().fields).toEqual(['regions: regions must be unique']);
    const list = await post([], newKey('list'));
    expect(list.statusCode).toBe(400);
    expect(list.json<ErrorBody>().fields?.[0]).toMatch(/^\(root\): /);
  });

  it('answers 400 naming Idempotency-Key when the header is missing or too long', async () => {
    const missing = await post(request(), undefined);
    expect(missing.statusCode).toBe(400);
    expect(missing.json<ErrorBody>()).toMatchObject({ error: 'invalid_request', fields: ['Idempotency-Key: required (1-256 characters)'] });
    const long = await post(request(), 'k'.repeat(257));
    expect(long.statusCode).toBe(400);
    expect(long.json<ErrorBody>().fields).toEqual(['Idempotency-Key: at most 256 characters']);
  });

  it('answers 413 body_too_large for a body over 64 KiB', async () => {
    const res = await post(request({ padding: 'x'.repeat(65 * 1024) }), newKey('large'));
    expect(res.statusCode).toBe(413);
    expect(res.json<ErrorBody>()).toMatchObject({ error: 'body_too_large' });
  });

  it('answers 415 for a body that is not application/json, and 400 invalid_json for malformed JSON', async () => {
    const text = await post('repo=payments-api', newKey('text'), { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(415);
    expect(text.json<ErrorBody>()).toMatchObject({ error: 'unsupported_media_type' });
    const form = await post('repo=payments-api', newKey('form'), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.statusCode).toBe(415);
    const malformed = await post('{"repo": ', newKey('malformed'));
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json<ErrorBody>()).toEqual({ error: 'invalid_json', message: 'request body is not JSON' });
  });
});

describe('who may call', () => {
  const newestIds = async () => (await inject({ method: 'GET', url: '/events?limit=500' })).json<{ events: Array<{ id: string }> }>().events.map((e) => e.id);

  it('POST /builds without the token, or with a wrong one, answers 401 with WWW-Authenticate and appends nothing', async () => {
    const before = await newestIds();
    const key = newKey('unauthorized');
    for (const authorization of [undefined, 'Bearer wrong-token', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`]) {
      const res = await app.inject({
        method: 'POST',
        url: '/builds',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(authorization ? { authorization } : {}) },
        payload: JSON.stringify(request()),
      });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json<ErrorBody>().error).toBe('unauthorized');
    }
    expect(await newestIds()).toEqual(before);
    // Nor was the key recorded: the first authorised request under it makes the build.
    expect((await post(request(), key)).json()).toMatchObject({ duplicate: false });
  });

  it('every read needs the token too; /health and /openapi.json do not', async () => {
    for (const url of ['/builds', '/events', '/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4', '/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4/stream']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
  });
});

describe('GET /builds/:id', () => {
  it('answers 404 not_found for an unknown build, 400 for an id that is not a ULID, 404 for an unknown route', async () => {
    const unknown = await inject({ method: 'GET', url: '/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<ErrorBody>().error).toBe('not_found');
    const notUlid = await inject({ method: 'GET', url: '/builds/not-a-ulid' });
    expect(notUlid.statusCode).toBe(400);
    expect(notUlid.json<ErrorBody>()).toMatchObject({ error: 'invalid_request', fields: ['id: must be a ULID'] });
    const events = await inject({ method: 'GET', url: '/builds/not-a-ulid/events' });
    expect(events.statusCode).toBe(400);
    const route = await inject({ method: 'GET', url: '/nowhere' });
    expect(route.statusCode).toBe(404);
    expect(route.json<ErrorBody>()).toEqual({ error: 'not_found', message: 'no route for GET /nowhere' });
  });

  describe('now and as it was', () => {
    const t0 = Date.now() - 60_000;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    let buildId: string;

    beforeAll(async () => {
      ({ buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('history'), request: request({ regions: ['us-east-1'] }), now: t0 }));
      const later = (event: PendingEvent, ms: number): PendingEvent => ({ ...event, occurredAt: at(ms) });
      const started = later(newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:y' }, correlationId: buildId, causationId: 'test' }), 10_000);
      const failed = later(newEvent({ type: 'build.failed', data: { reason: 'test', failedRegions: [{ region: 'us-east-1', reason: 'test' }] }, correlationId: buildId, causationId: 'test' }), 20_000);
      await store.append(buildStream(buildId), [started, failed], 1);
    });

    it('answers the current view, with live host counters', async () => {
      const res = await inject({ method: 'GET', url: `/builds/${buildId}` });
      expect(res.statusCode).toBe(200);
      const view = res.json<{ status: string; lastVersion: number; failure: { reason: string }; regions: Record<string, { progress?: unknown }> }>();
      expect(view).toMatchObject({ status: 'FAILED', lastVersion: 3, failure: { reason: 'test' } });
      expect(view.regions['us-east-1']?.progress).toEqual({ expectedHosts: 20, hosts: 0, synced: 0, failed: 0, percent: 0, countersCatchingUp: false });
    });

    it('?at=<version> folds the events up to that version, without host counters', async () => {
      const one = (await inject({ method: 'GET', url: `/builds/${buildId}?at=1` })).json<{ status: string; lastVersion: number; regions: Record<string, object> }>();
      expect(one).toMatchObject({ status: 'PENDING', lastVersion: 1 });
      expect(one.regions['us-east-1']).toEqual({ replicated: false, synced: false });
      expect((await inject({ method: 'GET', url: `/builds/${buildId}?at=2` })).json()).toMatchObject({ status: 'IN_PROGRESS', lastVersion: 2 });
      expect((await inject({ method: 'GET', url: `/builds/${buildId}?at=99` })).json()).toMatchObject({ status: 'FAILED', lastVersion: 3 });
    });

    it('?at=<ISO time> folds the events that had occurred by then; before the build, 404', async () => {
      expect((await inject({ method: 'GET', url: `/builds/${buildId}?at=${at(5_000)}` })).json()).toMatchObject({ status: 'PENDING', lastVersion: 1 });
      expect((await inject({ method: 'GET', url: `/builds/${buildId}?at=${at(10_000)}` })).json()).toMatchObject({ status: 'IN_PROGRESS', lastVersion: 2 });
      const before = await inject({ method: 'GET', url: `/builds/${buildId}?at=${at(-1_000)}` });
      expect(before.statusCode).toBe(404);
      expect(before.json<ErrorBody>().error).toBe('not_found');
    });

    it('?at= that is neither a version nor a time is a 400 naming it', async () => {
      const res = await inject({ method: 'GET', url: `/builds/${buildId}?at=yesterday` });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorBody>().fields).toEqual(['at: must be a version number (1, 2, ...) or an ISO-8601 time']);
    });

    it('GET /builds/:id/events answers the slice of the log in version order', async () => {
      const res = await inject({ method: 'GET', url: `/builds/${buildId}/events` });
      expect(res.statusCode).toBe(200);
      const body = res.json<{ buildId: string; events: Array<{ version: number; type: string }> }>();
      expect(body.buildId).toBe(buildId);
      expect(body.events.map((e) => [e.version, e.type])).toEqual([[1, 'build.requested'], [2, 'build.started'], [3, 'build.failed']]);
    });

    it('GET /builds/:id/stream sends every event as a server-sent event and ends with the build; Last-Event-ID resumes', async () => {
      const all = await inject({ method: 'GET', url: `/builds/${buildId}/stream` });
      expect(all.statusCode).toBe(200);
      expect(all.headers['content-type']).toBe('text/event-stream');
      expect([...all.body.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(['build.requested', 'build.started', 'build.failed']);
      const resumed = await inject({ method: 'GET', url: `/builds/${buildId}/stream`, headers: { 'last-event-id': '1' } });
      expect([...resumed.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([2, 3]);
    });

    it('GET /builds/:id/stream?view=true sends the view beside the events (no id, so Last-Event-ID stays a version), once while it is unchanged', async () => {
      const res = await inject({ method: 'GET', url: `/builds/${buildId}/stream?view=true` });
      expect(res.statusCode).toBe(200);
      expect([...res.body.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(['build.requested', 'build.started', 'build.failed', 'view']);
      const frame = res.body.split('\n\n').find((f) => f.startsWith('event: view')) ?? '';
      const view = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { status: string; lastVersion: number; regions: Record<string, { progress?: { expectedHosts: number } }> };
      expect(view).toMatchObject({ status: 'FAILED', lastVersion: 3 });
      expect(view.regions['us-east-1']?.progress?.expectedHosts).toBe(20);
      expect([...res.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([1, 2, 3]);
      const bad = await inject({ method: 'GET', url: `/builds/${buildId}/stream?view=yes` });
      expect(bad.statusCode).toBe(400);
    });

    it('GET /builds/:id/why answers a finished build with its reason and failed regions', async () => {
      const res = await inject({ method: 'GET', url: `/builds/${buildId}/why` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ buildId, status: 'FAILED', finishedAt: at(20_000), reason: 'test', failedRegions: [{ region: 'us-east-1', reason: 'test' }] });
    });
  });
});

describe('GET /builds/:id when the projection missed events (review M7)', () => {
  it('folds the events the view has not seen from the log, so a lost terminal event cannot leave it IN_PROGRESS', async () => {
    const { buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('lagging'), request: request({ regions: ['us-east-1'] }) });
    await project(buildId); // the view has seen build.requested only
    const started = newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:lag' }, correlationId: buildId, causationId: 'test' });
    const succeeded = newEvent({ type: 'build.succeeded', data: {}, correlationId: buildId, causationId: 'test' });
    await store.append(buildStream(buildId), [started, succeeded], 1); // and never hears of these
    expect(await projections.readView(buildId)).toMatchObject({ status: 'PENDING', lastVersion: 1 });
    const res = await inject({ method: 'GET', url: `/builds/${buildId}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'SUCCESS', lastVersion: 3 });
  });

  it('does the same in a live view stream, which knows the head from the events it read', async () => {
    const { buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('lagging-stream'), request: request({ regions: ['us-east-1'] }) });
    await project(buildId);
    const started = newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:lag2' }, correlationId: buildId, causationId: 'test' });
    const succeeded = newEvent({ type: 'build.succeeded', data: {}, correlationId: buildId, causationId: 'test' });
    await store.append(buildStream(buildId), [started, succeeded], 1);
    expect(await projections.readView(buildId)).toMatchObject({ status: 'PENDING', lastVersion: 1 });
    const res = await inject({ method: 'GET', url: `/builds/${buildId}/stream?view=true` });
    const frame = res.body.split('\n\n').find((f) => f.startsWith('event: view')) ?? '';
    expect(JSON.parse(frame.slice(frame.indexOf('data: ') + 6))).toMatchObject({ status: 'SUCCESS', lastVersion: 3 });
  });
});

describe('GET /builds/:id/why', () => {
  it("says what a waiting build waits on: its stage, last event and the stage's queue depths; 404 for none", async () => {
    const { buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('why'), request: request({ regions: ['us-east-1'] }) });
    const res = await inject({ method: 'GET', url: `/builds/${buildId}/why` });
    expect(res.statusCode).toBe(200);
    const why = res.json<{ status: string; stage: string; waitingOn: string; lastEvent: { type: string; version: number }; execution?: unknown; queues: Array<{ name: string; dlq: string; depth: { visible: number } }> }>();
    expect(why).toMatchObject({ status: 'PENDING', stage: 'intake', lastEvent: { type: 'build.requested', version: 1 } });
    expect(why.waitingOn).toContain('orchestrator');
    expect(why.execution).toBeUndefined();
    expect(why.queues.map((q) => [q.name, q.dlq])).toEqual([[`${stack.prefix}-orchestrator`, `${stack.prefix}-orchestrator-dlq`]]);
    expect(why.queues[0]?.depth.visible).toBeGreaterThanOrEqual(0);
    const unknown = await inject({ method: 'GET', url: '/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4/why' });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('GET /regions', () => {
  it("answers the stack's regions and what a request gets by default", async () => {
    const res = await inject({ method: 'GET', url: '/regions' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ regions: [...stack.regions], defaults: { regions: ['us-east-1', 'eu-west-1'], hostsPerRegion: 10 } });
  });
});

describe('GET /events/stream', () => {
  it('sends events appended after it opened, each with its event id, and resumes after Last-Event-ID', async () => {
    const aborter = new AbortController();
    const res = await fetch(`${await address()}/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: aborter.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      // The stream has read the log once (its first comment) before anything is appended.
      let text = '';
      while (!text.includes(': waiting')) text += (await reader.read()).value ?? '';
      const { buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('log-stream'), request: request({ regions: ['us-east-1'] }) });
      const [requested] = await readBuildEvents(store, buildStream(buildId));
      await eventually(
        async () => {
          const { value } = await reader.read();
          text += value ?? '';
          return text.includes(`id: ${requested?.id}`) ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 0, description: "the build's build.requested on the global stream" },
      );
      expect(text).toContain(`id: ${requested?.id}\nevent: build.requested\ndata: {`);
    } finally {
      aborter.abort();
      await reader.cancel().catch(() => undefined);
    }
    const bad = await inject({ method: 'GET', url: '/events/stream', headers: { 'last-event-id': 'nope' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorBody>().fields).toEqual(['Last-Event-Id: must be an event id (a ULID)']);
  });
});

describe('the console at /', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-console-'));
  const empty = mkdtempSync(join(tmpdir(), 'flotilla-console-empty-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Flotilla</title><script type="module" src="/assets/app-abc.js"></script>');
  writeFileSync(join(dir, 'assets', 'app-abc.js'), 'console.log(1)');
  const serve = async (root: string) => buildHttpApp({ logger: createLogger('build', 'silent'), service: 'build', checks: {}, routes: consoleRoutes(root), auth: { token: TOKEN } });

  it('serves the page and its assets without the token, the page with a policy that allows this origin only', async () => {
    const consoleApp = await serve(dir);
    try {
      for (const url of ['/', '/index.html']) {
        const page = await consoleApp.inject({ method: 'GET', url });
        expect(page.statusCode).toBe(200);
        expect(page.headers['content-type']).toMatch(/^text\/html/);
        expect(page.body).toContain('<title>Flotilla</title>');
        expect(page.headers['content-security-policy']).toContain("script-src 'self'");
        expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
        expect(page.headers['cache-control']).toBe('no-cache');
      }
      const asset = await consoleApp.inject({ method: 'GET', url: '/assets/app-abc.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
      expect((await consoleApp.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode).toBe(404);
      expect((await consoleApp.inject({ method: 'GET', url: '/assets/..%2findex.html' })).statusCode).toBe(404);
    } finally {
      await consoleApp.close();
    }
  });

  it('answers 503 console_not_built when the console was never built', async () => {
    const consoleApp = await serve(empty);
    try {
      const res = await consoleApp.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.json<ErrorBody>()).toMatchObject({ error: 'console_not_built' });
    } finally {
      await consoleApp.close();
    }
  });
});

describe('GET /builds/:id/stream limits (review M5)', () => {
  it('answers 404 for a build that does not exist, instead of polling for it', async () => {
    const res = await inject({ method: 'GET', url: '/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4/stream' });
    expect(res.statusCode).toBe(404);
    expect(res.json<ErrorBody>().error).toBe('not_found');
  });

  it(`caps the streams one client holds open (${SSE.maxStreamsPerClient}): 429 with Retry-After past it, a slot again once one closes`, async () => {
    const { buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('streams'), request: request() });
    const open = async () => {
      const aborter = new AbortController();
      const res = await fetch(`${await address()}/builds/${buildId}/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: aborter.signal });
      return { res, aborter };
    };
    const held = [await open(), await open()];
    try {
      for (const { res } of held) expect(res.status).toBe(200);
      const refused = await open();
      expect(refused.res.status).toBe(429);
      expect(Number(refused.res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.res.json()) as ErrorBody).error).toBe('too_many_streams');
      held[0]?.aborter.abort();
      const again = await eventually(
        async () => {
          const next = await open();
          if (next.res.status === 200) return next;
          await next.res.body?.cancel();
          return undefined;
        },
        { timeoutMs: 5_000, description: 'a stream slot freed by the closed stream' },
      );
      held.push(again);
    } finally {
      for (const { aborter } of held) aborter.abort();
    }
  });
});

describe('GET /events', () => {
  type Page = { events: Array<{ id: string; type: string; stream: string }>; next: string | null };
  const page = async (query: string) => {
    const res = await inject({ method: 'GET', url: `/events${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Page>();
  };
  let ids: string[];

  beforeAll(async () => {
    // A build of three events, appended now so that it is the newest in this stack's log.
    const { buildId } = await requestBuild({ store, idempotency }, { door: 'http', key: newKey('log'), request: request() });
    const started = newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:z' }, correlationId: buildId, causationId: 'test' });
    const succeeded = newEvent({ type: 'build.succeeded', data: {}, correlationId: buildId, causationId: 'test' });
    await store.append(buildStream(buildId), [started, succeeded], 1);
    ids = (await store.readStream(buildStream(buildId))).map((e) => e.id);
  });

  it('without after: the newest events, oldest first, and next is the newest id', async () => {
    const newest = await page('?limit=2');
    expect(newest.events.map((e) => e.id)).toEqual(ids.slice(1));
    expect(newest.next).toBe(ids[2]);
    const whole = await page('');
    expect(whole.events.length).toBeGreaterThan(3);
    expect(whole.events.map((e) => e.id)).toEqual([...whole.events.map((e) => e.id)].sort());
  });

  it('with after: the events after it, in order, with next to read on', async () => {
    const first = await page(`?after=${ids[0]}&limit=1`);
    expect(first.events.map((e) => e.id)).toEqual([ids[1]]);
    expect(first.next).toBe(ids[1]);
    const rest = await page(`?after=${first.next}`);
    expect(rest.events.map((e) => e.id)).toEqual([ids[2]]);
    const none = await page(`?after=${ids[2]}`);
    expect(none).toEqual({ events: [], next: ids[2] });
  });

  it('filters by type and by build; next advances past what the filters dropped', async () => {
    const requested = await page(`?type=build.requested&limit=500`);
    expect(requested.events.length).toBeGreaterThan(1);
    expect(requested.events.every((e) => e.type === 'build.requested')).toBe(true);
    const after = await page(`?after=${ids[0]}&type=build.requested`);
    expect(after).toEqual({ events: [], next: ids[2] });
    const stream = (await page(`?after=${ids[0]}`)).events[0]?.stream ?? '';
    const ofBuild = await page(`?buildId=${stream.replace('build-', '')}`);
    expect(ofBuild.events.map((e) => e.id)).toEqual(ids);
  });

  it('refuses an unknown type, a bad after and a limit out of range, naming them', async () => {
    const res = await inject({ method: 'GET', url: '/events?type=build.exploded&after=nope&limit=501' });
    expect(res.statusCode).toBe(400);
    const fields = res.json<ErrorBody>().fields ?? [];
    expect(fields.map((f) => f.split(':')[0]).sort()).toEqual(['after', 'limit', 'type']);
  });
});

/** What the projector does for a build's events (no projector runs in this test). */
async function project(buildId: string): Promise<void> {
  for (const event of await readBuildEvents(store, buildStream(buildId))) await projections.project(event, store);
}

describe('GET /builds', () => {
  type Page = { builds: Array<{ buildId: string; repo: string; status: string; door: string; key: string }>; nextCursor?: string };
  const repo = `list-${Date.now().toString(36)}`;
  const made: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const { buildId } = (await post(request({ repo, env: i % 2 ? 'staging' : 'prod' }), `${repo}-${i}`)).json<{ buildId: string }>();
      await project(buildId);
      made.unshift(buildId);
    }
  });

  it('lists builds newest first, filtered, in pages with a cursor', async () => {
    const first = await inject({ method: 'GET', url: `/builds?repo=${repo}&limit=3` });
    expect(first.statusCode).toBe(200);
    const page1 = first.json<Page>();
    expect(page1.builds.map((b) => b.buildId)).toEqual(made.slice(0, 3));
    const page2 = (await inject({ method: 'GET', url: `/builds?repo=${repo}&limit=3&cursor=${page1.nextCursor ?? ''}` })).json<Page>();
    expect(page2.builds.map((b) => b.buildId)).toEqual(made.slice(3));
    expect(page2.nextCursor).toBeUndefined();
    const staging = (await inject({ method: 'GET', url: `/builds?repo=${repo}&env=staging&status=PENDING` })).json<Page>();
    expect(staging.builds.map((b) => b.buildId)).toEqual([made[1], made[3]]);
  });

  it('looks a build up by its door and key', async () => {
    const res = await inject({ method: 'GET', url: `/builds?door=http&key=${repo}-2` });
    expect(res.json<Page>().builds).toEqual([expect.objectContaining({ buildId: made[2], door: 'http', key: `${repo}-2`, repo, status: 'PENDING' })]);
  });

  it('answers 400 for a bad filter, a key without its door, a bad cursor and a limit out of range', async () => {
    for (const [query, field] of [
      ['status=DONE', /^status: /],
      ['since=yesterday', /^since: /],
      ['limit=101', /^limit: /],
      ['cursor=bm9wZQ', /^cursor: /],
    ] as const) {
      const res = await inject({ method: 'GET', url: `/builds?repo=${repo}&${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json<ErrorBody>().fields?.join('\n'), query).toMatch(field);
    }
    const keyOnly = await inject({ method: 'GET', url: '/builds?key=k' });
    expect(keyOnly.statusCode).toBe(400);
    expect(keyOnly.json<ErrorBody>()).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/key needs door/) as unknown });
  });
});

describe('POST /builds/:id/cancel', () => {
  it('ends a build FAILED with reason cancelled, once; a second cancel answers 409', async () => {
    const { buildId } = (await post(request(), newKey('cancel'))).json<{ buildId: string }>();
    const res = await inject({ method: 'POST', url: `/builds/${buildId}/cancel` });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ buildId, status: 'FAILED', reason: 'cancelled' });
    const again = await inject({ method: 'POST', url: `/builds/${buildId}/cancel` });
    expect(again.statusCode).toBe(409);
    expect(again.json<ErrorBody>()).toMatchObject({ error: 'already_finished', message: `build ${buildId} already ended FAILED` });
    const events = (await store.readStream(buildStream(buildId))).map((e) => [e.type, e.data]);
    expect(events).toEqual([
      ['build.requested', expect.anything()],
      ['build.failed', { reason: 'cancelled', failedRegions: [] }],
    ]);
  });

  it('answers 404 for an unknown build and 400 for an id that is not a ULID', async () => {
    expect((await inject({ method: 'POST', url: '/builds/01JD0ZQ8X3V7K2M4N6P8R0T2W4/cancel' })).statusCode).toBe(404);
    expect((await inject({ method: 'POST', url: '/builds/nope/cancel' })).statusCode).toBe(400);
  });
});

describe('/testruns', () => {
  const { script } = sampleTestRunRequest(['us-east-1']);
  const body = (regions: string[], extra: Record<string, unknown> = {}) => ({ script, regions, target: 'http://127.0.0.1:8080', ...extra });
  const start = (key: string, payload: unknown) =>
    inject({ method: 'POST', url: '/testruns', headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload: JSON.stringify(payload) });
  type Accepted = { runId: string; status: string; duplicate: boolean; links: Record<string, string> };
  const started: string[] = [];
  // Nothing here runs an orchestrator to release a run's leases once it is torn down: each test gives its back.
  const cleanup = async () => void (await Promise.all(started.splice(0).map((runId) => releaseTestRunLeases(leases, runId))));

  it('POST answers 202 with the run id; GET answers its view with the defaults filled in; a repeat finds the same run', async () => {
    const [a, b] = stack.regions;
    const key = newKey('testrun');
    const res = await start(key, body([a ?? '', b ?? ''], { vusPerRegion: 450 }));
    expect(res.statusCode).toBe(202);
    const accepted = res.json<Accepted>();
    started.push(accepted.runId);
    expect(accepted).toMatchObject({ status: 'REQUESTED', duplicate: false, links: { self: `/testruns/${accepted.runId}` } });
    expect(res.headers.location).toBe(`/testruns/${accepted.runId}`);
    const view = (await inject({ method: 'GET', url: `/testruns/${accepted.runId}` })).json<TestRunView>();
    expect(view).toMatchObject({ runId: accepted.runId, status: 'REQUESTED', finished: false, request: { quorum: 2, containersPerRegion: 3, startBufferMs: 5_000 } });
    expect(Object.keys(view.regions)).toEqual([a, b]);
    expect(Date.parse(view.request.deadline)).toBeGreaterThan(Date.now());
    const again = await start(key, body([b ?? '', a ?? ''], { vusPerRegion: 450 }));
    expect(again.json<Accepted>()).toMatchObject({ runId: accepted.runId, duplicate: true });
    await cleanup();
  });

  it('a region runs one test at a time: 409 region_busy names the run holding it; other regions are free', async () => {
    const [a, b, c] = stack.regions;
    const first = (await start(newKey('busy'), body([a ?? '', b ?? '']))).json<Accepted>();
    started.push(first.runId);
    const refused = await start(newKey('busy'), body([c ?? '', b ?? '']));
    expect(refused.statusCode).toBe(409);
    expect(refused.json<ErrorBody>()).toMatchObject({ error: 'region_busy' });
    expect(refused.json<ErrorBody>().message).toContain(first.runId);
    // The refused request gave back what it took: c is free.
    const other = await start(newKey('busy'), body([c ?? '']));
    expect(other.statusCode).toBe(202);
    started.push(other.json<Accepted>().runId);
    await cleanup();
  });

  it(`at most ${MAX_CONCURRENT_TEST_RUNS} runs are open at once: 429 too_many_test_runs with Retry-After past it`, async () => {
    for (const region of stack.regions.slice(0, MAX_CONCURRENT_TEST_RUNS)) {
      const res = await start(newKey('cap'), body([region]));
      expect(res.statusCode).toBe(202);
      started.push(res.json<Accepted>().runId);
    }
    const refused = await start(newKey('cap'), body([stack.regions[MAX_CONCURRENT_TEST_RUNS] ?? '']));
    expect(refused.statusCode).toBe(429);
    expect(refused.json<ErrorBody>().error).toBe('too_many_test_runs');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    await cleanup();
  });

  it('answers 400 naming each bad field, and for a deadline too soon; nothing is appended and no region stays held', async () => {
    const [a] = stack.regions;
    const bad = await start(newKey('bad'), { ...body(['nowhere-1']), vusPerRegion: 5_000, quorum: 0, script: { ...script, scenarios: { submit: 0, read: 0, follow: 0 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorBody>().fields?.map((f) => f.split(':')[0]).sort()).toEqual(['quorum', 'regions.0', 'script.scenarios', 'vusPerRegion']);
    const tooSoon = await start(newKey('bad'), body([a ?? ''], { deadline: new Date(Date.now() + 1_000).toISOString() }));
    expect(tooSoon.statusCode).toBe(400);
    expect(tooSoon.json<ErrorBody>().message).toContain('deadline');
    const free = await start(newKey('bad'), body([a ?? '']));
    expect(free.statusCode).toBe(202);
    started.push(free.json<Accepted>().runId);
    await cleanup();
  });

  it('cancel ends a run CANCELLED once (a second answers 409); its stream ends once every region is torn down', async () => {
    const [a] = stack.regions;
    const { runId } = (await start(newKey('cancel'), body([a ?? '']))).json<Accepted>();
    started.push(runId);
    const cancelled = await inject({ method: 'POST', url: `/testruns/${runId}/cancel` });
    expect(cancelled.statusCode).toBe(202);
    expect(cancelled.json()).toEqual({ runId, status: 'CANCELLED' });
    expect((await inject({ method: 'POST', url: `/testruns/${runId}/cancel` })).statusCode).toBe(409);
    // The orchestrator's part, written here: the region observed torn down.
    await store.append(testRunStream(runId), [newEvent({ type: 'testrun.region_torn_down', data: { region: a ?? '' }, correlationId: runId, causationId: 'test', now: Date.now() })], 2);
    const res = await fetch(`${await address()}/testruns/${runId}/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    expect([...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(['testrun.requested', 'testrun.cancelled', 'testrun.region_torn_down']);
    const view = (await inject({ method: 'GET', url: `/testruns/${runId}` })).json<TestRunView>();
    expect(view).toMatchObject({ status: 'CANCELLED', finished: true });
    expect((await inject({ method: 'GET', url: `/testruns/${runId}/events` })).json<{ events: unknown[] }>().events).toHaveLength(3);
    await cleanup();
  });

  it('answers 404 for an unknown run on every route, 400 for an id that is not a ULID', async () => {
    const unknown = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';
    for (const [method, url] of [['GET', `/testruns/${unknown}`], ['GET', `/testruns/${unknown}/events`], ['GET', `/testruns/${unknown}/stream`], ['POST', `/testruns/${unknown}/cancel`]] as const) {
      expect((await inject({ method, url })).statusCode, url).toBe(404);
    }
    expect((await inject({ method: 'GET', url: '/testruns/nope' })).statusCode).toBe(400);
  });
});

describe('/services', () => {
  const service = (name: string, extra: Record<string, unknown> = {}) => ({ name, team: 'payments', template: 'node-service', ...extra });
  const postService = (body: unknown) => inject({ method: 'POST', url: '/services', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it('POST starts a creation once: the same request finds it, another for the name is 409; GET answers its status document', async () => {
    const name = `svc-${Date.now().toString(36)}`;
    const first = await postService(service(name));
    expect(first.statusCode, first.body).toBe(202);
    expect(first.json()).toEqual({ name, status: 'IN_PROGRESS', duplicate: false, links: { self: `/services/${name}`, events: `/services/${name}/events` } });
    expect((await postService(service(name))).json()).toMatchObject({ duplicate: true });
    const taken = await postService(service(name, { template: 'go-service' }));
    expect(taken.statusCode).toBe(409);
    expect(taken.json<ErrorBody>()).toMatchObject({ error: 'service_exists' });
    const view = (await inject({ method: 'GET', url: `/services/${name}` })).json<{ status: string; environments: string[]; steps: Array<{ step: string; status: string }> }>();
    expect(view.status).toBe('IN_PROGRESS');
    expect(view.environments).toEqual(['dev', 'staging', 'prod']);
    expect(view.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      'infra:not-requested',
      'app-config:not-requested',
      'proxy-upstreams:not-requested',
      'service-definition:not-requested',
      'boilerplate:not-requested',
      'first-build:not-requested',
    ]);
    expect((await inject({ method: 'GET', url: `/services/${name}/events` })).json<{ events: Array<{ type: string }> }>().events.map((e) => e.type)).toEqual(['service.requested']);
  });

  it('answers 400 naming each bad field, 404 for a service that does not exist', async () => {
    const bad = await postService({ name: 'Not A Name', team: 'payments', template: 'cobol' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorBody>().fields?.map((f) => f.split(':')[0])).toEqual(['name', 'template']);
    expect((await inject({ method: 'GET', url: '/services/no-such-service' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/services/no-such-service/events' })).statusCode).toBe(404);
  });
});

describe('POST /webhooks/github', () => {
  const sign = (body: string, secret = WEBHOOK_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const deliver = (event: string, deliveryId: string, body: string, signature: string | undefined) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/github',
      // No bearer token: the signature is the credential.
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': deliveryId, ...(signature ? { 'x-hub-signature-256': signature } : {}) },
      payload: body,
    });
  const merged = (name: string) =>
    // Spacing and key order as GitHub sends them, not as JSON.stringify would: the signature is over these bytes.
    `{ "action": "closed", "repository": { "name": "infra" }, "pull_request": { "number": 7, "state": "closed", "merged": true, "merge_commit_sha": "${'ab'.repeat(20)}", "head": { "ref": "onboard/${name}" } } }`;

  it('answers 401 for a missing or wrong signature, and for a body changed after signing', async () => {
    const body = merged('sig-test');
    for (const signature of [undefined, sign(body, 'another-secret-entirely'), sign(`${body} `)]) {
      const res = await deliver('pull_request', 'd-401', body, signature);
      expect(res.statusCode).toBe(401);
      expect(res.json<ErrorBody>().error).toBe('bad_signature');
    }
  });

  it('forwards a delivery onboarding acts on to the intake queue, cut to what it reads, and acknowledges others', async () => {
    const name = `hook-${Date.now().toString(36)}`;
    const body = merged(name);
    const forwarded = await deliver('pull_request', `d-${name}`, body, sign(body));
    expect(forwarded.statusCode, forwarded.body).toBe(202);
    expect(forwarded.json()).toEqual({ deliveryId: `d-${name}`, outcome: 'forwarded' });
    const ping = '{"zen":"Keep it logically awesome.","hook_id":1}';
    expect((await deliver('ping', 'd-ping', ping, sign(ping))).json()).toEqual({ deliveryId: 'd-ping', outcome: 'ignored' });
    const opened = body.replace('"closed"', '"opened"');
    expect((await deliver('pull_request', 'd-opened', opened, sign(opened))).json()).toMatchObject({ outcome: 'ignored' });
    const broken = '{"action":"closed","repository":{"name":"infra"}}';
    expect((await deliver('pull_request', 'd-broken', broken, sign(broken))).statusCode).toBe(400);

    const where = await locate(aws, stack.prefix);
    const intake = await where.queueUrl(where.names.queues.intake);
    const message = await eventually(
      async () => {
        const { Messages = [] } = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: intake, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        return Messages.map((m) => JSON.parse(m.Body ?? '{}') as { deliveryId?: string }).find((m) => m.deliveryId === `d-${name}`);
      },
      { timeoutMs: 15_000, description: 'the forwarded delivery on the intake queue' },
    );
    expect(message).toEqual({
      type: 'github.pull_request',
      deliveryId: `d-${name}`,
      action: 'closed',
      service: name,
      pullRequest: { repo: 'infra', number: 7, state: 'closed', merged: true, mergedSha: 'ab'.repeat(20) },
    });
  });

  it('answers 401 not_configured where no webhook secret is configured: nothing can be verified', async () => {
    const bare = await buildHttpApp({ logger: apiDeps.logger, service: 'build', routes: buildApi({ ...apiDeps, onboarding: { stepDeadlineMs: 60_000 } }) });
    try {
      const body = merged('unconfigured');
      const res = await bare.inject({ method: 'POST', url: '/webhooks/github', headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': 'd' }, payload: body });
      expect(res.statusCode).toBe(401);
      expect(res.json<ErrorBody>().error).toBe('not_configured');
    } finally {
      await bare.close();
    }
  });
});

describe('GET /openapi.json and /health', () => {
  it('is a valid OpenAPI 3 document listing every route and the allowed regions', async () => {
    const res = await inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, { items?: { enum?: string[] } }> } }> } }>>;
    }>();
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/builds',
      '/builds/{id}',
      '/builds/{id}/cancel',
      '/builds/{id}/events',
      '/builds/{id}/stream',
      '/builds/{id}/why',
      '/events',
      '/events/stream',
      '/health',
      '/ready',
      '/regions',
      '/services',
      '/services/{name}',
      '/services/{name}/events',
      '/testruns',
      '/testruns/{id}',
      '/testruns/{id}/cancel',
      '/testruns/{id}/events',
      '/testruns/{id}/stream',
      '/webhooks/github',
    ]);
    const regions = doc.paths['/builds']?.post?.requestBody?.content['application/json']?.schema.properties.regions;
    expect(regions?.items?.enum).toEqual([...stack.regions]);
  });

  it('GET /health answers 200 with each check', async () => {
    const res = await inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ service: 'build', hostname: hostname(), status: 'ok', checks: { eventsTable: 'ok' } });
  });
});
