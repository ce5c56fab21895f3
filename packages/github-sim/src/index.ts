/**
 * A local GitHub for onboarding (see README.md): the REST and GraphQL endpoints the GitHub port
 * calls, auto-merge and workflow runs after delays, signed webhooks, failures on demand, and logs
 * of what was asked and what happened. Fastify on loopback only, all state in memory.
 */
import { isIP } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError } from 'fastify';
import { z } from 'zod';
import { controlRoutes } from './control.ts';
import { GitHubApiError } from './errors.ts';
import { FaultBook, matchesRequest, type ArmedFault, type Fault } from './faults.ts';
import { graphqlRoutes } from './graphql.ts';
import { SimState, type Happening, type SimWorkflowRun } from './model.ts';
import { recordRequests, type LoggedRequest } from './request-log.ts';
import { restRoutes } from './rest.ts';
import { Scheduler } from './scheduler.ts';
import { Simulation, type PullRequestSnapshot } from './simulation.ts';
import { DOCS, type Site } from './shapes.ts';
import { Webhooks, type LoggedDelivery, type WebhookMode, type WebhookTarget } from './webhooks.ts';

export type { ArmedFault, Fault } from './faults.ts';
export { faultSchema } from './faults.ts';
export type { Happening, MergeMethod, SimPullRequest, SimWorkflowRun } from './model.ts';
export { blobSha, REPOSITORIES } from './model.ts';
export type { PullRequestSnapshot } from './simulation.ts';
export type { LoggedRequest } from './request-log.ts';
export type { LoggedDelivery, WebhookMode, WebhookTarget } from './webhooks.ts';
export { SHUFFLE_WINDOW_MS } from './webhooks.ts';

export interface GitHubSimOptions {
  /** 0 (the default): an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1; anything but a loopback address is refused. */
  host?: string;
  /** Default 'flotilla-org'. */
  owner?: string;
  /** When set, API requests must carry `Authorization: token <t>` or `Bearer <t>` (401 otherwise). */
  token?: string;
  /** Where signed webhooks go; settable later (setWebhook). Without one, nothing is sent or recorded in deliveries(). */
  webhook?: WebhookTarget;
  /** Defaults: merge 1500, workflow 2000, webhook 100 (ms). */
  delays?: { mergeMs?: number; workflowMs?: number; webhookMs?: number };
  /** A pino-compatible logger; without one, `logLevel` makes Fastify's own (silent when neither). */
  logger?: FastifyBaseLogger;
  logLevel?: string;
}

export interface GitHubSim {
  /** Base URL for Octokit, e.g. http://127.0.0.1:PORT (GraphQL at `${url}/graphql`). */
  url: string;
  owner: string;
  setWebhook(target: WebhookTarget): void;
  /** duplicate: every delivery twice; shuffle: deliveries held for SHUFFLE_WINDOW_MS and released in random order. */
  setWebhookMode(mode: WebhookMode): void;
  /** Arms a fault (throws a ZodError when it is not one); returns it with its defaults. */
  inject(fault: Fault): ArmedFault;
  /** The faults still armed, each with how many more times it fires. */
  faults(): (ArmedFault & { remaining: number })[];
  clearFaults(): void;
  /** Every API request, in arrival order. */
  requests(): LoggedRequest[];
  /** What the simulator itself did, timestamped. */
  happenings(): Happening[];
  /** Every webhook delivery attempt. */
  deliveries(): LoggedDelivery[];
  /** Each with `files`: its head commit's files, path -> content (what the pull request carries). */
  pullRequests(): PullRequestSnapshot[];
  workflowRuns(): SimWorkflowRun[];
  /** Stops timers and the server; nothing is delivered after it resolves. */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(0),
  host: z
    .string()
    .default('127.0.0.1')
    .refine((host) => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')), {
      message: 'the GitHub simulator listens on loopback only (127.x.x.x, ::1 or localhost)',
    }),
  owner: z.string().regex(/^[A-Za-z0-9-]+$/).default('flotilla-org'),
  token: z.string().min(1).optional(),
  webhook: z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(1) }).optional(),
  delays: z
    .object({
      mergeMs: z.number().int().nonnegative().default(1_500),
      workflowMs: z.number().int().nonnegative().default(2_000),
      webhookMs: z.number().int().nonnegative().default(100),
    })
    .default({ mergeMs: 1_500, workflowMs: 2_000, webhookMs: 100 }),
  logLevel: z.string().optional(),
});

