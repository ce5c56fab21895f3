/**
 * The onboarding driver: the orchestrator's part of a service creation. Each pass looks at every
 * open creation, asks the aggregate what to do next (nextOnboardingActions), does it on GitHub or
 * in the pipeline, and reports each result back to the creation's stream as an observation
 * (decideOnboarding), which appends only what moves a step forward. The relay wakes it when a
 * creation's stream changes, so a step follows the one before within milliseconds; a pass also runs
 * every interval, which is how a wait that outlasts ONBOARDING_POLL_MS polls GitHub for the state a
 * webhook should have brought.
 *
 * Every effect is idempotent, so a second driver, a retried pass or a restart repeats none:
 * a pull request is raised on the creation's own branch, carrying the same bytes each time (a file
 * already as wanted is not committed again; GitHub refuses a second pull request for the branch,
 * and the port then finds the first); turning auto-merge on twice changes nothing; the boilerplate run
 * is looked for by its title before it is dispatched; the first build's door key is the name.
 */
import {
  BOILERPLATE_WORKFLOW,
  boilerplateRunTitle,
  buildStream,
  decideOnboarding,
  INFRA_WORKFLOW,
  isOnboardingFinished,
  onboardingActionStep,
  nextOnboardingActions,
  ONBOARDING_REPOS,
  onboardingBranch,
  onboardingChange,
  OnboardingRefusedError,
  serviceStream,
  type OnboardingAction,
  type OnboardingCommand,
  type OnboardingState,
  type PullRequestStep,
} from '@flotilla/events';
import {
  closeCreation,
  decideAndAppendTo,
  forEachLimited,
  GitHubError,
  loadAggregate,
  loadBuild,
  onboardingAggregate,
  openCreations,
  requestBuild,
  routeSha,
  type GitHubPort,
  type Logger,
  type PullRequestInfo,
} from '@flotilla/platform';
import type { OrchestratorDeps } from '../deps.ts';
import { startPeriodic } from '../periodic.ts';

/** Creations driven at once in a pass: one waiting out a GitHub rate limit does not hold up the rest. */
const CREATIONS_AT_ONCE = 4;
/** Steps one creation may take in one pass before the others get their turn. */
const STEPS_PER_PASS = 12;

/** Decides `command` on the creation's stream and appends what it decides (nothing for a repeat or a stale observation). */
export function decideOnService(deps: Pick<OrchestratorDeps, 'store'>, name: string, command: OnboardingCommand, causationId: string, now = Date.now()) {
  return decideAndAppendTo(deps.store, serviceStream(name), onboardingAggregate, (state) => decideOnboarding(state, command, { correlationId: name, causationId, now }));
}

/** What GitHub's answer about a pull request tells the creation. */
const observed = (pr: PullRequestInfo): OnboardingCommand => ({ kind: 'pull-request', observed: { repo: pr.repo, number: pr.number, state: pr.state, merged: pr.merged, mergedSha: pr.mergedSha } });

/**
 * Carries out one action and returns the observation it makes, or undefined when there is nothing
 * to report yet (a poll that found GitHub still busy). A GitHub refusal (4xx) is returned as the
 * reason the creation cannot go on; a transient error is thrown, for the next pass to try again.
 */
