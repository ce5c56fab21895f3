import { describe, expect, it } from 'vitest';
import {
  decideOnboarding,
  deciderSpecification,
  evolveOnboarding,
  foldOnboarding,
  githubDeliveryOf,
  initialOnboardingState,
  isOnboardingFinished,
  nextOnboardingActions,
  onboardingChange,
  OnboardingRefusedError,
  serviceNameOfBranch,
  serviceNameOfStream,
  serviceRequestSchema,
  serviceStream,
  serviceView,
  type OnboardingCommand,
  type OnboardingEvent,
  type OnboardingMeta,
  type OnboardingState,
  type PullRequestStep,
} from '../src/index.ts';
import { raisedPullRequest, SERVICE_AT, SERVICE_NAME, serviceRequestedData, storedService } from './fixtures.ts';

const { given } = deciderSpecification({ evolve: evolveOnboarding, initialState: initialOnboardingState, decide: decideOnboarding });
const at = (ms: number): OnboardingMeta => ({ correlationId: SERVICE_NAME, causationId: 'test', now: SERVICE_AT + ms });
const request = { name: SERVICE_NAME, team: 'payments', template: 'node-service' as const, environments: ['dev', 'prod'] };
const MERGED_SHA = 'c'.repeat(40);
const NUMBERS: Record<PullRequestStep, number> = { infra: 11, 'app-config': 12, 'proxy-upstreams': 13, 'service-definition': 14 };
const REPO: Record<PullRequestStep, string> = { infra: 'infra', 'app-config': 'app-config', 'proxy-upstreams': 'proxy-upstreams', 'service-definition': 'service-definitions' };

/** Decides each command on the history so far and stores what it decides: a creation's log as the store would hold it. */
function history(...commands: OnboardingCommand[]): OnboardingEvent[] {
  const events: OnboardingEvent[] = [];
  for (const [i, command] of commands.entries()) {
    const state = foldOnboarding(events);
    for (const pending of decideOnboarding(state, command, at(i * 1000))) {
      events.push({ ...pending, stream: serviceStream(SERVICE_NAME), version: events.length + 1 } as OnboardingEvent);
    }
  }
  return events;
}

const requested: OnboardingCommand = { kind: 'request', request, stepDeadlineMs: 600_000 };
const raised = (step: PullRequestStep): OnboardingCommand => ({ kind: 'raised', step, pullRequest: (({ step: _s, ...pr }) => pr)(raisedPullRequest(step, NUMBERS[step])) });
const autoMerged = (step: PullRequestStep): OnboardingCommand => ({ kind: 'auto-merge-enabled', step });
const merged = (step: PullRequestStep, sha = MERGED_SHA): OnboardingCommand => ({ kind: 'pull-request', observed: { repo: REPO[step], number: NUMBERS[step], state: 'closed', merged: true, mergedSha: sha } });
const infraRun = (conclusion = 'success', headSha = MERGED_SHA): OnboardingCommand => ({
  kind: 'workflow-run',
  observed: { repo: 'infra', runId: 501, workflow: 'apply.yml', headSha, status: 'completed', conclusion, url: 'https://github.test/runs/501' },
});
const dispatched: OnboardingCommand = { kind: 'dispatched', runId: 777, url: 'https://github.test/runs/777' };
const boilerplateRun = (conclusion = 'success'): OnboardingCommand => ({
  kind: 'workflow-run',
  observed: { repo: 'boilerplate', runId: 777, workflow: 'create-service.yml', headSha: 'd'.repeat(40), status: 'completed', conclusion, url: 'https://github.test/runs/777' },
});
const BUILD = '01JD0ZQ8X3V7K2M4N6P8R0T2W9';
const buildRequested: OnboardingCommand = { kind: 'build-requested', buildId: BUILD };
const buildFinished = (status: 'SUCCESS' | 'FAILED' = 'SUCCESS'): OnboardingCommand => ({ kind: 'build-finished', buildId: BUILD, status, ...(status === 'FAILED' ? { reason: 'sync failed in eu-west-1' } : {}) });

