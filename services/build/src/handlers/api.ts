/**
 * The HTTP API: POST /builds (the HTTP intake door), GET /builds/:id (status and per-region
 * progress), GET /builds/:id/events (its slice of the log) and GET /builds/:id/stream (the same
 * events live, as server-sent events, until the build ends).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildIdSchema, buildRequestSchema, buildStream, describeIssues, foldBuild, isTerminal, parseEvent, type BuildEvent, type BuildState } from '@flotilla/events';
import { REGIONS, requestBuild, sendJson, type BuildProjections, type EventStore, type IdempotencyStore, type Logger, type RouteHandler } from '@flotilla/platform';
import { buildView } from '../domain/view.ts';

export interface ApiDeps {
  store: EventStore;
  idempotency: IdempotencyStore;
  projections: BuildProjections;
  logger: Logger;
  defaults: { regions: string[]; hostsPerRegion: number };
  ssePollMs: number;
}

const MAX_BODY_BYTES = 64 * 1024;

class BadRequest extends Error {
  readonly body: Record<string, unknown>;

  constructor(body: Record<string, unknown>) {
    super(String(body.message));
    this.body = body;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest({ error: 'body_too_large', message: `request body over ${MAX_BODY_BYTES} bytes` });
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest({ error: 'invalid_json', message: 'request body is not JSON' });
  }
}

async function history(store: EventStore, buildId: string, afterVersion = 0): Promise<BuildEvent[]> {
  return (await store.readStream(buildStream(buildId), afterVersion)).map((e) => parseEvent(e));
}

export function apiRoutes(deps: ApiDeps): RouteHandler[] {
  const requestSchema = buildRequestSchema(REGIONS);

  const postBuild: RouteHandler = async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/builds') return false;
    try {
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0 || key.length > 256) {
        throw new BadRequest({ error: 'invalid_request', message: 'Idempotency-Key header (1-256 characters) is required', fields: ['Idempotency-Key: required'] });
      }
      const body = await readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest({ error: 'invalid_request', message: 'body must be a JSON object', fields: ['(root): expected object'] });
      const parsed = requestSchema.safeParse({ regions: deps.defaults.regions, hostsPerRegion: deps.defaults.hostsPerRegion, ...body });
      if (!parsed.success) {
        const fields = describeIssues(parsed.error.issues);
        throw new BadRequest({ error: 'invalid_request', message: `invalid build request: ${fields.join('; ')}`, fields });
      }
      const { buildId, duplicate } = await requestBuild(deps, { door: 'http', key, request: parsed.data });
      deps.logger.info({ buildId, duplicate }, duplicate ? 'repeat POST /builds: same build' : 'build requested');
      sendJson(res, 202, { buildId, status: 'PENDING', duplicate, links: { self: `/builds/${buildId}`, events: `/builds/${buildId}/events`, stream: `/builds/${buildId}/stream` } }, { location: `/builds/${buildId}` });
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      sendJson(res, 400, error.body);
    }
    return true;
  };

  const match = (req: IncomingMessage, suffix: '' | '/events' | '/stream'): string | undefined => {
    if (req.method !== 'GET') return undefined;
    const m = new RegExp(`^/builds/([^/?]+)${suffix}(?:\\?.*)?$`).exec(req.url ?? '');
    return m?.[1];
  };
  const known = (res: ServerResponse, id: string): boolean => {
    if (buildIdSchema.safeParse(id).success) return true;
    sendJson(res, 400, { error: 'invalid_request', message: `build id ${id} is not a ULID`, fields: ['id: must be a ULID'] });
    return false;
  };

  const getBuild: RouteHandler = async (req, res) => {
    const id = match(req, '');
    if (id === undefined) return false;
    if (!known(res, id)) return true;
    // The projection answers; a build it has not seen yet is folded from the log directly.
    let state: BuildState | undefined = await deps.projections.readView(id);
    if (!state) {
      const events = await history(deps.store, id);
      state = events.length ? foldBuild(events) : undefined;
    }
    if (!state) sendJson(res, 404, { error: 'not_found', message: `no build ${id}` });
    else sendJson(res, 200, buildView(state, await deps.projections.readCounters(id)));
    return true;
  };

  const getEvents: RouteHandler = async (req, res) => {
    const id = match(req, '/events');
    if (id === undefined) return false;
    if (!known(res, id)) return true;
    const events = await history(deps.store, id);
    if (events.length === 0) sendJson(res, 404, { error: 'not_found', message: `no build ${id}` });
    else sendJson(res, 200, { buildId: id, events });
    return true;
  };

  const streamEvents: RouteHandler = async (req, res) => {
    const id = match(req, '/stream');
    if (id === undefined) return false;
    if (!known(res, id)) return true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let after = Number(req.headers['last-event-id'] ?? 0) || 0;
    let state = foldBuild([]);
    let open = true;
    res.on('close', () => {
      open = false;
    });
    // Polls the log: the stream is strongly consistent per build, so nothing is missed or reordered.
    while (open) {
      const events = await history(deps.store, id, after);
      for (const event of events) {
        res.write(`id: ${event.version}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        after = event.version;
      }
      state = foldBuild(events, state);
      if (isTerminal(state.status)) break;
      res.write(': waiting\n\n');
      await new Promise((resolve) => setTimeout(resolve, deps.ssePollMs));
    }
    res.end();
    return true;
  };

  return [postBuild, getBuild, getEvents, streamEvents];
}
