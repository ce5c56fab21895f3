/** /events: the global log, in order, for tailing and catching up. */
import { errorBodySchema, type HttpRoutes } from '@flotilla/platform';
import { logPage, type ApiDeps } from './queries.ts';
import { logPageSchema, logQuery } from './schemas.ts';

export function eventsRoutes(deps: Pick<ApiDeps, 'store'>): HttpRoutes {
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
    return Promise.resolve();
  };
}
