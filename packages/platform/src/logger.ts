/** One pino logger per service; handlers take child loggers bound to the message they handle. */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** `destination`: where lines go (stdout by default; a test passes a stream to read them). */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: service,
    level,
    base: { service },
    // Secrets never reach the log, even when an object carrying them is logged by mistake.
    // The Authorization header at any depth a request or its headers are usually logged.
    redact: {
      paths: ['*.taskToken', 'authorization', '*.authorization', '*.headers.authorization', '*.*.headers.authorization', '*.secretAccessKey', '*.token', 'token'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
