/** One pino logger per service; handlers take child loggers bound to the message they handle. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    // Secrets never reach the log, even when an object carrying them is logged by mistake.
    redact: { paths: ['*.taskToken', '*.authorization', '*.secretAccessKey'], censor: '[redacted]' },
  });
}
