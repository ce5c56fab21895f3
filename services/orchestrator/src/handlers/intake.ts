/**
 * The SNS door: a `build.requested` message published to the intake topic (raw delivery to the
 * intake queue), keyed by its required `requestId`. Test-run runners report through the same topic
 * (`testrun.region_ready`, `testrun.region_completed`: testruns.ts). An invalid message is refused
 * with the reason (the consumer dead-letters it with that reason attached) and never reaches the log.
 */
import { z } from 'zod';
import { buildRequestSchema, describeIssues, runnerReportSchema, type BuildRequest, type RunnerReport } from '@flotilla/events';
import { InvalidMessageError, parseMessage, requestBuild, type ReceivedMessage } from '@flotilla/platform';
import type { OrchestratorDeps } from './deps.ts';
import { handleRunnerReport } from './testruns.ts';

const buildEnvelopeSchema = z
  .object({
    type: z.literal('build.requested'),
    requestId: z.string().min(1).max(256),
  })
  .loose();

/** Every message the intake topic carries, told apart by `type`: a build request, or a runner's report. */
const intakeMessageSchema = z.discriminatedUnion('type', [buildEnvelopeSchema, ...runnerReportSchema.options]);

export type IntakeMessage = { kind: 'build'; requestId: string; request: BuildRequest } | { kind: 'runner-report'; report: RunnerReport };

/** Parsed once, whatever it is. `regions` are the stack's: a build naming another region is refused, never started. */
export function parseIntakeMessage(body: string, regions: readonly string[], defaults: OrchestratorDeps['defaults']): IntakeMessage {
  const message = parseMessage(body, intakeMessageSchema, 'intake message');
  if (message.type !== 'build.requested') return { kind: 'runner-report', report: message };
  const { requestId, ...fields } = message;
  const request = buildRequestSchema(regions).strip().safeParse({ regions: defaults.regions, hostsPerRegion: defaults.hostsPerRegion, ...fields });
  if (!request.success) throw new InvalidMessageError(`invalid build.requested ${requestId}: ${describeIssues(request.error.issues).join('; ')}`);
  return { kind: 'build', requestId, request: request.data };
}

export function intakeHandler(deps: OrchestratorDeps) {
  return async (received: ReceivedMessage): Promise<void> => {
    const message = parseIntakeMessage(received.body, deps.regions, deps.defaults);
    if (message.kind === 'runner-report') return handleRunnerReport(deps, message.report, received.logger);
    const { requestId, request } = message;
    const { buildId, duplicate } = await requestBuild(deps, { door: 'sns', key: requestId, request });
    received.logger.info({ requestId, buildId, duplicate }, duplicate ? 'intake repeat: same build' : 'build requested');
  };
}
