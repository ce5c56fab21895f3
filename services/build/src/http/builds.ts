/**
 * /builds: the HTTP intake door (POST /builds), the build list, a build's view, history and live
 * events, and cancel.
 */
import { buildStream, decideCancel, foldBuild, isTerminal, type PendingEvent } from '@flotilla/events';
import { decideAndAppend, errorBodySchema, HttpError, listBuilds, notFound, requestBuild, type HttpRoutes } from '@flotilla/platform';
import { currentView, history, viewAt, whyOf, type ApiDeps } from './queries.ts';
import {
  acceptedSchema,
  atQuery,
  buildEventsSchema,
  buildIdParams,
  buildListSchema,
  buildRequestBody,
  buildViewSchema,
  buildWhySchema,
  cancelledSchema,
  idempotencyHeaders,
  listQuery,
  regionsSchema,
  streamQuery,
} from './schemas.ts';
import { followStream, type Follow, type StreamDoor } from './stream.ts';

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
      '/regions',
      {
        schema: { summary: "The stack's regions, and the regions and hosts per region a build request gets by default", tags: ['builds'], response: { 200: regionsSchema } },
      },
      () => Promise.resolve({ regions: [...deps.regions], defaults: deps.defaults }),
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
      '/builds/:id/why',
      {
        schema: {
          summary: 'How a build ended, or what it waits on: its stage, last event, execution state and the depths of its stage\'s queues',
          tags: ['builds'],
          params: buildIdParams,
          response: { 200: buildWhySchema, 400: errorBodySchema, 404: errorBodySchema },
        },
      },
      async (request) => {
        const { id } = request.params;
        const view = await currentView(deps, id);
        if (!view) throw notFound(`no build ${id}`);
        return whyOf(deps, view);
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
          summary:
            "A build's events live, as server-sent events (id: version, event: type), until the build ends; honours Last-Event-ID. With ?view=true, also its view (event: view, no id) each time it changes, host counters included, until they have caught up",
          tags: ['builds'],
          params: buildIdParams,
          querystring: streamQuery,
          response: { 400: errorBodySchema, 404: errorBodySchema, 429: errorBodySchema },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        // A stream nobody can fill is refused, not polled for (review M5): one cheap Query.
        if ((await deps.store.headVersion(buildStream(id))) === 0) throw notFound(`no build ${id}`);
        await streams.serve(request, reply, followBuild(deps, id, request.query.view === 'true'));
      },
    );
    return Promise.resolve();
  };
}

/**
 * Reads a build's view stream keeps on after the build ended while its host counters catch up
 * (countersCatchingUp): a bound, so counters that never catch up cannot hold the stream open.
 */
export const VIEW_CATCH_UP_READS = 60;

/**
 * A build's events and, with `withView`, its view each time it differs from the last one sent:
 * host counters move without events, so a live page's bars need the view read, not only the log.
 * While the build runs a view stream reads at the shortest interval (its bars must move at least
 * once a second); it ends once the build has ended and its counters have caught up.
 */
function followBuild(deps: ApiDeps, id: string, withView: boolean): Follow {
  let state = foldBuild([]);
  const events = followStream({ buildId: id }, (after) => history(deps.store, id, after), (read) => isTerminal((state = foldBuild(read, state)).status));
  if (!withView) return events;
  let sent: string | undefined;
  let readsSinceEnd = 0;
  // The log's head as this stream has read it (unknown on a resumed stream until an event comes).
  let head: number | undefined;
  return {
    subject: events.subject,
    async read(cursor) {
      const polled = await events.read(cursor);
      const newest = polled.frames.at(-1)?.id;
      if (newest !== undefined) head = Number(newest);
      const view = await currentView(deps, id, head);
      const json = JSON.stringify(view);
      const frames = json === sent ? polled.frames : [...polled.frames, { event: 'view', data: view }];
      sent = json;
      const catchingUp = Object.values(view?.regions ?? {}).some((region) => region.progress?.countersCatchingUp === true);
      const done = polled.done && (!catchingUp || ++readsSinceEnd >= VIEW_CATCH_UP_READS);
      return { ...polled, frames, done, busy: !done };
    },
  };
}
