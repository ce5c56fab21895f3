/**
 * The lifecycle every service shares: the HTTP server (./http.ts: GET /health, GET /openapi.json
 * and the service's own routes), and graceful shutdown on SIGTERM/SIGINT: stop taking work, drain
 * what is in flight, close the server, then exit.
 */
import { createAwsClients, type AwsClients } from './aws.ts';
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
  stop(): Promise<void>;
}

/**
 * Stops `parts` in order on the first SIGTERM or SIGINT (consumers first so in-flight work drains
 * while the server still answers /health), then exits. A second signal, or `graceMs` passing,
 * exits at once.
 */
export function stopOnSignals(logger: Logger, parts: Stoppable[], graceMs = 25_000): void {
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
    for (const part of parts) {
      try {
        await part.stop();
        logger.info({ part: part.name }, 'stopped');
      } catch (error) {
        logger.error({ err: error, part: part.name }, 'failed to stop cleanly');
      }
    }
    logger.info('shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
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
  /** The service's routes, as a Fastify plugin (see ./http.ts). */
  routes?: (ctx: Omit<ServiceContext, 'http'>) => HttpRoutes;
  /** The bearer token the service's routes require (see ./http.ts); a service without an API has none. */
  apiToken?: string;
  /** Started before the HTTP server; stopped first on shutdown, in order. */
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
  armFaults(config.FLOTILLA_FAULTS);
  if (config.FLOTILLA_FAULTS.size > 0) logger.warn({ faults: Object.fromEntries(config.FLOTILLA_FAULTS) }, 'fault points armed (chaos testing only)');
  const aws = createAwsClients({ region: config.AWS_REGION, endpoint: config.AWS_ENDPOINT_URL });
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
      checks: { eventsTable: () => store.ping() },
      routes: options.routes?.(base),
    });
    stopOnSignals(logger, [...workers, { name: 'http', stop: () => http.close() }, { name: 'aws', stop: () => Promise.resolve(aws.destroy()) }]);
    return { ...base, http };
  } catch (error) {
    logger.fatal({ err: error, prefix: config.FLOTILLA_PREFIX }, `failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
