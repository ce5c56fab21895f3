/**
 * The lifecycle every service shares: the HTTP server (./http.ts: GET /health, GET /openapi.json
 * and the service's own routes), and graceful shutdown on SIGTERM/SIGINT: stop taking work, drain
 * what is in flight, close the server, then exit.
 */
import { createAwsClients, type AwsClients } from './aws.ts';
import { within } from './concurrency.ts';
import type { platformEnvShape } from './config.ts';
import { EventStore } from './event-store.ts';
import { armFaults } from './faults.ts';
import { startHttpServer, type HttpRoutes, type RunningHttpServer } from './http.ts';
import { IdempotencyStore } from './idempotency.ts';
import { locate, type Locator } from './locate.ts';
import { createLogger, type Logger } from './logger.ts';
import { resourceNames, type ResourceNames } from './resources.ts';
import type { z } from 'zod';

export interface Stoppable {
  name: string;
  /** Stops taking new work at once (a consumer aborts its long polls); stop() then drains. */
  stopTaking?(): void;
  /** Stops taking work if still taking it, and resolves once what was in flight has settled. */
  stop(): Promise<void>;
  /** Liveness, for /health: resolves while the part works, rejects naming what is stuck. */
  alive?(): Promise<void>;
}

export interface StopReport {
  stopped: string[];
  failed: string[];
  timedOut: string[];
}

/**
 * Stops `parts` together: every part stops taking work first (so no poller takes a new task while
 * another part drains), then all drain in parallel, each given at most `budgetMs`. Resolves with
 * what stopped, failed or did not drain in time, without waiting longer than the budget.
 */
export async function stopParts(logger: Logger, parts: Stoppable[], budgetMs: number): Promise<StopReport> {
  for (const part of parts) part.stopTaking?.();
  const report: StopReport = { stopped: [], failed: [], timedOut: [] };
  const outcomes = await Promise.all(
    parts.map(async (part) => {
      try {
        return [part.name, (await within(part.stop(), budgetMs)).done ? ('stopped' as const) : ('timedOut' as const)] as const;
      } catch (error) {
        logger.error({ err: error, part: part.name }, 'failed to stop cleanly');
        return [part.name, 'failed' as const] as const;
      }
    }),
  );
  for (const [name, outcome] of outcomes) {
    report[outcome].push(name);
    if (outcome === 'stopped') logger.info({ part: name }, 'stopped');
    else if (outcome === 'timedOut') logger.warn({ part: name, budgetMs }, 'did not drain within its budget');
  }
  return report;
}

/**
 * Closes the HTTP server: new connections are refused, idle keep-alive connections closed, and
 * requests in flight finish (Fastify's close); whatever is still open after `budgetMs` (a
 * long-lived SSE stream, say) is cut then.
 */
export async function closeHttpServer(http: RunningHttpServer, budgetMs: number): Promise<void> {
  const timer = setTimeout(() => http.app.server.closeAllConnections(), budgetMs);
  timer.unref();
  try {
    await http.close();
  } finally {
    clearTimeout(timer);
  }
}

/** The grace period fits ECS's StopTimeout (30 s, deploy/render.ts), with room to exit. */
export const SHUTDOWN_GRACE_MS = 25_000;
/** What the HTTP server keeps of the grace, after the workers drained. */
const HTTP_CLOSE_BUDGET_MS = 3_000;

/**
 * On the first SIGTERM or SIGINT: every worker stops taking work, then all drain in parallel
 * (while the server still answers), then the server closes letting in-flight requests finish,
 * then the clients, then exit. A second signal, or `graceMs` passing, exits at once.
 */
