/**
 * Onboarding's messages on the intake topic:
 *   - `service.requested`: a creation asked for over SNS (`awslocal sns publish`), the same
 *     request POST /services takes; a second one for the name finds the first;
 *   - `github.pull_request` / `github.workflow_run`: GitHub's webhooks, verified and cut down by
 *     the build API's POST /webhooks/github. Each delivery is handled once per X-GitHub-Delivery
 *     (a redelivery keeps its id); different deliveries of one fact are repeats the decider ignores.
 * A delivery that belongs to no creation (another branch, another team's infra change) is
 * acknowledged and ignored. The relay wakes the driver for whatever this appends.
 */
import { describeIssues, OnboardingRefusedError, serviceRequestSchema, type GitHubDelivery, type OnboardingCommand } from '@flotilla/events';
import { InvalidMessageError, requestService, serviceOfSha, type Logger } from '@flotilla/platform';
import type { OrchestratorDeps } from '../deps.ts';
import { decideOnService } from './driver.ts';

/** `service.requested` from SNS; refused with the reason when invalid or when the name is taken by another request. */
export async function handleServiceRequestMessage(deps: OrchestratorDeps, message: Record<string, unknown>, logger: Logger): Promise<void> {
  const { type: _type, ...fields } = message;
  const parsed = serviceRequestSchema.safeParse(fields);
  if (!parsed.success) throw new InvalidMessageError(`invalid service.requested: ${describeIssues(parsed.error.issues).join('; ')}`);
  const outcome = await requestService(deps.store, parsed.data, { stepDeadlineMs: deps.onboarding.stepDeadlineMs, causationId: `sns:service:${parsed.data.name}` });
  if (outcome.kind === 'conflict') {
    throw new InvalidMessageError(`service ${parsed.data.name} is already being created for team ${outcome.state.request?.team ?? '?'} with template ${outcome.state.request?.template ?? '?'}`);
  }
  logger.info({ service: parsed.data.name, outcome: outcome.kind }, outcome.kind === 'repeat' ? 'service request repeat: same creation' : 'service creation requested');
}

/** The creation a delivery belongs to: named by the delivery, or (an infra run) by the sha its pull request merged as. */
async function creationOf(deps: OrchestratorDeps, delivery: GitHubDelivery): Promise<string | undefined> {
  if (delivery.service) return delivery.service;
  return delivery.type === 'github.workflow_run' ? serviceOfSha(deps.inFlight, delivery.run.repo, delivery.run.headSha) : undefined;
}

export async function handleGitHubDelivery(deps: OrchestratorDeps, delivery: GitHubDelivery, logger: Logger): Promise<void> {
  const { duplicate } = await deps.idempotency.runOnce(`github#${delivery.deliveryId}`, async () => {
    const name = await creationOf(deps, delivery);
    if (!name) {
      logger.debug({ deliveryId: delivery.deliveryId, type: delivery.type }, 'GitHub delivery for no creation: ignored');
      return;
    }
    const command: OnboardingCommand = delivery.type === 'github.pull_request' ? { kind: 'pull-request', observed: delivery.pullRequest } : { kind: 'workflow-run', observed: delivery.run };
    try {
      const { appended } = await decideOnService(deps, name, command, `github:${delivery.deliveryId}`);
      logger.info({ service: name, deliveryId: delivery.deliveryId, type: delivery.type, action: delivery.action, appended: appended.map((e) => e.type) }, 'GitHub delivery');
    } catch (error) {
      // A branch that looks like a creation's but names none that exists: nothing to do.
      if (error instanceof OnboardingRefusedError && error.code === 'not-found') return;
      throw error;
    }
  });
  if (duplicate) logger.debug({ deliveryId: delivery.deliveryId }, 'GitHub delivery already handled');
}
