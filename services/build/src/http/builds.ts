/**
 * /builds: the HTTP intake door (POST /builds), the build list, a build's view, history and live
 * events, and cancel.
 */
import { buildStream, decideCancel, foldBuild, isTerminal, type PendingEvent } from '@flotilla/events';
import { decideAndAppend, errorBodySchema, HttpError, listBuilds, notFound, requestBuild, type HttpRoutes } from '@flotilla/platform';
import { currentView, history, viewAt, type ApiDeps } from './queries.ts';
import {
  acceptedSchema,
  atQuery,
  buildEventsSchema,
  buildIdParams,
  buildListSchema,
  buildRequestBody,
  buildViewSchema,
  cancelledSchema,
  idempotencyHeaders,
  listQuery,
} from './schemas.ts';
import type { StreamDoor } from './stream.ts';

export function buildsRoutes(deps: ApiDeps, streams: StreamDoor): HttpRoutes {
  // A Fastify plugin: it only declares routes, so it has nothing to wait for.
  return (app) => {
    const body = buildRequestBody(deps.regions, deps.defaults);

    app.post(
      '/builds',
      {
        schema: {
          summary: 'Request a build (the HTTP intake door)',
          tags: ['builds'],
          headers: idempotencyHeaders,
          body,
          response: { 202: acceptedSchema, 400: errorBodySchema, 413: errorBodySchema, 415: errorBodySchema, 422: errorBodySchema, 503: errorBodySchema },
        },
      },
      async (request, reply) => {
        // Past the configured backlog, nothing is appended: the caller retries after Retry-After
        // with the same Idempotency-Key, which then makes the build (backlog.ts).
        const admission = (await deps.backlog?.admit()) ?? { admitted: true };
        if (!admission.admitted) {
          return reply
            .code(503)
            .header('retry-after', String(admission.retryAfterSeconds))
            .send({ error: 'backlog_full', message: `${admission.backlog} builds are waiting or running, the most intake takes; retry after ${admission.retryAfterSeconds} s with the same Idempotency-Key` });
        }
        const key = request.headers['idempotency-key'];
        const { buildId, duplicate } = await requestBuild(deps, { door: 'http', key, request: request.body });
        deps.logger.info({ buildId, duplicate }, duplicate ? 'repeat POST /builds: same build' : 'build requested');
        const self = `/builds/${buildId}`;
        return reply
          .code(202)
          .header('location', self)
          .send({ buildId, status: 'PENDING', duplicate, links: { self, events: `${self}/events`, stream: `${self}/stream` } });
      },
    );

    app.get(
      '/builds',
      {
        schema: {
          summary: 'Builds, newest first, filtered; with door and key, the build that key made',
          tags: ['builds'],
          querystring: listQuery,
          response: { 200: buildListSchema, 400: errorBodySchema },
        },
      },
      async (request) => {
        const { limit, cursor, since, until, ...filter } = request.query;
        return listBuilds(deps.aws.dynamodb, deps.projections.tables.builds, { ...filter, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined }, { limit, cursor });
      },
    );

    app.post(
      '/builds/:id/cancel',
      {
        schema: {
          summary: 'Cancel a build that has not ended: it ends FAILED with reason cancelled, and its execution is stopped',
          tags: ['builds'],
          params: buildIdParams,
          response: { 202: cancelledSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        let refused: HttpError | undefined;
        await decideAndAppend(deps.store, buildStream(id), (state): PendingEvent[] => {
          refused = undefined; // decided afresh on each attempt (a lost race re-reads the stream)
          const decision = decideCancel(state, { correlationId: id, causationId: `cancel:http:${request.id}`, now: Date.now() });
          if (decision.outcome === 'cancel') return decision.events;
          refused = decision.outcome === 'not-found' ? notFound(`no build ${id}`) : new HttpError(409, 'already_finished', `build ${id} already ended ${decision.status}`);
          return [];
        });
        if (refused) throw refused;
        deps.logger.info({ buildId: id }, 'build cancelled');
        return reply.code(202).send({ buildId: id, status: 'FAILED', reason: 'cancelled' });
      },
    );

    app.get(
      '/builds/:id',
      {
        schema: {
          summary: "A build's status, timestamps and per-region progress; with ?at=, as it was then",
          tags: ['builds'],
          params: buildIdParams,
          querystring: atQuery,
          response: { 200: buildViewSchema, 400: errorBodySchema, 404: errorBodySchema },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { at } = request.query;
        const view =
          at === undefined ? await currentView(deps, id) : await viewAt(deps, id, /^\d+$/.test(at) ? { version: Number(at) } : { time: new Date(at) });
        if (!view) throw notFound(at === undefined ? `no build ${id}` : `no build ${id} at ${at}`);
        return view;
      },
    );

    app.get(
      '/builds/:id/events',
      {
        schema: {
          summary: "A build's slice of the log, in version order",
          tags: ['builds'],
          params: buildIdParams,
          response: { 200: buildEventsSchema, 400: errorBodySchema, 404: errorBodySchema },
        },
      },
      async (request) => {
        const { id } = request.params;
        const events = await history(deps.store, id);
        if (events.length === 0) throw notFound(`no build ${id}`);
        return { buildId: id, events };
      },
    );

    app.get(
      '/builds/:id/stream',
      {
        schema: {
          summary: "A build's events live, as server-sent events (id: version, event: type), until the build ends; honours Last-Event-ID",
          tags: ['builds'],
          params: buildIdParams,
          response: { 400: errorBodySchema, 404: errorBodySchema, 429: errorBodySchema },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        // A stream nobody can fill is refused, not polled for (review M5): one cheap Query.
        if ((await deps.store.headVersion(buildStream(id))) === 0) throw notFound(`no build ${id}`);
        let state = foldBuild([]);
        await streams.serve(request, reply, {
          subject: { buildId: id },
          read: (after) => history(deps.store, id, after),
          endsWith: (events) => isTerminal((state = foldBuild(events, state)).status),
        });
      },
    );
    return Promise.resolve();
  };
}