/** Up to the wait for the infra merge (steps 1-3 done). */
const throughStep3 = [requested, raised('infra'), autoMerged('infra'), raised('app-config'), raised('proxy-upstreams')];
/** Up to the boilerplate dispatch (steps 1-6 done). */
const throughStep6 = [...throughStep3, merged('infra'), infraRun(), raised('service-definition'), autoMerged('service-definition'), autoMerged('app-config'), autoMerged('proxy-upstreams')];
const throughStep8 = [...throughStep6, dispatched, boilerplateRun(), buildRequested];
const prMerges = [merged('app-config', 'e'.repeat(40)), merged('proxy-upstreams', 'f'.repeat(40)), merged('service-definition', '9'.repeat(40))];

const plan = (state: OnboardingState, now = SERVICE_AT + 60_000, pollAfterMs = 5_000) => nextOnboardingActions(state, { now, pollAfterMs });

describe('a service name', () => {
  it('names its stream and its branch, and is refused when it could name neither', () => {
    expect(serviceNameOfStream(serviceStream(SERVICE_NAME))).toBe(SERVICE_NAME);
    expect(serviceNameOfBranch(`onboard/${SERVICE_NAME}`)).toBe(SERVICE_NAME);
    expect(serviceNameOfBranch('feature/x')).toBeUndefined();
    const issues = (change: Record<string, unknown>) => serviceRequestSchema.safeParse({ ...request, ...change }).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(issues({})).toEqual([]);
    expect(issues({ name: 'Payments' })).toEqual(['name']);
    expect(issues({ name: 'a-' })).toEqual(['name']);
    expect(issues({ template: 'cobol-service' })).toEqual(['template']);
    expect(issues({ environments: ['dev', 'dev'] })).toEqual(['environments']);
    expect(issues({ extra: true })).toEqual(['']);
  });
});

