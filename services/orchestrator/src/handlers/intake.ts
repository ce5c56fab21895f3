/**
 * The SNS door: a `build.requested` message published to the intake topic (raw delivery to the
 * intake queue), keyed by its required `requestId`. Test-run runners report through the same topic
 * (`testrun.region_ready`, `testrun.region_completed`: testruns.ts). An invalid message is refused
 * with the reason (the consumer dead-letters it with that reason attached) and never reaches the log.
 */
import { z } from 'zod';
import { buildRequestSchema, describeIssues } from '@flotilla/events';
import { InvalidMessageError, parseMessage, requestBuild, type ReceivedMessage } from '@flotilla/platform';
import type { OrchestratorDeps } from './deps.ts';
import { handleRunnerReport, isRunnerReport } from './testruns.ts';

const envelopeSchema = z
  .object({
    type: z.literal('build.requested'),
    requestId: z.string().min(1).max(256),
  })
  .loose();

/** `regions` are the stack's: a message naming another region is refused, never started. */
export function parseIntakeMessage(body: string, regions: readonly string[], defaults: OrchestratorDeps['defaults']) {
  const { requestId, ...fields } = parseMessage(body, envelopeSchema, 'intake message');
  const request = buildRequestSchema(regions).strip().safeParse({ regions: defaults.regions, hostsPerRegion: defaults.hostsPerRegion, ...fields });
  if (!request.success) throw new InvalidMessageError(`invalid build.requested ${requestId}: ${describeIssues(request.error.issues).join('; ')}`);
  return { requestId, request: request.data };
}

/** Only the type, to route the message: each kind is then parsed by its own schema. */
const typeOnly = z.object({ type: z.string().min(1) }).loose();

export function intakeHandler(deps: OrchestratorDeps) {
  return async (received: ReceivedMessage): Promise<void> => {
    if (isRunnerReport(parseMessage(received.body, typeOnly, 'intake message').type)) return handleRunnerReport(deps, received);
    const { requestId, request } = parseIntakeMessage(received.body, deps.regions, deps.defaults);
    const { buildId, duplicate } = await requestBuild(deps, { door: 'sns', key: requestId, request });
    received.logger.info({ requestId, buildId, duplicate }, duplicate ? 'intake repeat: same build' : 'build requested');
  };
}
