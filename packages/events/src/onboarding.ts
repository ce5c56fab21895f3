/**
 * The onboarding aggregate (seed 003): creating a new service. One stream per service name
 * (`service-<name>`), so the name is unique by construction: a second creation of a name finds the
 * first. The steps run in a fixed order across several GitHub repositories, and most wait on GitHub:
 *
 *   1. the request is validated (name, team, template)
 *   2. infra pull request raised (OIDC list, tenant entries per environment), auto-merge on
 *   3. app-config and proxy-upstreams pull requests raised, without auto-merge
 *   4. wait: infra merged (its new `mergedSha` recorded, tied to the pull request)
 *   5. wait: the infra workflow run on main for `mergedSha` completed; a failure stops everything
 *      and the creation's open pull requests are closed with a comment
 *   6. service-definition pull request raised, then auto-merge on for it, app-config and proxy-upstreams
 *   7. the boilerplate workflow dispatched (the repository from its template); wait for its run
 *   8. the service's first build requested (`build.requested` into the pipeline)
 *   9. created, once that build succeeded and every pull request merged
 *
 * GitHub's answers and webhooks arrive as observations (late, twice, out of order, or never: a
 * creation that waits too long polls). `decideOnboarding` turns an observation into facts only when
 * it moves a step forward, so a repeat or a stale one decides nothing and no status moves backwards.
 * `nextOnboardingActions` says what the orchestrator should do next; it carries the effects out and
 * reports each result back as an observation. Everything here is pure.
 */
import { z } from 'zod';
import type { EventEnvelope, PendingEvent } from './envelope.ts';
import { newEvent, type EventData, type OnboardingEvent } from './registry.ts';
import type { EventDefinition } from './registry-types.ts';
import { envSchema, commitSchema } from './build.ts';

/** Lowercase, a letter first, 3-40 characters: a repository, a DNS label and a stream name at once. */
export const serviceNameSchema = z.string().regex(/^[a-z][a-z0-9-]{1,38}[a-z0-9]$/, '3-40 characters of a-z 0-9 -, starting with a letter and not ending with -');
export const teamSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, '1-40 characters of a-z 0-9 -');
/** The templates the boilerplate workflow can create a repository from. */
export const SERVICE_TEMPLATES = ['node-service', 'go-service', 'python-service'] as const;
export const DEFAULT_ENVIRONMENTS = ['dev', 'staging', 'prod'];
/** How long a creation may wait on one step before it is reported stuck, unless configured. */
export const DEFAULT_STEP_DEADLINE_MS = 30 * 60_000;

/** The service name `text` carries after `prefix`, or undefined when it carries none. */
const nameAfter =
  (prefix: string) =>
  (text: string | undefined): string | undefined => {
    if (!text?.startsWith(prefix)) return undefined;
    const name = text.slice(prefix.length);
    return serviceNameSchema.safeParse(name).success ? name : undefined;
  };

const SERVICE_STREAM_PREFIX = 'service-';
export const serviceStream = (name: string): string => `${SERVICE_STREAM_PREFIX}${name}`;
export const serviceNameOfStream: (stream: string) => string | undefined = nameAfter(SERVICE_STREAM_PREFIX);

/** The pull requests a creation raises, in the order it raises them, and the repository of each. */
export const PULL_REQUEST_STEPS = ['infra', 'app-config', 'proxy-upstreams', 'service-definition'] as const;
export type PullRequestStep = (typeof PULL_REQUEST_STEPS)[number];
export const ONBOARDING_REPOS: Readonly<Record<PullRequestStep | 'boilerplate', string>> = {
  infra: 'infra',
  'app-config': 'app-config',
  'proxy-upstreams': 'proxy-upstreams',
  'service-definition': 'service-definitions',
  boilerplate: 'boilerplate',
};
/** The infra repository's workflow that runs on every push to main (applies the merged change). */
export const INFRA_WORKFLOW = 'apply.yml';
/** The boilerplate repository's workflow_dispatch workflow; its run-name is `boilerplate ${{ inputs.service }}`. */
export const BOILERPLATE_WORKFLOW = 'create-service.yml';
export const boilerplateRunTitle = (name: string): string => `boilerplate ${name}`;

/** Each creation's branch, in every repository: a pull request's head names its service. */
const BRANCH_PREFIX = 'onboard/';
export const onboardingBranch = (name: string): string => `${BRANCH_PREFIX}${name}`;
export const serviceNameOfBranch: (ref: string) => string | undefined = nameAfter(BRANCH_PREFIX);

const uniqueList = (list: readonly string[]) => new Set(list).size === list.length;