describe('the onboarding decider', () => {
  it('records a request once: a second creation of the name finds the first', () => {
    given([]).when(requested, at(0)).then([{ type: 'service.requested', data: { ...request, stepDeadlineMs: 600_000 } }]);
    given(history(requested))
      .when(requested, at(1))
      .thenThrows((e) => e instanceof OnboardingRefusedError && e.code === 'exists');
    given([]).when(raised('infra'), at(0)).thenThrows((e) => e instanceof OnboardingRefusedError && e.code === 'not-found');
  });

  it('goes through every step and is created once the build succeeded and every pull request merged', () => {
    const events = history(...throughStep8, ...prMerges, buildFinished());
    const state = foldOnboarding(events);
    expect(state.status).toBe('CREATED');
    expect(events.filter((e) => e.type === 'service.created')).toHaveLength(1);
    const view = serviceView(state, SERVICE_AT + 60_000);
    expect(view?.steps.map((s) => [s.step, s.status, s.done])).toEqual([
      ['infra', 'workflow_completed', true],
      ['app-config', 'merged', true],
      ['proxy-upstreams', 'merged', true],
      ['service-definition', 'merged', true],
      ['boilerplate', 'workflow_completed', true],
      ['first-build', 'workflow_completed', true],
    ]);
    expect(view?.steps[0]?.pullRequest).toMatchObject({ number: 11, mergedSha: MERGED_SHA, nodeId: 'PR_infra_11', ref: `onboard/${SERVICE_NAME}`, autoMerge: true });
    expect(view?.steps[0]?.workflowRun).toMatchObject({ runId: 501, headSha: MERGED_SHA, conclusion: 'success' });
    expect(view?.waitingOn).toBeUndefined();
    expect(isOnboardingFinished(state)).toBe(true);
  });

  it('waits for the last merges when the build succeeds first, then is created by the merge', () => {
    const early = history(...throughStep8, buildFinished(), ...prMerges.slice(0, 2));
    expect(foldOnboarding(early).status).toBe('IN_PROGRESS');
    expect(plan(foldOnboarding(early)).wait).toMatchObject({ step: 'service-definition', waitingFor: 'pull request service-definition #14 to be merged' });
    given(early).when(prMerges[2] as OnboardingCommand, at(99_000)).then([{ type: 'pull_request.merged' }, { type: 'service.created', data: { buildId: BUILD } }]);
  });

  it('decides nothing for a repeated delivery: merge, run, build, raise and auto-merge twice', () => {
    const done = history(...throughStep8);
    for (const repeat of [merged('infra'), infraRun(), raised('infra'), autoMerged('infra'), dispatched, boilerplateRun(), buildRequested]) {
      given(done).when(repeat, at(70_000)).then([]);
    }
    given(history(...throughStep8, buildFinished())).when(buildFinished(), at(80_000)).then([]);
  });

  it('never moves a step backwards when GitHub delivers out of order', () => {
    // The run for the merged sha arrives before the merge: nothing is known to tie it to yet.
    given(history(...throughStep3)).when(infraRun(), at(9_000)).then([]);
    // A late merge after the run completed, with another sha: the step stays workflow_completed, its sha the first.
    const after = history(...throughStep3, merged('infra'), infraRun());
    given(after).when(merged('infra', '1'.repeat(40)), at(20_000)).then([]);
    const state = foldOnboarding(after);
    expect(state.pullRequests.infra).toMatchObject({ status: 'workflow_completed', mergedSha: MERGED_SHA });
    // Evolving a stale fact (a raise stored late) leaves the status where it was.
    const stale = evolveOnboarding(state, storedService('pull_request.raised', raisedPullRequest('infra', 99), state.lastVersion + 1));
    expect(stale.pullRequests.infra).toMatchObject({ status: 'workflow_completed', pullRequest: { number: 11 } });
    // A run on main for another sha (someone else's merge) is not this creation's.
    given(history(...throughStep3, merged('infra'))).when(infraRun('failure', '2'.repeat(40)), at(30_000)).then([]);
    // A run that has not completed says nothing yet.
    given(history(...throughStep3, merged('infra')))
      .when({ kind: 'workflow-run', observed: { repo: 'infra', runId: 501, workflow: 'apply.yml', headSha: MERGED_SHA, status: 'in_progress', conclusion: null, url: 'u' } }, at(30_000))
      .then([]);
  });

  it('fails on a failed infra run, raises nothing more and closes the open pull requests', () => {
    const failed = history(...throughStep3, merged('infra'), infraRun('failure'));
    const state = foldOnboarding(failed);
    expect(state).toMatchObject({ status: 'FAILED', failure: { step: 'infra', reason: 'the infra workflow run 501 (apply.yml on ccccccc) concluded failure: https://github.test/runs/501' } });
    expect(plan(state).actions).toEqual([
      { kind: 'close', step: 'app-config' },
      { kind: 'close', step: 'proxy-upstreams' },
    ]);
    expect(isOnboardingFinished(state)).toBe(false);
    const closed = history(...throughStep3, merged('infra'), infraRun('failure'), { kind: 'closed-by-onboarding', step: 'app-config' }, { kind: 'closed-by-onboarding', step: 'proxy-upstreams' });
    const end = foldOnboarding(closed);
    expect(end.pullRequests['app-config'].closed).toContain('concluded failure');
    expect(plan(end).actions).toEqual([]);
    expect(isOnboardingFinished(end)).toBe(true);
    // A later observation is recorded as a fact, and the creation does not end twice.
    given(closed).when(merged('app-config'), at(90_000)).then([{ type: 'pull_request.merged' }]);
    expect(serviceView(end, SERVICE_AT + 90_000)).toMatchObject({ status: 'FAILED', failedStep: 'infra', reason: state.failure?.reason });
  });

  it('fails when a pull request is closed without merging, GitHub refuses to merge it, or the build fails', () => {
    given(history(...throughStep3))
      .when({ kind: 'pull-request', observed: { repo: 'infra', number: 11, state: 'closed', merged: false, mergedSha: null } }, at(9_000))
      .then([{ type: 'pull_request.closed', data: { step: 'infra' } }, { type: 'service.onboarding_failed', data: { step: 'infra' } }]);
    const { decided } = given(history(...throughStep3))
      .when({ kind: 'pull-request', observed: { repo: 'infra', number: 11, state: 'open', merged: false, mergedSha: null, autoMergeRefused: 'merge conflict' } }, at(9_000))
      .then([{ type: 'service.onboarding_failed', data: { step: 'infra' } }]);
    expect(decided[0]?.data).toMatchObject({ reason: 'GitHub could not merge the infra pull request #11: merge conflict' });
    given(history(...throughStep8))
      .when(buildFinished('FAILED'), at(99_000))
      .then([{ type: 'service.build_finished' }, { type: 'service.onboarding_failed', data: { step: 'first-build' } }]);
    given(history(...throughStep6, dispatched)).when(boilerplateRun('cancelled'), at(99_000)).then([{ type: 'workflow_run.completed' }, { type: 'service.onboarding_failed', data: { step: 'boilerplate' } }]);
  });
});

