/**
 * Every API request the simulator answers, in arrival order, with the Octokit operation it
 * served: tests read it to prove what a client did (a 422 then a list; a retry after a 502; the
 * wait before a retry after a rate limit), by count and by timestamps.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export interface LoggedRequest {
  /** Epoch ms on arrival. */
  at: number;
  method: string;
  /** Without the query, percent-decoded (`contents/tenants/dev/x.yaml`, however the client encoded it). */
  path: string;
  query: Record<string, string>;
  /** 'pulls.create', 'actions.getWorkflowRun', 'graphql.enablePullRequestAutoMerge', ... or 'unknown'. */
  operation: string;
  repo?: string;
  number?: number;
  /** 0 until answered. */
  status: number;
  body?: unknown;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The operation the request log names this route by; a function when it depends on the body. */
    operation?: string | ((request: FastifyRequest) => string);
  }
  interface FastifyRequest {
    logged: LoggedRequest | undefined;
  }
}

/** The simulator's own control API is not GitHub's: its requests are not logged. */
export const CONTROL_PREFIX = '/_sim/';

const loggedParams = z.object({
  repo: z.string().optional(),
  number: z.coerce.number().int().optional().catch(undefined),
  run_id: z.coerce.number().int().optional().catch(undefined),
});

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function flatQuery(query: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((query ?? {}) as Record<string, unknown>).map(([key, value]) => [key, String(Array.isArray(value) ? value[0] : value)]));
}

/** Installs the hooks that fill `log`: on arrival, once the body is read, and when answered. */
export function recordRequests(app: FastifyInstance, log: LoggedRequest[]): void {
  app.decorateRequest('logged', undefined);
  app.addHook('onRequest', (request, _reply, done) => {
    const [raw = '/'] = request.url.split('?');
    // Octokit sends a branch or file path's `/` as %2F; the log shows the path GitHub serves.
    const path = safeDecode(raw);
    if (path.startsWith(CONTROL_PREFIX)) return done();
    const operation = request.routeOptions.config.operation;
    const params = loggedParams.safeParse(request.params ?? {});
    const number = params.success ? (params.data.number ?? params.data.run_id) : undefined;
    const entry: LoggedRequest = {
      at: Date.now(),
      method: request.method,
      path,
      query: flatQuery(request.query),
      operation: typeof operation === 'string' ? operation : 'unknown',
      ...(params.success && params.data.repo !== undefined ? { repo: params.data.repo } : {}),
      ...(number !== undefined ? { number } : {}),
      status: 0,
    };
    log.push(entry);
    request.logged = entry;
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const entry = request.logged;
    if (entry) {
      if (request.body !== undefined) entry.body = request.body;
      const operation = request.routeOptions.config.operation;
      if (typeof operation === 'function') entry.operation = operation(request);
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (request.logged) request.logged.status = reply.statusCode;
    done();
  });
}