/** What a caller asks for (POST /services, or the SNS form). */
export const serviceRequestSchema = z
  .object({
    name: serviceNameSchema,
    team: teamSchema,
    template: z.enum(SERVICE_TEMPLATES, { error: () => `must be one of: ${SERVICE_TEMPLATES.join(', ')}` }),
    /** The environments the infra pull request adds tenant entries for; the first build deploys to the first. */
    environments: z.array(envSchema).min(1).max(10).refine(uniqueList, 'environments must be unique').default(DEFAULT_ENVIRONMENTS),
  })
  .strict();
export type ServiceRequest = z.infer<typeof serviceRequestSchema>;
export type ServiceRequestInput = z.input<typeof serviceRequestSchema>;

/** One file a pull request adds or changes, as it should read on the branch. */
export interface ChangedFile {
  path: string;
  content: string;
}

/** What a creation's pull request on one repository changes: its title, its description, its files. */
export interface OnboardingChange {
  title: string;
  body: string;
  files: ChangedFile[];
}

const yaml = (fields: Record<string, string | readonly string[]>): string =>
  `${Object.entries(fields)
    .map(([key, value]) => (typeof value === 'string' ? `${key}: ${value}` : `${key}:\n${value.map((v) => `  - ${v}`).join('\n')}`))
    .join('\n')}\n`;

/**
 * The change each pull request makes for `request`, one file per entry, so that a repeat writes the
 * same bytes (committing them again changes nothing): infra trusts the service's OIDC subject (its
 * repository's main branch in `owner`) and adds a tenant per environment; app-config adds the
 * service's config per environment; proxy-upstreams its upstream; service-definitions the
 * service's definition.
 */
export function onboardingChange(request: Pick<EventData<'service.requested'>, 'name' | 'team' | 'template' | 'environments'>, step: PullRequestStep, owner: string): OnboardingChange {
  const { name, team, template, environments } = request;
  const files: Record<PullRequestStep, ChangedFile[]> = {
    infra: [
      { path: `oidc/trusted/${name}.yaml`, content: yaml({ service: name, team, subject: `repo:${owner}/${name}:ref:refs/heads/main` }) },
      ...environments.map((env) => ({ path: `tenants/${env}/${name}.yaml`, content: yaml({ tenant: name, team, environment: env }) })),
    ],
    'app-config': environments.map((env) => ({ path: `services/${name}/${env}.yaml`, content: yaml({ service: name, environment: env, replicas: '1' }) })),
    'proxy-upstreams': [{ path: `upstreams/${name}.yaml`, content: yaml({ upstream: name, environments }) }],
    'service-definition': [{ path: `services/${name}.yaml`, content: yaml({ name, team, template, environments }) }],
  };
  const changed = files[step];
  return {
    title: `Onboard ${name}: ${step}`,
    body: [`Onboarding of the service \`${name}\` (team ${team}, template ${template}), step ${step}, raised by Flotilla.`, '', ...changed.map((f) => `- \`${f.path}\``)].join('\n'),
    files: changed,
  };
}


const pullRequestSchema = z.object({
  repo: z.string().min(1),
  number: z.number().int().min(1),
  nodeId: z.string().min(1),
  url: z.string().min(1),
  ref: z.string().min(1),
  /** The head sha when raised; merging makes a new one (`mergedSha`). */
  sha: z.string().min(1),
});
export type RaisedPullRequest = z.infer<typeof pullRequestSchema>;

const workflowRunSchema = z.object({
  repo: z.string().min(1),
  workflow: z.string().min(1),
  runId: z.number().int().min(1),
  url: z.string().min(1),
});

const prStep = z.enum(PULL_REQUEST_STEPS);
const runStep = z.enum(['infra', 'boilerplate']);
const conclusionSchema = z.string().min(1);

export const onboardingEvents = {
  'service.requested': {
    schemaVersion: 1,
    schema: z.object({ name: serviceNameSchema, team: teamSchema, template: z.string().min(1), environments: z.array(envSchema).min(1), stepDeadlineMs: z.number().int().min(1) }),
  },
  'pull_request.raised': { schemaVersion: 1, schema: pullRequestSchema.extend({ step: prStep }) },
  'pull_request.auto_merge_enabled': { schemaVersion: 1, schema: z.object({ step: prStep, number: z.number().int().min(1) }) },
  /** Merged: the change's new head on main is `mergedSha`, tied back to the pull request by `number`. */
  'pull_request.merged': { schemaVersion: 1, schema: z.object({ step: prStep, number: z.number().int().min(1), mergedSha: commitSchema }) },
  'pull_request.closed': { schemaVersion: 1, schema: z.object({ step: prStep, number: z.number().int().min(1), reason: z.string().min(1) }) },
  'workflow_run.dispatched': { schemaVersion: 1, schema: workflowRunSchema.extend({ step: z.literal('boilerplate') }) },
  'workflow_run.completed': { schemaVersion: 1, schema: workflowRunSchema.extend({ step: runStep, headSha: z.string().min(1), conclusion: conclusionSchema }) },
  'service.build_requested': { schemaVersion: 1, schema: z.object({ buildId: z.string().min(1) }) },
  'service.build_finished': { schemaVersion: 1, schema: z.object({ buildId: z.string().min(1), status: z.enum(['SUCCESS', 'FAILED']), reason: z.string().optional() }) },
  'service.created': { schemaVersion: 1, schema: z.object({ buildId: z.string().min(1) }) },
  'service.onboarding_failed': { schemaVersion: 1, schema: z.object({ step: z.string().min(1), reason: z.string().min(1) }) },
} as const satisfies Record<string, EventDefinition>;