describe('what a creation does next', () => {
  const stateAfter = (...commands: OnboardingCommand[]) => foldOnboarding(history(...commands));

  it('takes the steps in their fixed order, one wait at a time', () => {
    expect(plan(stateAfter(requested)).actions).toEqual([{ kind: 'raise', step: 'infra' }]);
    expect(plan(stateAfter(requested, raised('infra'))).actions).toEqual([{ kind: 'enable-auto-merge', step: 'infra' }]);
    expect(plan(stateAfter(requested, raised('infra'), autoMerged('infra'))).actions).toEqual([
      { kind: 'raise', step: 'app-config' },
      { kind: 'raise', step: 'proxy-upstreams' },
    ]);
    expect(plan(stateAfter(...throughStep3, merged('infra'), infraRun())).actions).toEqual([{ kind: 'raise', step: 'service-definition' }]);
    expect(plan(stateAfter(...throughStep3, merged('infra'), infraRun(), raised('service-definition'))).actions).toEqual([{ kind: 'enable-auto-merge', step: 'service-definition' }]);
    expect(plan(stateAfter(...throughStep6)).actions).toEqual([{ kind: 'dispatch-boilerplate' }]);
    expect(plan(stateAfter(...throughStep6, dispatched, boilerplateRun())).actions).toEqual([{ kind: 'request-build' }]);
    expect(plan(stateAfter(...throughStep8)).actions).toEqual([{ kind: 'observe-build' }]);
  });

  it('polls GitHub only once a wait has lasted the interval: a webhook that never comes is not waited on forever', () => {
    const waiting = stateAfter(...throughStep3);
    const since = Date.parse(waiting.lastEventAt ?? '');
    expect(plan(waiting, since + 4_999).actions).toEqual([]);
    expect(plan(waiting, since + 4_999).wait).toMatchObject({ step: 'infra', waitingFor: 'pull request #11 to be merged' });
    expect(plan(waiting, since + 5_000).actions).toEqual([{ kind: 'poll-pull-request', step: 'infra' }]);
    const merging = stateAfter(...throughStep3, merged('infra'));
    expect(plan(merging, Date.parse(merging.lastEventAt ?? '') + 5_000)).toMatchObject({ actions: [{ kind: 'poll-infra-run' }], wait: { step: 'infra', waitingFor: 'the apply.yml run on main for ccccccc to complete' } });
    const boiling = stateAfter(...throughStep6, dispatched);
    expect(plan(boiling, Date.parse(boiling.lastEventAt ?? '') + 5_000).actions).toEqual([{ kind: 'poll-boilerplate-run' }]);
  });

  it('reports a creation stuck on a step past its deadline, with the step it waits on', () => {
    const waiting = stateAfter(...throughStep3);
    const since = Date.parse(waiting.lastEventAt ?? '');
    expect(serviceView(waiting, since + 599_000)?.waitingOn).toMatchObject({ step: 'infra', stuck: false });
    expect(serviceView(waiting, since + 600_001)?.waitingOn).toMatchObject({ step: 'infra', waitingFor: 'pull request #11 to be merged', stuck: true, deadline: new Date(since + 600_000).toISOString() });
  });
});

