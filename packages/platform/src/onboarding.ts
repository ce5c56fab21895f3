/**
 * Onboarding's door and its two small indexes, shared by the build API (POST /services), the
 * orchestrator's intake (the SNS form, GitHub's webhooks) and its driver:
 *   - requestService appends `service.requested` on the name's stream, once: a second creation of
 *     the name finds the first (the same request is a repeat; another one is a conflict);
 *   - the open creations: the ones the orchestrator's driver still has work for, one row each in
 *     the checkpoints table, put when the relay reads `service.requested`, deleted once finished;
 *   - sha routes: an infra workflow run's webhook names only its repository and head sha, so the
 *     sha a creation's infra pull request merged as is mapped back to the creation.
 */
import { decideOnboarding, onboardingBranch, serviceStream, type OnboardingState, type ServiceRequest } from '@flotilla/events';
import { decideAndAppendTo, onboardingAggregate } from './decide.ts';
import type { EventStore } from './event-store.ts';
import type { Records } from './records.ts';

export type ServiceRequestOutcome =
  | { kind: 'requested' }
  | { kind: 'repeat'; state: OnboardingState }
  /** The name is taken by a creation asked for with another team, template or environments. */
  | { kind: 'conflict'; state: OnboardingState };

const sameRequest = (state: OnboardingState, request: ServiceRequest) =>
  state.request?.team === request.team && state.request.template === request.template && JSON.stringify(state.request.environments) === JSON.stringify(request.environments);

/** Starts the creation of `request.name` unless it exists; says which it was. */
export async function requestService(store: EventStore, request: ServiceRequest, options: { stepDeadlineMs: number; causationId: string; now?: number }): Promise<ServiceRequestOutcome> {
  let existing: OnboardingState | undefined;
  await decideAndAppendTo(store, serviceStream(request.name), onboardingAggregate, (state) => {
    existing = state.status === null ? undefined : state;
    if (existing) return [];
    return decideOnboarding(state, { kind: 'request', request, stepDeadlineMs: options.stepDeadlineMs }, { correlationId: request.name, causationId: options.causationId, now: options.now ?? Date.now() });
  });
  if (existing) return { kind: sameRequest(existing, request) ? 'repeat' : 'conflict', state: existing };
  return { kind: 'requested' };
}

const OPEN_PK = 'onboarding#open';
const SHA_PK = 'onboarding#sha';

/** Marks a creation as the driver's to work on (idempotent). */
export async function openCreation(records: Records, name: string, now = new Date()): Promise<void> {
  await records.put({ pk: OPEN_PK, sk: name }, { openedAt: now.toISOString(), branch: onboardingBranch(name) });
}

export async function closeCreation(records: Records, name: string): Promise<void> {
  await records.delete({ pk: OPEN_PK, sk: name });
}

/** The creations still open, by name. */
export async function openCreations(records: Records): Promise<string[]> {
  return (await records.list(OPEN_PK)).map((row) => row.sk);
}

const shaKey = (repo: string, sha: string) => ({ pk: SHA_PK, sk: `${repo}@${sha}` });

/** Ties a commit on `repo` to the creation whose pull request it is the merge of. */
export async function routeSha(records: Records, repo: string, sha: string, name: string): Promise<void> {
  await records.put(shaKey(repo, sha), { service: name });
}

/** The creation a commit on `repo` belongs to, if one merged it. */
export async function serviceOfSha(records: Records, repo: string, sha: string): Promise<string | undefined> {
  const row = await records.get<{ service: string }>(shaKey(repo, sha));
  return row?.service;
}