export function stopOnSignals(logger: Logger, shutdown: { workers: Stoppable[]; http?: RunningHttpServer; finally?: () => void }, graceMs = SHUTDOWN_GRACE_MS): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown grace period passed: exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    const started = Date.now();
    const report = await stopParts(logger, shutdown.workers, graceMs - HTTP_CLOSE_BUDGET_MS - 1_000);
    if (shutdown.http) {
      const left = Math.max(500, graceMs - (Date.now() - started) - 1_000);
      await closeHttpServer(shutdown.http, left).catch((error: unknown) => logger.error({ err: error }, 'http server did not close cleanly'));
    }
    shutdown.finally?.();
    const clean = report.failed.length === 0 && report.timedOut.length === 0;
    logger.info({ ms: Date.now() - started, ...report }, clean ? 'shutdown complete' : 'shutdown complete, not everything drained');
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** One /health check per part that can tell whether it is alive (a consumer's poll loop). */
function livenessChecks(parts: Stoppable[]): Record<string, () => Promise<void>> {
  return Object.fromEntries(parts.flatMap((part) => (part.alive ? [[`${part.name}`, () => part.alive?.() ?? Promise.resolve()] as const] : [])));
}

export type PlatformConfig = z.infer<z.ZodObject<typeof platformEnvShape>>;

export interface ServiceContext {
  name: string;
  logger: Logger;
  aws: AwsClients;
  resources: ResourceNames;
  locator: Locator;
  store: EventStore;
  idempotency: IdempotencyStore;
  http: RunningHttpServer;
}

export interface StartServiceOptions {
  name: string;
  config: PlatformConfig;
  /** The service's routes, as a Fastify plugin (see ./http.ts); async when they need the stack first (its regions, say). */
  routes?: (ctx: Omit<ServiceContext, 'http'>) => HttpRoutes | Promise<HttpRoutes>;
  /** The bearer token the service's routes require (see ./http.ts); a service without an API has none. */
  apiToken?: string;
  /** Started before the HTTP server; on shutdown they stop taking work, then drain in parallel, before the server closes. */
  workers?: (ctx: Omit<ServiceContext, 'http'>) => Promise<Stoppable[]>;
}

/**
 * Wires the parts every service has, so each main.ts only adds what is its own. Workers start
 * first and the HTTP server last, so GET /health answers only once the service can work; a
 * service that cannot start (its stack missing, say) logs why and exits 1, for its supervisor to
 * restart, instead of serving a health check it cannot back.
 */
export async function startService(options: StartServiceOptions): Promise<ServiceContext> {
  const { name, config } = options;
  const logger = createLogger(name, config.LOG_LEVEL);
  armFaults(config.FLOTILLA_FAULTS, { afterMs: config.FLOTILLA_FAULTS_AFTER_MS, stopFile: config.FLOTILLA_FAULTS_STOP_FILE });
  if (config.FLOTILLA_FAULTS.size > 0) {
    logger.warn({ faults: Object.fromEntries(config.FLOTILLA_FAULTS), afterMs: config.FLOTILLA_FAULTS_AFTER_MS, stopFile: config.FLOTILLA_FAULTS_STOP_FILE }, 'fault points armed (chaos testing only)');
  }
  const recordCalls = config.FLOTILLA_TEST_AWS_CALLS ? { directory: config.FLOTILLA_TEST_AWS_CALLS, service: name, prefix: config.FLOTILLA_PREFIX } : undefined;
  const aws = createAwsClients({
    region: config.AWS_REGION,
    endpoint: config.AWS_ENDPOINT_URL,
    timeouts: { connectMs: config.AWS_CONNECT_TIMEOUT_MS, requestMs: config.AWS_REQUEST_TIMEOUT_MS },
    recordCalls,
  });
  const resources = resourceNames(config.FLOTILLA_PREFIX);
  const store = new EventStore(aws.dynamodb, resources.tables.events);
  const idempotency = new IdempotencyStore(aws.dynamodb, resources.tables.idempotency);
  try {
    const base = { name, logger, aws, resources, store, idempotency, locator: await locate(aws, config.FLOTILLA_PREFIX) };
    const workers = (await options.workers?.(base)) ?? [];
    const http = await startHttpServer({
      port: config.PORT,
      host: config.HOST,
      logger,
      rateLimit: { perMinute: config.API_RATE_LIMIT },
      ...(options.apiToken === undefined ? {} : { auth: { token: options.apiToken } }),
      service: name,
      checks: livenessChecks(workers),
      readiness: { eventsTable: () => store.ping(), idempotencyTable: () => idempotency.ping() },
      routes: await options.routes?.(base),
    });
    stopOnSignals(logger, { workers, http, finally: () => aws.destroy() });
    return { ...base, http };
  } catch (error) {
    logger.fatal({ err: error, prefix: config.FLOTILLA_PREFIX }, `failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
