/**
 * Flag values to API parameters: pure, so the mapping is unit-tested. Each function checks the
 * values it passes on (parse at the boundary) and names the flag in its error.
 */
import { z } from 'zod';
import { doorSchema, statusSchema, type ServiceRequestBody } from './api.ts';
import { UsageError } from './errors.ts';

const ISO_DATE_START = /^\d{4}-\d{2}-\d{2}/;

/** An ISO-8601 date or date-time, normalised to UTC (`2025-01-02` means its midnight, UTC). */
export function parseIsoTime(flag: string, value: string): string {
  const ms = ISO_DATE_START.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${flag} must be an ISO-8601 time such as 2025-06-01T12:00:00Z, not ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

/** `--at`: a version number of the build's stream (1 = build.requested) or an ISO-8601 time. */
export function parseAt(value: string): string {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const version = Number(trimmed);
    if (!Number.isSafeInteger(version) || version < 1) throw new UsageError(`--at version must be 1 or more, not ${trimmed}`);
    return String(version);
  }
  if (!ISO_DATE_START.test(trimmed)) throw new UsageError(`--at must be an event version (a number) or an ISO-8601 time, not ${JSON.stringify(value)}`);
  return parseIsoTime('at', trimmed);
}

function parseIntFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  return n;
}

export interface ListFlags {
  repo?: string | undefined;
  env?: string | undefined;
  status?: string | undefined;
  door?: string | undefined;
  key?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: string | undefined;
  cursor?: string | undefined;
}

function oneOf<T extends string>(flag: string, schema: z.ZodEnum<Record<T, T>>, value: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`--${flag} must be one of ${schema.options.join(', ')}, not ${JSON.stringify(value)}`);
  return parsed.data;
}

/** `builds list` flags to the query of GET /builds; flags left out are left out of the query. */
export function listQuery(flags: ListFlags): URLSearchParams {
  const query = new URLSearchParams();
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') query.set(name, value);
  };
  set('repo', flags.repo);
  set('env', flags.env);
  if (flags.status) set('status', oneOf('status', statusSchema, flags.status.toUpperCase()));
  if (flags.door) set('door', oneOf('door', doorSchema, flags.door.toLowerCase()));
  if (flags.key) {
    if (!flags.door) throw new UsageError(`--key looks a build up by its door's key: give --door too (${doorSchema.options.join(', ')})`);
    set('key', flags.key);
  }
  const since = flags.since ? parseIsoTime('since', flags.since) : undefined;
  const until = flags.until ? parseIsoTime('until', flags.until) : undefined;
  if (since && until && since > until) throw new UsageError(`--since (${since}) is after --until (${until})`);
  set('since', since);
  set('until', until);
  if (flags.limit) set('limit', String(parseIntFlag('limit', flags.limit, 1, 100)));
  set('cursor', flags.cursor);
  return query;
}

export interface EventsFlags {
  type?: string | undefined;
  build?: string | undefined;
  limit?: string | undefined;
}

/** `events tail` flags to the query of GET /events; `after` is the cursor of a follow. */
export function eventsQuery(flags: EventsFlags, after?: string): URLSearchParams {
  const query = new URLSearchParams();
  if (after) query.set('after', after);
  if (flags.type) query.set('type', flags.type);
  if (flags.build) query.set('buildId', flags.build);
  if (flags.limit) query.set('limit', String(parseIntFlag('limit', flags.limit, 1, 500)));
  return query;
}

export interface SubmitFlags {
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
  regions?: string | undefined;
  hosts?: string | undefined;
}

/** A comma-separated list flag (`--regions a,b`): the names, trimmed; undefined when the flag is absent. */
function parseList(flag: string, value: string | undefined, what: string, example: string): string[] | undefined {
  const names = value
    ?.split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (value !== undefined && names?.length === 0) throw new UsageError(`--${flag} must name at least one ${what}, e.g. --${flag} ${example}`);
  return names;
}

const parseRegions = (value: string | undefined) => parseList('regions', value, 'region', 'us-east-1,eu-west-1');

/** `builds submit` flags to the body of POST /builds (the API validates the values themselves). */
export function submitRequest(flags: SubmitFlags) {
  const regions = parseRegions(flags.regions);
  return {
    repo: flags.repo,
    env: flags.env,
    version: flags.version,
    branch: flags.branch,
    commit: flags.commit,
    ...(regions ? { regions } : {}),
    ...(flags.hosts === undefined ? {} : { hostsPerRegion: parseIntFlag('hosts', flags.hosts, 1, 100_000) }),
  };
}

/** A poll interval in milliseconds, from a flag. */
export const parseInterval = (flag: string, value: string): number => parseIntFlag(flag, value, 50, 60_000);

export interface TestRunFlags {
  regions: string;
  quorum?: string | undefined;
  vus?: string | undefined;
  buffer?: string | undefined;
  deadline?: string | undefined;
  target?: string | undefined;
}

/** `testruns start` flags to the body of POST /testruns (the API validates the values themselves). */
export function testRunRequest(flags: TestRunFlags, script: unknown, defaultTarget: string) {
  return {
    script,
    regions: parseRegions(flags.regions) ?? [],
    target: flags.target ?? defaultTarget,
    ...(flags.quorum === undefined ? {} : { quorum: parseIntFlag('quorum', flags.quorum, 1, 100) }),
    ...(flags.vus === undefined ? {} : { vusPerRegion: parseIntFlag('vus', flags.vus, 1, 1_000_000) }),
    ...(flags.buffer === undefined ? {} : { startBufferMs: parseIntFlag('buffer', flags.buffer, 0, 3_600_000) }),
    ...(flags.deadline === undefined ? {} : { deadline: parseIsoTime('deadline', flags.deadline) }),
  };
}

export interface ServiceFlags {
  name: string;
  team: string;
  template: string;
  environments?: string | undefined;
}

/** `services create` flags to the body of POST /services (the API validates the values themselves); no --environments, the API's default. */
export function serviceRequest(flags: ServiceFlags): ServiceRequestBody {
  const environments = parseList('environments', flags.environments, 'environment', 'dev,staging,prod');
  return { name: flags.name, team: flags.team, template: flags.template, ...(environments ? { environments } : {}) };
}
