/** /events: the global log, in order, for tailing and catching up, and live. */
import { idBoundAt } from '@flotilla/events';
import { errorBodySchema, type HttpRoutes } from '@flotilla/platform';
import { logPage, type ApiDeps } from './queries.ts';
import { logPageSchema, logQuery, logStreamHeaders, MAX_EVENTS_PAGE } from './schemas.ts';
import type { Follow, StreamDoor } from './stream.ts';

/**
 * The global log from `cursor` (an event id) on, or from now. The log's global order is a
 * secondary index (eventually consistent) over ids minted by several processes, so an event that
 * lands a moment after a later id was read is not sent: the stream says that something happened,
 * for a reader that then reads what it shows (the console's build list), not a replacement for
 * reading a build's own stream.
 */
export function followLog(store: ApiDeps['store'], now: () => number = Date.now): Follow {
  return {
    subject: { stream: 'log' },
    async read(cursor) {
      const page = await logPage(store, { after: cursor ?? idBoundAt(now(), 'first'), limit: MAX_EVENTS_PAGE });
      return { frames: page.events.map((event) => ({ id: event.id, event: event.type, data: event })), cursor: page.next ?? cursor, done: false, busy: page.events.length > 0 };
    },
  };
}

export function eventsRoutes(deps: Pick<ApiDeps, 'store'>, streams: StreamDoor): HttpRoutes {
  // A Fastify plugin: it only declares routes, so it has nothing to wait for.
  return (app) => {
    app.get(
      '/events',
      {
        schema: {
          summary: 'The global log, oldest first: the newest `limit` events, or those after `after`; `next` resumes',
          tags: ['events'],
          querystring: logQuery,
          response: { 200: logPageSchema, 400: errorBodySchema },
        },
      },
      async (request) => logPage(deps.store, request.query),
    );

    app.get(
      '/events/stream',
      {
        schema: {
          summary: 'The global log live, from now (or after Last-Event-ID), as server-sent events (id: event id, event: type); it does not end by itself',
          tags: ['events'],
          headers: logStreamHeaders,
          response: { 400: errorBodySchema, 429: errorBodySchema },
        },
      },
      async (request, reply) => streams.serve(request, reply, followLog(deps.store)),
    );
    return Promise.resolve();
  };
}
