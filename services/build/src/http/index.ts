/**
 * The build service's API: one plugin per resource (/builds, /events, /testruns, /services,
 * /webhooks/github), registered together, and the console that reads it (/). A new
 * route goes into its resource's plugin; a new resource gets its own file here.
 */
import type { HttpRoutes } from '@flotilla/platform';
import { buildsRoutes } from './builds.ts';
import { consoleRoutes } from './console.ts';
import { eventsRoutes } from './events.ts';
import type { ApiDeps } from './queries.ts';
import { streamDoor } from './stream.ts';
import { servicesRoutes } from './services.ts';
import { testRunsRoutes } from './testruns.ts';
import { webhookRoutes } from './webhooks.ts';

export type { ApiDeps } from './queries.ts';

export function buildApi(deps: ApiDeps): HttpRoutes {
  return async (app) => {
    // One set of live streams (and one cap on them) across every resource's stream route.
    const streams = streamDoor(deps);
    app.addHook('preClose', (done) => {
      streams.close();
      done();
    });
    await app.register(buildsRoutes(deps, streams));
    await app.register(eventsRoutes(deps, streams));
    await app.register(testRunsRoutes(deps, streams));
    await app.register(servicesRoutes(deps));
    await app.register(webhookRoutes(deps));
    await app.register(consoleRoutes());
  };
}