async function carryOut(deps: OrchestratorDeps, github: GitHubPort, state: OnboardingState, action: OnboardingAction): Promise<OnboardingCommand[]> {
  const name = state.request?.name ?? '';
  const pullRequestOf = (step: PullRequestStep) => {
    const pr = state.pullRequests[step].pullRequest;
    if (!pr) throw new Error(`${action.kind}: the ${step} pull request was never raised`);
    return pr;
  };
  switch (action.kind) {
    case 'raise': {
      if (!state.request) throw new Error(`raise (${action.step}): the creation has no request`);
      // The branch gets the change's files before the pull request is opened from it (GitHub opens none for a branch that does not exist).
      const change = onboardingChange(state.request, action.step, github.owner);
      const pr = await github.openPullRequest({ repo: ONBOARDING_REPOS[action.step], branch: onboardingBranch(name), base: 'main', ...change });
      return [{ kind: 'raised', step: action.step, pullRequest: { repo: pr.repo, number: pr.number, nodeId: pr.nodeId, url: pr.url, ref: pr.ref, sha: pr.headSha } }];
    }
    case 'enable-auto-merge':
      // Merged directly when GitHub could merge it at once: the merge itself comes as a webhook or a poll.
      await github.enableAutoMerge(pullRequestOf(action.step));
      return [{ kind: 'auto-merge-enabled', step: action.step }];
    case 'poll-pull-request': {
      const pr = await github.getPullRequest(ONBOARDING_REPOS[action.step], pullRequestOf(action.step).number);
      return [observed(pr)];
    }
    case 'poll-infra-run': {
      const sha = state.pullRequests.infra.mergedSha ?? '';
      const runs = await github.workflowRunsForSha(ONBOARDING_REPOS.infra, sha);
      return runs.filter((run) => run.workflow === INFRA_WORKFLOW).map((run) => ({ kind: 'workflow-run', observed: { ...run, runId: run.id } }));
    }
    case 'dispatch-boilerplate': {
      // A run dispatched by an earlier pass that died before recording it is found, not dispatched again.
      const earlier = (await github.workflowRuns(ONBOARDING_REPOS.boilerplate, BOILERPLATE_WORKFLOW, { event: 'workflow_dispatch' })).find((run) => run.displayTitle === boilerplateRunTitle(name));
      const run = earlier
        ? { runId: earlier.id, url: earlier.url }
        : await github.dispatchWorkflow({ repo: ONBOARDING_REPOS.boilerplate, workflow: BOILERPLATE_WORKFLOW, ref: 'main', inputs: { service: name, team: state.request?.team ?? '', template: state.request?.template ?? '' } });
      return [{ kind: 'dispatched', runId: run.runId, url: run.url }];
    }
    case 'poll-boilerplate-run': {
      const run = await github.getWorkflowRun(ONBOARDING_REPOS.boilerplate, state.boilerplateRun?.runId ?? 0);
      return [{ kind: 'workflow-run', observed: { ...run, runId: run.id } }];
    }
    case 'request-build': {
      const request = state.request;
      const commit = state.boilerplateRun?.headSha;
      if (!request || !commit) throw new Error('request-build: no boilerplate run to build from');
      const { buildId } = await requestBuild(deps, {
        door: 'onboarding',
        key: name,
        request: { repo: name, env: request.environments[0] ?? 'dev', version: '0.1.0', branch: 'main', commit, regions: deps.defaults.regions, hostsPerRegion: deps.defaults.hostsPerRegion },
      });
      return [{ kind: 'build-requested', buildId }];
    }
    case 'observe-build': {
      const buildId = state.build?.buildId ?? '';
      const { state: build } = await loadBuild(deps.store, buildStream(buildId));
      if (build.status !== 'SUCCESS' && build.status !== 'FAILED') return [];
      return [{ kind: 'build-finished', buildId, status: build.status, ...(build.status === 'FAILED' && build.failure ? { reason: build.failure.reason } : {}) }];
    }
    case 'close': {
      // One that GitHub merged meanwhile is recorded merged, not closed.
      const pr = await github.getPullRequest(ONBOARDING_REPOS[action.step], pullRequestOf(action.step).number);
      if (pr.merged) return [observed(pr)];
      await github.closePullRequest(pr.repo, pr.number, `Closed by Flotilla: the onboarding of \`${name}\` failed. ${state.failure?.reason ?? ''}`.trim());
      return [{ kind: 'closed-by-onboarding', step: action.step }];
    }
    default: {
      const _never: never = action;
      return _never;
    }
  }
}

/**
 * What this process has already done for each creation: the polls it made (a poll is repeated at
 * most once an interval) and the sha routes it wrote (written once, not at every pass).
 */
class PollClock {
  readonly #last = new Map<string, number>();