export type OnboardingStatus = 'IN_PROGRESS' | 'CREATED' | 'FAILED';

/** A step's status; it only ever moves right (a late or repeated fact never moves it back). */
export const STEP_STATUSES = ['not-requested', 'raised', 'merged', 'workflow_completed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
const rank = (status: StepStatus) => STEP_STATUSES.indexOf(status);
const forward = (from: StepStatus, to: StepStatus): StepStatus => (rank(to) > rank(from) ? to : from);

export interface PullRequestState {
  status: StepStatus;
  pullRequest?: RaisedPullRequest;
  autoMerge: boolean;
  mergedSha?: string;
  closed?: string;
}

export interface RunState {
  runId: number;
  workflow: string;
  url: string;
  headSha?: string;
  conclusion?: string;
}

export interface OnboardingState {
  status: OnboardingStatus | null;
  request?: EventData<'service.requested'>;
  requestedAt?: string;
  pullRequests: Record<PullRequestStep, PullRequestState>;
  infraRun?: RunState;
  boilerplateRun?: RunState;
  build?: { buildId: string; status?: 'SUCCESS' | 'FAILED'; reason?: string };
  failure?: { step: string; reason: string };
  endedAt?: string;
  /** When the latest fact was appended: what the creation waits on now, it has waited on since then. */
  lastEventAt?: string;
  lastVersion: number;
}

const notRequested = (): PullRequestState => ({ status: 'not-requested', autoMerge: false });
export const initialOnboardingState: OnboardingState = Object.freeze({
  status: null,
  pullRequests: Object.freeze(Object.fromEntries(PULL_REQUEST_STEPS.map((s) => [s, Object.freeze(notRequested())])) as Record<PullRequestStep, PullRequestState>),
  lastVersion: 0,
});

export const isOnboardingEnded = (status: OnboardingStatus | null): boolean => status === 'CREATED' || status === 'FAILED';

function withPullRequest(state: OnboardingState, step: PullRequestStep, change: (pr: PullRequestState) => PullRequestState): Record<PullRequestStep, PullRequestState> {
  return { ...state.pullRequests, [step]: change(state.pullRequests[step]) };
}

export function evolveOnboarding(state: OnboardingState, event: OnboardingEvent): OnboardingState {
  const next: OnboardingState = { ...state, lastVersion: Math.max(state.lastVersion, event.version), lastEventAt: event.occurredAt };
  switch (event.type) {
    case 'service.requested':
      return { ...next, status: 'IN_PROGRESS', request: event.data, requestedAt: event.occurredAt };
    case 'pull_request.raised': {
      const { step, ...pullRequest } = event.data;
      return { ...next, pullRequests: withPullRequest(state, step, (pr) => ({ ...pr, status: forward(pr.status, 'raised'), pullRequest: pr.pullRequest ?? pullRequest })) };
    }
    case 'pull_request.auto_merge_enabled':
      return { ...next, pullRequests: withPullRequest(state, event.data.step, (pr) => ({ ...pr, autoMerge: true })) };
    case 'pull_request.merged':
      return { ...next, pullRequests: withPullRequest(state, event.data.step, (pr) => ({ ...pr, status: forward(pr.status, 'merged'), mergedSha: pr.mergedSha ?? event.data.mergedSha })) };
    case 'pull_request.closed':
      return { ...next, pullRequests: withPullRequest(state, event.data.step, (pr) => ({ ...pr, closed: pr.closed ?? event.data.reason })) };
    case 'workflow_run.dispatched':
      return { ...next, boilerplateRun: state.boilerplateRun ?? { runId: event.data.runId, workflow: event.data.workflow, url: event.data.url } };
    case 'workflow_run.completed': {
      const { step, runId, workflow, url, headSha, conclusion } = event.data;
      const run: RunState = { runId, workflow, url, headSha, conclusion };
      if (step === 'boilerplate') return { ...next, boilerplateRun: state.boilerplateRun?.conclusion ? state.boilerplateRun : run };
      return {
        ...next,
        infraRun: state.infraRun ?? run,
        pullRequests: withPullRequest(state, 'infra', (pr) => ({ ...pr, status: forward(pr.status, 'workflow_completed') })),
      };
    }
    case 'service.build_requested':
      return { ...next, build: state.build ?? { buildId: event.data.buildId } };
    case 'service.build_finished': {
      const { buildId, status, reason } = event.data;
      return { ...next, build: { buildId, status, ...(reason ? { reason } : {}) } };
    }
    // A creation ends once: a later ending is kept in the log and changes nothing.
    case 'service.created':
      return isOnboardingEnded(state.status) ? next : { ...next, status: 'CREATED', endedAt: event.occurredAt };
    case 'service.onboarding_failed':
      return isOnboardingEnded(state.status) ? next : { ...next, status: 'FAILED', failure: event.data, endedAt: event.occurredAt };
    default: {
      const _never: never = event;
      void _never;
      return next;
    }
  }
}

export const foldOnboarding = (events: readonly OnboardingEvent[], from: OnboardingState = initialOnboardingState): OnboardingState => events.reduce(evolveOnboarding, from);

/** What GitHub says about a pull request (a webhook, or an answer to a poll). */
export interface PullRequestObservation {
  repo: string;
  number: number;
  state: 'open' | 'closed';
  merged: boolean;
  mergedSha: string | null;
  /** Set when GitHub turned auto-merge off because it could not merge (a conflict, a failed check). */
  autoMergeRefused?: string;
}

/** What GitHub says about a workflow run. */
export interface WorkflowRunObservation {
  repo: string;
  runId: number;
  workflow: string;
  headSha: string;
  status: string;
  conclusion: string | null;
  url: string;
}

export type OnboardingCommand =
  | { kind: 'request'; request: ServiceRequest; stepDeadlineMs: number }
  | { kind: 'raised'; step: PullRequestStep; pullRequest: RaisedPullRequest }
  | { kind: 'auto-merge-enabled'; step: PullRequestStep }
  | { kind: 'pull-request'; observed: PullRequestObservation }
  | { kind: 'closed-by-onboarding'; step: PullRequestStep }
  | { kind: 'dispatched'; runId: number; url: string }
  | { kind: 'workflow-run'; observed: WorkflowRunObservation }
  | { kind: 'build-requested'; buildId: string }
  | { kind: 'build-finished'; buildId: string; status: 'SUCCESS' | 'FAILED'; reason?: string }
  /** GitHub refused an action outright (a 4xx that no retry changes): the creation cannot go on. */
  | { kind: 'refused'; step: string; reason: string };

export interface OnboardingMeta {
  correlationId: string;
  causationId: string;
  now: number;
}

/** A command that cannot apply at all (not a repeat, which decides nothing). */
export class OnboardingRefusedError extends Error {
  override name = 'OnboardingRefusedError';
  readonly code: 'not-found' | 'exists';

  constructor(code: OnboardingRefusedError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** The step whose pull request this is, if the creation raised it. */
function stepOf(state: OnboardingState, repo: string, number: number): PullRequestStep | undefined {
  return PULL_REQUEST_STEPS.find((s) => state.pullRequests[s].pullRequest?.repo === repo && state.pullRequests[s].pullRequest?.number === number);
}

const isMerged = (pr: PullRequestState) => rank(pr.status) >= rank('merged');
const succeeded = (run: RunState | undefined) => run?.conclusion === 'success';

/** Everything done: every pull request merged, both workflow runs succeeded, the first build succeeded. */
function isComplete(state: OnboardingState): boolean {
  return PULL_REQUEST_STEPS.every((s) => isMerged(state.pullRequests[s])) && succeeded(state.infraRun) && succeeded(state.boilerplateRun) && state.build?.status === 'SUCCESS';
}

/**
 * The creation's decider: an observation becomes facts only when it moves a step forward. Facts are
 * recorded even after the creation ended (a pull request raised while it failed must still be
 * closed); the status changes once. After the facts, the ending they bring (a failed run or build,
 * a pull request closed or refused) or completion is decided in the same append.
 */
export function decideOnboarding(state: OnboardingState, command: OnboardingCommand, meta: OnboardingMeta): PendingEvent[] {
  const event = <T extends OnboardingEvent['type']>(type: T, data: EventData<T>) => newEvent({ type, data, ...meta });
  if (command.kind === 'request') {
    if (state.status !== null) throw new OnboardingRefusedError('exists', `service ${state.request?.name ?? command.request.name} is already being created or exists`);
    return [event('service.requested', { ...command.request, stepDeadlineMs: command.stepDeadlineMs })];
  }
  if (state.status === null) throw new OnboardingRefusedError('not-found', 'no such service creation');
  const facts: PendingEvent[] = [];
  let failure: { step: string; reason: string } | undefined;
  switch (command.kind) {
    case 'raised': {
      if (state.pullRequests[command.step].pullRequest) break;
      facts.push(event('pull_request.raised', { step: command.step, ...command.pullRequest }));
      break;
    }
    case 'auto-merge-enabled': {
      const pr = state.pullRequests[command.step];
      if (!pr.pullRequest || pr.autoMerge || isMerged(pr)) break;
      facts.push(event('pull_request.auto_merge_enabled', { step: command.step, number: pr.pullRequest.number }));
      break;
    }
    case 'pull-request': {
      const { observed } = command;
      const step = stepOf(state, observed.repo, observed.number);
      if (!step) break;
      const pr = state.pullRequests[step];
      if (observed.merged && observed.mergedSha && !isMerged(pr)) {
        facts.push(event('pull_request.merged', { step, number: observed.number, mergedSha: observed.mergedSha }));
      } else if (!observed.merged && observed.state === 'closed' && !pr.closed && !isMerged(pr)) {
        facts.push(event('pull_request.closed', { step, number: observed.number, reason: 'closed without being merged' }));
        failure = { step, reason: `the ${step} pull request #${observed.number} was closed without being merged` };
      } else if (observed.autoMergeRefused && observed.state === 'open' && !isMerged(pr)) {
        failure = { step, reason: `GitHub could not merge the ${step} pull request #${observed.number}: ${observed.autoMergeRefused}` };
      }
      break;
    }
    case 'closed-by-onboarding': {
      const pr = state.pullRequests[command.step];
      if (!pr.pullRequest || pr.closed || isMerged(pr)) break;
      facts.push(event('pull_request.closed', { step: command.step, number: pr.pullRequest.number, reason: `closed by onboarding: ${state.failure?.reason ?? 'the creation failed'}` }));
      break;
    }
    case 'dispatched': {
      if (state.boilerplateRun) break;
      facts.push(event('workflow_run.dispatched', { step: 'boilerplate', repo: ONBOARDING_REPOS.boilerplate, workflow: BOILERPLATE_WORKFLOW, runId: command.runId, url: command.url }));
      break;
    }
    case 'workflow-run': {
      const { observed } = command;
      if (observed.status !== 'completed' || observed.conclusion === null) break;
      const step = runStepOf(state, observed);
      if (!step) break;
      const { repo, workflow, runId, url, headSha, conclusion } = observed;
      facts.push(event('workflow_run.completed', { step, repo, workflow, runId, url, headSha, conclusion }));
      if (conclusion !== 'success') failure = { step, reason: `the ${step} workflow run ${runId} (${workflow} on ${headSha.slice(0, 7)}) concluded ${conclusion}: ${url}` };
      break;
    }
    case 'build-requested': {
      if (state.build) break;
      facts.push(event('service.build_requested', { buildId: command.buildId }));
      break;
    }
    case 'refused':
      failure = { step: command.step, reason: command.reason };
      break;
    case 'build-finished': {
      if (state.build?.buildId !== command.buildId || state.build.status) break;
      facts.push(event('service.build_finished', { buildId: command.buildId, status: command.status, ...(command.reason ? { reason: command.reason } : {}) }));
      if (command.status === 'FAILED') failure = { step: 'first-build', reason: `the first build ${command.buildId} failed: ${command.reason ?? 'no reason given'}` };
      break;
    }
    default: {
      const _never: never = command;
      return _never;
    }
  }
  if (isOnboardingEnded(state.status)) return facts;
  if (failure) return [...facts, event('service.onboarding_failed', failure)];
  const after = foldPending(state, facts);
  return isComplete(after) && after.build ? [...facts, event('service.created', { buildId: after.build.buildId })] : facts;
}

/** Which run step an observed run is: infra's run on main for the merged sha, or the dispatched boilerplate run; undefined when neither, or already recorded. */
function runStepOf(state: OnboardingState, run: WorkflowRunObservation): 'infra' | 'boilerplate' | undefined {
  const infra = state.pullRequests.infra;
  if (run.repo === ONBOARDING_REPOS.infra && run.workflow === INFRA_WORKFLOW && infra.mergedSha === run.headSha && !state.infraRun) return 'infra';
  if (run.repo === ONBOARDING_REPOS.boilerplate && state.boilerplateRun?.runId === run.runId && !state.boilerplateRun.conclusion) return 'boilerplate';
  return undefined;
}

/** Folds events just decided (not yet stored) onto the state, at the versions they would get. */
function foldPending(state: OnboardingState, events: readonly PendingEvent[]): OnboardingState {
  return events.reduce(
    (s, e, i) => evolveOnboarding(s, { ...e, stream: serviceStream(state.request?.name ?? ''), version: state.lastVersion + i + 1 } as EventEnvelope as OnboardingEvent),
    state,
  );
}

/** What the orchestrator does next for a creation; each result comes back as a command. */
export type OnboardingAction =
  | { kind: 'raise'; step: PullRequestStep }
  | { kind: 'enable-auto-merge'; step: PullRequestStep }
  | { kind: 'poll-pull-request'; step: PullRequestStep }
  | { kind: 'poll-infra-run' }
  | { kind: 'dispatch-boilerplate' }
  | { kind: 'poll-boilerplate-run' }
  | { kind: 'request-build' }
  | { kind: 'observe-build' }
  | { kind: 'close'; step: PullRequestStep };

/** The step an action serves: what a refusal of it fails. */
export function onboardingActionStep(action: OnboardingAction): string {
  if ('step' in action) return action.step;
  switch (action.kind) {
    case 'poll-infra-run':
      return 'infra';
    case 'dispatch-boilerplate':
    case 'poll-boilerplate-run':
      return 'boilerplate';
    default:
      return 'first-build';
  }
}

/** What a creation waits on, since when: what a stuck creation is reported with. */
export interface OnboardingWait {
  step: string;
  waitingFor: string;
  since: string;
}

interface Plan {
  actions: OnboardingAction[];
  wait?: OnboardingWait;
}

/**
 * The next actions in the fixed order, and what the creation then waits on. `pollDue`: the wait
 * has lasted past the configured interval, so GitHub is asked for the state a webhook should have
 * brought (a webhook may never arrive).
 */
export function nextOnboardingActions(state: OnboardingState, options: { now: number; pollAfterMs: number }): Plan {
  if (state.status === null || !state.request) return { actions: [] };
  const prs = state.pullRequests;
  if (state.status === 'FAILED') {
    return { actions: PULL_REQUEST_STEPS.filter((s) => prs[s].pullRequest && !prs[s].closed && !isMerged(prs[s])).map((step) => ({ kind: 'close', step })) };
  }
  if (state.status === 'CREATED') return { actions: [] };
  const since = state.lastEventAt ?? state.requestedAt ?? new Date(options.now).toISOString();
  const pollDue = options.now - Date.parse(since) >= options.pollAfterMs;
  const waiting = (step: string, waitingFor: string, poll: OnboardingAction[]): Plan => ({ actions: pollDue ? poll : [], wait: { step, waitingFor, since } });
  const raise = (...steps: PullRequestStep[]): OnboardingAction[] => steps.filter((s) => !prs[s].pullRequest).map((step) => ({ kind: 'raise', step }));
  const autoMerge = (...steps: PullRequestStep[]): OnboardingAction[] =>
    steps.filter((s) => prs[s].pullRequest && !prs[s].autoMerge && !isMerged(prs[s])).map((step) => ({ kind: 'enable-auto-merge', step }));

  // 2. infra, with auto-merge; 3. app-config and proxy-upstreams, without.
  const step2 = [...raise('infra'), ...autoMerge('infra')];
  if (step2.length > 0) return { actions: step2.slice(0, 1) };
  const step3 = raise('app-config', 'proxy-upstreams');
  if (step3.length > 0) return { actions: step3 };
  // 4. infra merged; 5. its workflow run on main for the merged sha.
  if (!isMerged(prs.infra)) return waiting('infra', `pull request #${prs.infra.pullRequest?.number ?? '?'} to be merged`, [{ kind: 'poll-pull-request', step: 'infra' }]);
  if (!state.infraRun) return waiting('infra', `the ${INFRA_WORKFLOW} run on main for ${prs.infra.mergedSha?.slice(0, 7) ?? '?'} to complete`, [{ kind: 'poll-infra-run' }]);
  // 6. service-definition raised, then auto-merge on for it and the two raised in step 3.
  const step6 = [...raise('service-definition'), ...autoMerge('service-definition', 'app-config', 'proxy-upstreams')];
  if (step6.length > 0) return { actions: step6.slice(0, 1) };
  // 7. the boilerplate run.
  if (!state.boilerplateRun) return { actions: [{ kind: 'dispatch-boilerplate' }] };
  if (!state.boilerplateRun.conclusion) return waiting('boilerplate', `the ${BOILERPLATE_WORKFLOW} run ${state.boilerplateRun.runId} to complete`, [{ kind: 'poll-boilerplate-run' }]);
  // 8. the first build; 9. created once it succeeded and every pull request merged.
  if (!state.build) return { actions: [{ kind: 'request-build' }] };
  if (!state.build.status) return { actions: [{ kind: 'observe-build' }], wait: { step: 'first-build', waitingFor: `build ${state.build.buildId} to finish`, since } };
  const unmerged = PULL_REQUEST_STEPS.filter((s) => !isMerged(prs[s]));
  const [first] = unmerged;
  if (first) return waiting(first, `pull request${unmerged.length > 1 ? 's' : ''} ${unmerged.map((s) => `${s} #${prs[s].pullRequest?.number ?? '?'}`).join(', ')} to be merged`, unmerged.map((step) => ({ kind: 'poll-pull-request', step })));
  return { actions: [] };
}

/** One step of the status document. */
const stepViewSchema = z.object({
  step: z.string(),
  status: z.enum(STEP_STATUSES),
  done: z.boolean(),
  pullRequest: z
    .object({ repo: z.string(), number: z.number().int(), sha: z.string(), ref: z.string(), url: z.string(), nodeId: z.string(), mergedSha: z.string().optional(), autoMerge: z.boolean(), closed: z.string().optional() })
    .optional(),
  workflowRun: z.object({ repo: z.string(), workflow: z.string(), runId: z.number().int(), url: z.string(), headSha: z.string().optional(), conclusion: z.string().optional() }).optional(),
  build: z.object({ buildId: z.string(), status: z.enum(['SUCCESS', 'FAILED']).optional(), reason: z.string().optional() }).optional(),
});

/**
 * What `GET /services/:name` answers: the creation's status document, folded from its stream. Each
 * step has the original's status (not-requested, raised, merged, workflow_completed; the boilerplate
 * run reads raised once dispatched, the first build raised once requested and workflow_completed
 * once it succeeded) and its pull request, workflow run or build. `waitingOn` names what it waits
 * for and since when; `stuck` when that is past the creation's step deadline.
 */
export const serviceViewSchema = z
  .object({
    name: z.string(),
    team: z.string(),
    template: z.string(),
    environments: z.array(z.string()),
    status: z.enum(['IN_PROGRESS', 'CREATED', 'FAILED']),
    requestedAt: z.iso.datetime(),
    steps: z.array(stepViewSchema),
    waitingOn: z.object({ step: z.string(), waitingFor: z.string(), since: z.iso.datetime(), deadline: z.iso.datetime(), stuck: z.boolean() }).optional(),
    reason: z.string().optional(),
    failedStep: z.string().optional(),
    endedAt: z.iso.datetime().optional(),
    lastVersion: z.number().int(),
  })
  .meta({ id: 'ServiceView' });
export type ServiceView = z.infer<typeof serviceViewSchema>;

/** The status document at `now`; undefined before `service.requested`. */
export function serviceView(state: OnboardingState, now: number): ServiceView | undefined {
  const { request } = state;
  if (state.status === null || !request) return undefined;
  const pullRequestStep = (step: PullRequestStep): z.infer<typeof stepViewSchema> => {
    const pr = state.pullRequests[step];
    const run = step === 'infra' ? state.infraRun : undefined;
    return {
      step,
      status: pr.status,
      done: step === 'infra' ? succeeded(run) : isMerged(pr),
      ...(pr.pullRequest
        ? { pullRequest: { ...pr.pullRequest, autoMerge: pr.autoMerge, ...(pr.mergedSha ? { mergedSha: pr.mergedSha } : {}), ...(pr.closed ? { closed: pr.closed } : {}) } }
        : {}),
      ...(run ? { workflowRun: { repo: ONBOARDING_REPOS.infra, ...run } } : {}),
    };
  };
  const boilerplate = state.boilerplateRun;
  const build = state.build;
  const plan = nextOnboardingActions(state, { now, pollAfterMs: Infinity });
  const wait = plan.wait && {
    ...plan.wait,
    deadline: new Date(Date.parse(plan.wait.since) + request.stepDeadlineMs).toISOString(),
    stuck: now > Date.parse(plan.wait.since) + request.stepDeadlineMs,
  };
  return {
    name: request.name,
    team: request.team,
    template: request.template,
    environments: request.environments,
    status: state.status,
    requestedAt: state.requestedAt ?? '',
    steps: [
      ...PULL_REQUEST_STEPS.map(pullRequestStep),
      {
        step: 'boilerplate',
        status: boilerplate?.conclusion ? 'workflow_completed' : boilerplate ? 'raised' : 'not-requested',
        done: succeeded(boilerplate),
        ...(boilerplate ? { workflowRun: { repo: ONBOARDING_REPOS.boilerplate, ...boilerplate } } : {}),
      },
      {
        step: 'first-build',
        status: build?.status === 'SUCCESS' ? 'workflow_completed' : build ? 'raised' : 'not-requested',
        done: build?.status === 'SUCCESS',
        ...(build ? { build } : {}),
      },
    ],
    ...(wait && !isOnboardingEnded(state.status) ? { waitingOn: wait } : {}),
    ...(state.failure ? { reason: state.failure.reason, failedStep: state.failure.step } : {}),
    ...(state.endedAt ? { endedAt: state.endedAt } : {}),
    lastVersion: state.lastVersion,
  };
}

/** A finished creation: ended, and (after a failure) every pull request it left open closed. */
export const isOnboardingFinished = (state: OnboardingState): boolean =>
  isOnboardingEnded(state.status) && nextOnboardingActions(state, { now: 0, pollAfterMs: Infinity }).actions.length === 0;

/** A creation asked for over SNS: `awslocal sns publish` of this to the intake topic. */
export const serviceRequestMessageSchema = serviceRequestSchema.extend({ type: z.literal('service.requested') });

const deliveryIdSchema = z.string().min(1).max(100);

/**
 * GitHub's webhooks as the build API forwards them to intake, cut to what onboarding reads: a pull
 * request closed or refused auto-merge, a workflow run completed. `deliveryId` is X-GitHub-Delivery
 * (the same on a redelivery); `service` is the creation it belongs to when the delivery names it
 * (a pull request's branch, the boilerplate run's title); an infra run names only its sha.
 */
export const githubDeliverySchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('github.pull_request'),
    deliveryId: deliveryIdSchema,
    action: z.string().min(1),
    service: serviceNameSchema,
    pullRequest: z.object({
      repo: z.string().min(1),
      number: z.number().int().min(1),
      state: z.enum(['open', 'closed']),
      merged: z.boolean(),
      mergedSha: z.string().nullable(),
      autoMergeRefused: z.string().optional(),
    }),
  }),
  z.object({
    type: z.literal('github.workflow_run'),
    deliveryId: deliveryIdSchema,
    action: z.string().min(1),
    service: serviceNameSchema.optional(),
    run: z.object({
      repo: z.string().min(1),
      runId: z.number().int().min(1),
      workflow: z.string().min(1),
      headSha: z.string().min(1),
      status: z.string().min(1),
      conclusion: z.string().nullable(),
      url: z.string(),
    }),
  }),
]);
export type GitHubDelivery = z.infer<typeof githubDeliverySchema>;

