/**
 * AWS clients for the commands that call the platform package (dlq, why), and the translation of
 * "nothing answers at the endpoint" and AWS error answers into one-line messages.
 */
import { createAwsClients, FlotillaError, type AwsClients } from '@flotilla/platform';
import type { Settings } from './config.ts';
import { isConnectionFailure, UnreachableError, UserError } from './errors.ts';

/** Runs `work` with clients for `settings`, destroying them after; AWS failures become UserErrors. */
export async function withAws<T>(settings: Settings, work: (clients: AwsClients) => Promise<T>): Promise<T> {
  const clients = createAwsClients({ region: settings.aws.region, endpoint: settings.aws.endpoint, credentials: settings.aws.credentials });
  try {
    return await work(clients);
  } catch (error) {
    throw explainAwsError(error, settings.aws.endpoint);
  } finally {
    clients.destroy();
  }
}

export function explainAwsError(error: unknown, endpoint: string | undefined): unknown {
  if (error instanceof UserError) return error;
  if (isConnectionFailure(error)) {
    return new UnreachableError(endpoint ? `cannot reach AWS at ${endpoint} (is the emulator running? ./scripts/run.sh starts it)` : 'cannot reach AWS (network down?)', {
      hint: 'set --endpoint or AWS_ENDPOINT_URL to point elsewhere',
      cause: error,
    });
  }
  // A non-retryable platform error says what is wrong (no such queue, bad config): show it as is.
  if (error instanceof FlotillaError && !error.retryable) return new UserError(error.message, { cause: error });
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.$metadata) return new UserError(`AWS answered ${e.name ?? 'an error'}: ${e.message ?? ''} (endpoint ${endpoint ?? 'AWS'})`, { cause: error });
  return error;
}
