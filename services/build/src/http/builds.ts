/**
 * /builds: the HTTP intake door (POST /builds) and a build's view, history and live events.
 */
import { errorBodySchema, notFound, requestBuild, type HttpRoutes } from '@flotilla/platform';
import { currentView, history, viewAt, type ApiDeps } from './queries.ts';
import { acceptedSchema, atQuery, buildEventsSchema, buildIdParams, buildRequestBody, buildViewSchema, idempotencyHeaders } from './schemas.ts';
import { streamEvents } from './stream.ts';

export function buildsRoutes(deps: ApiDeps): HttpRoutes {
  // A Fastify plugin: it only declares routes, so it has nothing to wait for.
  return (app) => {
    const body = buildRequestBody(deps.defaults);
    // Open event streams end when the server closes, so a graceful shutdown does not wait on them.
    const closing = new AbortController();
    app.addHook('preClose', (done) => {
      closing.abort();
      done();
    });

    app.post(
      '/builds',
      {
        schema: {
          summary: 'Request a build (the HTTP intake door)',
          tags: ['builds'],
          headers: idempotencyHeaders,
          body,
          response: { 202: acceptedSchema, 400: errorBodySchema, 413: errorBodySchema, 415: errorBodySchema, 422: errorBodySchema },
        },
      },
      async (request, reply) => {
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
          response: { 400: errorBodySchema },
        },
      },
      async (request, reply) => {
        // The stream writes to the socket itself; Fastify neither serializes nor ends it.
        reply.hijack();
        const lastEventId = request.headers['last-event-id'];
        await streamEvents(deps, deps.logger, reply.raw, {
          buildId: request.params.id,
          lastEventId: Array.isArray(lastEventId) ? lastEventId[0] : lastEventId,
          closing: closing.signal,
        });
      },
    );
    return Promise.resolve();
  };
}
