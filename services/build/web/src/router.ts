/**
 * The console's addresses: every view is a hash route, so any page (a filtered list included) is a
 * link someone can paste. Pure: parses and formats hashes, the build list's filters and the header's
 * lookup text; hash.ts does the navigating.
 *
 * Written here rather than taken from a router library (wouter, preact-iso): the routes are five
 * fixed hash paths, and what is particular to them (the list's filters in the hash's query, typed
 * routes that hrefOf turns back into links, the lookup box) would stay here anyway; a library
 * would replace only the twenty lines of segment matching in parseRoute.
 *
 *   #/builds?repo=&env=&status=&door=   the build list (the default route)
 *   #/builds/new                        the new build form
 *   #/builds/<id>                       a build
 *   #/testruns/<id>                     a test run
 *   #/services/<name>                   a service creation
 */
import type { BuildStatus, Door } from './api.ts';

export const BUILD_STATUSES = ['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED'] as const satisfies readonly BuildStatus[];
export const DOORS = ['http', 'sns', 's3', 'onboarding'] as const satisfies readonly Door[];
/** The environments the list offers; any other the API accepts (envSchema) still works from a link. */
export const KNOWN_ENVS = ['dev', 'staging', 'prod'] as const;

/** The same patterns as packages/events (envSchema, ULID_PATTERN, serviceNameSchema), copied: the console bundles no zod. */
const ENV_PATTERN = /^[a-z0-9-]{1,12}$/;
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;

export interface BuildFilters {
  repo?: string;
  env?: string;
  status?: BuildStatus;
  door?: Door;
}

export type Route =
  | { name: 'builds'; filters: BuildFilters }
  | { name: 'new-build' }
  | { name: 'build'; buildId: string }
  | { name: 'testrun'; runId: string }
  | { name: 'service'; serviceName: string }
  | { name: 'not-found'; path: string };

const isOneOf = <T extends string>(list: readonly T[], value: string | null): value is T => value !== null && (list as readonly string[]).includes(value);

/** Filters from a query string; a value the API would refuse (an unknown status, say) is left out. */
export function filtersFromQuery(query: string | URLSearchParams): BuildFilters {
  const params = typeof query === 'string' ? new URLSearchParams(query.replace(/^\?/, '')) : query;
  const filters: BuildFilters = {};
  const repo = params.get('repo')?.trim();
  if (repo) filters.repo = repo;
  const env = params.get('env');
  if (env !== null && ENV_PATTERN.test(env)) filters.env = env;
  const status = params.get('status');
  if (isOneOf(BUILD_STATUSES, status)) filters.status = status;
  const door = params.get('door');
  if (isOneOf(DOORS, door)) filters.door = door;
  return filters;
}

/** The query string of `filters` (no `?`), in a fixed order, empty values left out: one filter set, one link. */
export function filtersToQuery(filters: BuildFilters): string {
  const params = new URLSearchParams();
  const repo = filters.repo?.trim();
  if (repo) params.set('repo', repo);
  if (filters.env) params.set('env', filters.env);
  if (filters.status) params.set('status', filters.status);
  if (filters.door) params.set('door', filters.door);
  return params.toString();
}

export const hasFilters = (filters: BuildFilters): boolean => filtersToQuery(filters) !== '';

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The route of a location hash (`#/builds/01J...`); an empty hash is the build list. */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const queryAt = raw.indexOf('?');
  const path = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const query = queryAt === -1 ? '' : raw.slice(queryAt + 1);
  const segments = path.split('/').filter(Boolean).map(decodeSegment);
  if (segments.some((s) => s === undefined)) return { name: 'not-found', path };
  const [first, second, ...rest] = segments as string[];
  if (rest.length > 0) return { name: 'not-found', path };
  if (first === undefined) return { name: 'builds', filters: filtersFromQuery(query) };
  switch (first) {
    case 'builds':
      if (second === undefined) return { name: 'builds', filters: filtersFromQuery(query) };
      return second === 'new' ? { name: 'new-build' } : { name: 'build', buildId: second };
    case 'testruns':
      return second === undefined ? { name: 'not-found', path } : { name: 'testrun', runId: second };
    case 'services':
      return second === undefined ? { name: 'not-found', path } : { name: 'service', serviceName: second };
    default:
      return { name: 'not-found', path };
  }
}

/** The hash of a route: what links point at and what parseRoute reads back. */
export function hrefOf(route: Route): string {
  switch (route.name) {
    case 'builds': {
      const query = filtersToQuery(route.filters);
      return `#/builds${query ? `?${query}` : ''}`;
    }
    case 'new-build':
      return '#/builds/new';
    case 'build':
      return `#/builds/${encodeURIComponent(route.buildId)}`;
    case 'testrun':
      return `#/testruns/${encodeURIComponent(route.runId)}`;
    case 'service':
      return `#/services/${encodeURIComponent(route.serviceName)}`;
    case 'not-found':
      return `#${route.path}`;
    default: {
      const _never: never = route;
      return String(_never);
    }
  }
}

export type LookupTarget = { kind: 'id'; id: string } | { kind: 'service'; name: string } | { kind: 'invalid'; message: string };

/**
 * What the header's lookup box was given: a ULID (a build's or a test run's id; Crockford base32
 * is case-insensitive, the API wants it upper case) or a service name.
 */
export function classifyLookup(text: string): LookupTarget {
  const value = text.trim();
  if (value === '') return { kind: 'invalid', message: 'Paste a build id, a test run id or a service name' };
  const upper = value.toUpperCase();
  if (ULID_PATTERN.test(upper)) return { kind: 'id', id: upper };
  if (SERVICE_NAME_PATTERN.test(value)) return { kind: 'service', name: value };
  return { kind: 'invalid', message: `"${value}" is neither an id (a ULID) nor a service name (3-40 characters of a-z 0-9 -)` };
}