/** `token <t>` and `Bearer <t>`, as GitHub accepts both. */
const AUTHORIZATION = /^(?:token|bearer)\s+(\S+)$/i;

/** The answer an armed http-error or rate-limit fault gives this request, if one matches. */
function requestFault(faults: FaultBook, entry: LoggedRequest): GitHubApiError | undefined {
  const limited = faults.take('rate-limit', (f) => matchesRequest(f, entry.method, entry.path));
  if (limited?.mode === 'primary') {
    return new GitHubApiError(403, 'API rate limit exceeded for user ID 90000002.', undefined, {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1_000) + limited.resetSeconds),
      'x-ratelimit-resource': 'core',
    });
  }
  if (limited?.mode === 'secondary') {
    return new GitHubApiError(limited.status, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', undefined, {
      'retry-after': String(limited.retryAfterSeconds),
    });
  }
  const failing = faults.take('http-error', (f) => matchesRequest(f, entry.method, entry.path));
  return failing ? new GitHubApiError(failing.status, failing.message ?? `simulated ${failing.status}`) : undefined;
}

export async function startGitHubSim(options: GitHubSimOptions = {}): Promise<GitHubSim> {
  const { logger, ...rest } = options;
  const config = optionsSchema.parse(rest);
  // Requests are in the request log; a log line each would drown the simulator's own lines.
  const logController = new LogController({ disableRequestLogging: true });
  const app = logger ? Fastify({ loggerInstance: logger, logController }) : Fastify({ logger: config.logLevel ? { level: config.logLevel } : false, logController });

  const site: Site = { baseUrl: '', owner: config.owner };
  const faults = new FaultBook();
  const scheduler = new Scheduler((error) => app.log.error({ err: error }, 'github simulator: a scheduled step failed'));
  const webhooks = new Webhooks({ scheduler, faults, log: app.log, delayMs: config.delays.webhookMs, target: config.webhook });
  const simulation = new Simulation({ site, state: new SimState(), scheduler, webhooks, faults, delays: config.delays, log: app.log });
  const requests: LoggedRequest[] = [];

  recordRequests(app, requests);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.logged || config.token === undefined) return;
    const token = AUTHORIZATION.exec(request.headers.authorization ?? '')?.[1];
    if (token !== config.token) await reply.code(401).send({ message: 'Bad credentials', documentation_url: DOCS });
  });
  // Request faults fire after the body is read, so the request log holds the refused body too.
  app.addHook('preHandler', (request, _reply, done) => {
    const entry = request.logged;
    if (!entry) return done();
    const slow = faults.take('slow', (f) => matchesRequest(f, entry.method, entry.path));
    const answer = () => done(requestFault(faults, entry));
    if (slow) setTimeout(answer, slow.delayMs);
    else answer();
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof GitHubApiError) return reply.code(error.status).headers(error.headers).send(error.body);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const message = error.code?.startsWith('FST_ERR_CTP') ? 'Problems parsing JSON' : error.message;
      return reply.code(status).send({ message, documentation_url: DOCS });
    }
    request.log.error({ err: error, path: request.url }, 'github simulator: request failed');
    return reply.code(500).send({ message: 'Server Error' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ message: 'Not Found', documentation_url: DOCS }));

  let closing: Promise<void> | undefined;
  const sim: GitHubSim = {
    get url() {
      return site.baseUrl;
    },
    owner: site.owner,
    setWebhook: (target) => webhooks.setTarget(target),
    setWebhookMode: (mode) => webhooks.setMode(mode),
    inject: (fault) => faults.inject(fault),
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
    requests: () => structuredClone(requests),
    happenings: () => simulation.happenings(),
    deliveries: () => webhooks.deliveries(),
    pullRequests: () => simulation.pullRequests(),
    workflowRuns: () => simulation.workflowRuns(),
    close: () =>
      (closing ??= (async () => {
        scheduler.close();
        await webhooks.close();
        await app.close();
      })()),
  };
  await app.register(restRoutes(simulation));
  await app.register(graphqlRoutes(simulation));
  await app.register(controlRoutes(sim));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await sim.close();
    throw error;
  }
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error(`the GitHub simulator listens on an unexpected address: ${String(address)}`);
  site.baseUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return sim;
}