const repositorySchema = z.object({ name: z.string().min(1) });
const pullRequestPayloadSchema = z.object({
  action: z.string(),
  reason: z.string().optional(),
  repository: repositorySchema,
  pull_request: z.object({
    number: z.number().int().min(1),
    state: z.enum(['open', 'closed']),
    merged: z.boolean().nullable().optional(),
    merge_commit_sha: z.string().nullable().optional(),
    head: z.object({ ref: z.string() }),
  }),
});
const workflowRunPayloadSchema = z.object({
  action: z.string(),
  repository: repositorySchema,
  workflow_run: z.object({
    id: z.number().int().min(1),
    path: z.string(),
    display_title: z.string().optional(),
    head_sha: z.string().min(1),
    status: z.string().nullable(),
    conclusion: z.string().nullable(),
    html_url: z.string(),
  }),
});

/** The run's workflow file name from its path: `.github/workflows/apply.yml` (or `...@refs/heads/main`) -> `apply.yml`. */
export const workflowFileOf = (path: string): string => path.replace(/@.*$/, '').split('/').at(-1) ?? path;

/** The name in a boilerplate run's title (its run-name is `boilerplate <service>`). */
const serviceOfRunTitle = nameAfter(boilerplateRunTitle(''));

/**
 * The delivery onboarding acts on, or undefined for one it ignores (another event or action, a
 * branch no creation made). Throws (zod) when a relevant event's payload lacks a field it reads.
 */