  /** True the first time `what` is asked for `name` in this process (again after a restart: each use is idempotent). */
  first(name: string, what: string): boolean {
    const key = `${name}:${what}`;
    if (this.#last.has(key)) return false;
    this.#last.set(key, 0);
    return true;
  }

  due(name: string, action: OnboardingAction, now: number, intervalMs: number): boolean {
    if (!action.kind.startsWith('poll-')) return true;
    const key = `${name}:${action.kind}:${'step' in action ? action.step : ''}`;
    const last = this.#last.get(key);
    if (last !== undefined && now - last < intervalMs) return false;
    this.#last.set(key, now);
    return true;
  }

  forget(name: string): void {
    for (const key of this.#last.keys()) if (key.startsWith(`${name}:`)) this.#last.delete(key);
  }
}

export interface OnboardingDriverOptions {
  /** A wait longer than this polls GitHub for what it waits on. */
  pollAfterMs: number;
}

/**
 * Drives one creation as far as it can go now: plan, act, record, again, until it waits on GitHub
 * or the pipeline. Returns its state as last read.
 */
export async function driveCreation(deps: OrchestratorDeps, github: GitHubPort, name: string, options: OnboardingDriverOptions, clock = new PollClock(), logger: Logger = deps.logger): Promise<OnboardingState> {
  const stream = serviceStream(name);
  let { state } = await loadAggregate(deps.store, stream, onboardingAggregate);
  for (let step = 0; step < STEPS_PER_PASS && state.status !== null; step++) {
    if (isOnboardingFinished(state)) {
      await closeCreation(deps.inFlight, name);
      clock.forget(name);
      logger.info({ service: name, status: state.status }, 'service creation finished');
      return state;
    }
    // An infra run's webhook names only its sha: tie the merged sha to this creation before waiting on the run.
    const mergedSha = state.pullRequests.infra.mergedSha;
    if (mergedSha && !state.infraRun && clock.first(name, `route:${mergedSha}`)) await routeSha(deps.inFlight, ONBOARDING_REPOS.infra, mergedSha, name);
    const now = Date.now();
    const plan = nextOnboardingActions(state, { now, pollAfterMs: options.pollAfterMs });
    const due = plan.actions.filter((action) => clock.due(name, action, now, options.pollAfterMs));
    if (due.length === 0) return state;
    let moved = false;
    for (const action of due) {
      let observations: OnboardingCommand[];
      try {
        observations = await carryOut(deps, github, state, action);
      } catch (error) {
        if (!(error instanceof GitHubError) || error.retryable) throw error;
        // GitHub refused (a 4xx that is not a rate limit): the creation cannot go on as asked.
        const step = onboardingActionStep(action);
        observations = [{ kind: 'refused', step, reason: `GitHub refused ${action.kind} (${step}): ${error.message}` }];
      }
      for (const observation of observations) {
        const { appended } = await decideOnService(deps, name, observation, `onboarding:${action.kind}`);
        moved ||= appended.length > 0;
        if (appended.length > 0) logger.info({ service: name, action: action.kind, appended: appended.map((e) => e.type) }, 'service creation moved on');
      }
    }
    if (!moved) return state;
    ({ state } = await loadAggregate(deps.store, stream, onboardingAggregate));
  }
  return state;
}

/** One pass over every open creation; one that fails is logged and the rest go on. */
export async function driveCreations(deps: OrchestratorDeps, github: GitHubPort, options: OnboardingDriverOptions, clock = new PollClock()): Promise<void> {
  await forEachLimited(await openCreations(deps.inFlight), CREATIONS_AT_ONCE, async (name) => {
    try {
      await driveCreation(deps, github, name, options, clock);
    } catch (error) {
      if (error instanceof OnboardingRefusedError) return;
      deps.logger.warn({ err: error, service: name }, 'driving a service creation failed; the next pass tries again');
    }
  });
}

/** Drives now and `intervalMs` after each pass; wake() runs a pass now (the relay calls it when a creation's stream changed). */
export function startOnboardingDriver(deps: OrchestratorDeps, github: GitHubPort, intervalMs: number, options: OnboardingDriverOptions) {
  const clock = new PollClock();
  return startPeriodic('onboarding-driver', intervalMs, () => driveCreations(deps, github, options, clock), deps.logger);
}
