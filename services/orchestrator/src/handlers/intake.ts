/**
 * The SNS door: a `build.requested` message published to the intake topic (raw delivery to the
 * intake queue), keyed by its required `requestId`. Test-run runners report through the same topic
 * (`testrun.region_ready`, `testrun.region_completed`: testruns.ts), and so does onboarding
 * (`service.requested`, and GitHub's webhooks as the build API forwards them: onboarding/intake.ts).
 * An invalid message is refused with the reason (the consumer dead-letters it with that reason
 * attached) and never reaches the log.
 */
import { z } from 'zod';
import { buildRequestSchema, describeIssues, githubDeliverySchema, runnerReportSchema, type BuildRequest, type GitHubDelivery, type RunnerReport } from '@flotilla/events';
import { InvalidMessageError, parseMessage, requestBuild, type ReceivedMessage } from '@flotilla/platform';
import type { OrchestratorDeps } from './deps.ts';
import { handleGitHubDelivery, handleServiceRequestMessage } from './onboarding/intake.ts';
import { handleRunnerReport } from './testruns.ts';

const buildEnvelopeSchema = z
  .object({
    type: z.literal('build.requested'),
    requestId: z.string().min(1).max(256),
  })
  .loose();

/** The service request is validated by its handler, which names the fields; here only its type is told apart. */
const serviceEnvelopeSchema = z.object({ type: z.literal('service.requested') }).loose();

/** Every message the intake topic carries, told apart by `type`: a build request, a runner's report, a service request, a GitHub delivery. */
const intakeMessageSchema = z.discriminatedUnion('type', [buildEnvelopeSchema, ...runnerReportSchema.options, serviceEnvelopeSchema, ...githubDeliverySchema.options]);

export type IntakeMessage =
  | { kind: 'build'; requestId: string; request: BuildRequest }
  | { kind: 'runner-report'; report: RunnerReport }
  | { kind: 'service-request'; message: Record<string, unknown> }
  | { kind: 'github'; delivery: GitHubDelivery };

/** Parsed once, whatever it is. `regions` are the stack's: a build naming another region is refused, never started. */
export function parseIntakeMessage(body: string, regions: readonly string[], defaults: OrchestratorDeps['defaults']): IntakeMessage {
  const message = parseMessage(body, intakeMessageSchema, 'intake message');
  switch (message.type) {
    case 'build.requested':
      break;
    case 'service.requested':
      return { kind: 'service-request', message };
    case 'github.pull_request':
    case 'github.workflow_run':
      return { kind: 'github', delivery: message };
    default:
      return { kind: 'runner-report', report: message };
  }
  const { requestId, ...fields } = message;
  const request = buildRequestSchema(regions).strip().safeParse({ regions: defaults.regions, hostsPerRegion: defaults.hostsPerRegion, ...fields });
  if (!request.success) throw new InvalidMessageError(`invalid build.requested ${requestId}: ${describeIssues(request.error.issues).join('; ')}`);
  return { kind: 'build', requestId, request: request.data };
}

export function intakeHandler(deps: OrchestratorDeps) {
  return async (received: ReceivedMessage): Promise<void> => {
    const message = parseIntakeMessage(received.body, deps.regions, deps.defaults);
    if (message.kind === 'runner-report') return handleRunnerReport(deps, message.report, received.logger);
    if (message.kind === 'service-request') return handleServiceRequestMessage(deps, message.message, received.logger);
    if (message.kind === 'github') return handleGitHubDelivery(deps, message.delivery, received.logger);
    const { requestId, request } = message;
    const { buildId, duplicate } = await requestBuild(deps, { door: 'sns', key: requestId, request });
    received.logger.info({ requestId, buildId, duplicate }, duplicate ? 'intake repeat: same build' : 'build requested');
  };
}