export function githubDeliveryOf(event: string, deliveryId: string, payload: unknown): GitHubDelivery | undefined {
  if (event === 'pull_request') {
    const action = (payload as { action?: unknown } | null)?.action;
    if (action !== 'closed' && action !== 'auto_merge_disabled') return undefined;
    const p = pullRequestPayloadSchema.parse(payload);
    const service = serviceNameOfBranch(p.pull_request.head.ref);
    if (!service) return undefined;
    const merged = p.pull_request.merged === true;
    return {
      type: 'github.pull_request',
      deliveryId,
      action: p.action,
      service,
      pullRequest: {
        repo: p.repository.name,
        number: p.pull_request.number,
        state: p.pull_request.state,
        merged,
        mergedSha: merged ? (p.pull_request.merge_commit_sha ?? null) : null,
        ...(p.action === 'auto_merge_disabled' ? { autoMergeRefused: p.reason ?? 'auto-merge was disabled' } : {}),
      },
    };
  }
  if (event === 'workflow_run') {
    if ((payload as { action?: unknown } | null)?.action !== 'completed') return undefined;
    const p = workflowRunPayloadSchema.parse(payload);
    const run = p.workflow_run;
    const service = p.repository.name === ONBOARDING_REPOS.boilerplate ? serviceOfRunTitle(run.display_title) : undefined;
    return {
      type: 'github.workflow_run',
      deliveryId,
      action: p.action,
      ...(service ? { service } : {}),
      run: { repo: p.repository.name, runId: run.id, workflow: workflowFileOf(run.path), headSha: run.head_sha, status: run.status ?? 'completed', conclusion: run.conclusion, url: run.html_url },
    };
  }
  return undefined;
}