describe("GitHub's webhooks", () => {
  const pr = (action: string, ref: string, extra: Record<string, unknown> = {}) => ({
    action,
    repository: { name: 'infra', full_name: 'flotilla-org/infra' },
    pull_request: { number: 11, state: 'closed', merged: true, merge_commit_sha: MERGED_SHA, head: { ref, sha: 'a'.repeat(40) }, node_id: 'PR_x', html_url: 'u' },
    ...extra,
  });

  it('keeps what onboarding acts on and names its creation', () => {
    expect(githubDeliveryOf('pull_request', 'd-1', pr('closed', `onboard/${SERVICE_NAME}`))).toEqual({
      type: 'github.pull_request',
      deliveryId: 'd-1',
      action: 'closed',
      service: SERVICE_NAME,
      pullRequest: { repo: 'infra', number: 11, state: 'closed', merged: true, mergedSha: MERGED_SHA },
    });
    const refused = githubDeliveryOf('pull_request', 'd-2', { ...pr('auto_merge_disabled', `onboard/${SERVICE_NAME}`, { reason: 'merge conflict' }), pull_request: { ...pr('x', `onboard/${SERVICE_NAME}`).pull_request, state: 'open', merged: false } });
    expect(refused).toMatchObject({ pullRequest: { state: 'open', merged: false, mergedSha: null, autoMergeRefused: 'merge conflict' } });
    const run = {
      action: 'completed',
      repository: { name: 'boilerplate' },
      workflow_run: { id: 777, path: '.github/workflows/create-service.yml', display_title: `boilerplate ${SERVICE_NAME}`, head_sha: 'd'.repeat(40), status: 'completed', conclusion: 'success', html_url: 'u' },
    };
    expect(githubDeliveryOf('workflow_run', 'd-3', run)).toMatchObject({ service: SERVICE_NAME, run: { runId: 777, workflow: 'create-service.yml', conclusion: 'success' } });
    expect(githubDeliveryOf('workflow_run', 'd-4', { ...run, repository: { name: 'infra' } })).not.toHaveProperty('service');
  });

  it('ignores other events, other actions and branches no creation made', () => {
    expect(githubDeliveryOf('pull_request', 'd', pr('opened', `onboard/${SERVICE_NAME}`))).toBeUndefined();
    expect(githubDeliveryOf('pull_request', 'd', pr('closed', 'feature/x'))).toBeUndefined();
    expect(githubDeliveryOf('workflow_run', 'd', { action: 'requested' })).toBeUndefined();
    expect(githubDeliveryOf('push', 'd', {})).toBeUndefined();
    expect(() => githubDeliveryOf('pull_request', 'd', { action: 'closed', repository: { name: 'infra' } })).toThrow(/pull_request/);
  });
});

it('folds the fixture request', () => {
  expect(foldOnboarding([storedService('service.requested', serviceRequestedData, 1)])).toMatchObject({ status: 'IN_PROGRESS', request: { name: SERVICE_NAME } });
});

describe("each pull request's change", () => {
  it('writes the same files for the same request, one per environment where it says so', () => {
    const infra = onboardingChange(request, 'infra', 'flotilla-org');
    expect(infra.files.map((f) => f.path)).toEqual([`oidc/trusted/${SERVICE_NAME}.yaml`, `tenants/dev/${SERVICE_NAME}.yaml`, `tenants/prod/${SERVICE_NAME}.yaml`]);
    expect(infra.files[0]?.content).toBe(`service: ${SERVICE_NAME}\nteam: payments\nsubject: repo:flotilla-org/${SERVICE_NAME}:ref:refs/heads/main\n`);
    expect(infra.files[2]?.content).toBe(`tenant: ${SERVICE_NAME}\nteam: payments\nenvironment: prod\n`);
    expect(onboardingChange(request, 'infra', 'flotilla-org')).toEqual(infra);
    expect(onboardingChange(request, 'app-config', 'o').files.map((f) => f.path)).toEqual([`services/${SERVICE_NAME}/dev.yaml`, `services/${SERVICE_NAME}/prod.yaml`]);
    expect(onboardingChange(request, 'proxy-upstreams', 'o').files).toEqual([{ path: `upstreams/${SERVICE_NAME}.yaml`, content: `upstream: ${SERVICE_NAME}\nenvironments:\n  - dev\n  - prod\n` }]);
    const definition = onboardingChange(request, 'service-definition', 'o');
    expect(definition.files[0]?.content).toBe(`name: ${SERVICE_NAME}\nteam: payments\ntemplate: node-service\nenvironments:\n  - dev\n  - prod\n`);
    expect(definition.title).toBe(`Onboard ${SERVICE_NAME}: service-definition`);
    expect(definition.body).toContain(`- \`services/${SERVICE_NAME}.yaml\``);
  });
});
