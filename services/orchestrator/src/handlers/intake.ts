/**
 * The SNS door: a `build.requested` message published to the intake topic (raw delivery to the
 * intake queue), keyed by its required `requestId`. An invalid message is refused with the reason
 * (the consumer dead-letters it with that reason attached) and never reaches the log.
 */
import { z } from 'zod';
import { buildRequestSchema, describeIssues } from '@flotilla/events';
import { FlotillaError, REGIONS, requestBuild, type ReceivedMessage } from '@flotilla/platform';
import type { OrchestratorDeps } from './deps.ts';

export class InvalidIntakeError extends FlotillaError {
  readonly retryable = false;
}

const envelopeSchema = z.object({
  type: z.literal('build.requested'),
  requestId: z.string().min(1).max(256),
});

export function parseIntakeMessage(body: string, defaults: OrchestratorDeps['defaults']) {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new InvalidIntakeError('intake message is not JSON');
  }
  const head = envelopeSchema.safeParse(raw);
  if (!head.success) throw new InvalidIntakeError(`invalid intake message: ${describeIssues(head.error.issues).join('; ')}`);
  const withDefaults = { regions: defaults.regions, hostsPerRegion: defaults.hostsPerRegion, ...(raw as object) };
  const request = buildRequestSchema(REGIONS).strip().safeParse(withDefaults);
  if (!request.success) throw new InvalidIntakeError(`invalid build.requested ${head.data.requestId}: ${describeIssues(request.error.issues).join('; ')}`);
  return { requestId: head.data.requestId, request: request.data };
}

export function intakeHandler(deps: OrchestratorDeps) {
  return async (received: ReceivedMessage): Promise<void> => {
    const { requestId, request } = parseIntakeMessage(received.body, deps.defaults);
    const { buildId, duplicate } = await requestBuild(deps, { door: 'sns', key: requestId, request });
    received.logger.info({ requestId, buildId, duplicate }, duplicate ? 'intake repeat: same build' : 'build requested');
  };
}
