/**
 * The build service's API: one plugin per resource (/builds, /events), registered together. A new
 * route goes into its resource's plugin; a new resource gets its own file here.
 */
import type { HttpRoutes } from '@flotilla/platform';
import { buildsRoutes } from './builds.ts';
import { eventsRoutes } from './events.ts';
import type { ApiDeps } from './queries.ts';

export type { ApiDeps } from './queries.ts';

export function buildApi(deps: ApiDeps): HttpRoutes {
  return async (app) => {
    await app.register(buildsRoutes(deps));
    await app.register(eventsRoutes(deps));
  };
}
