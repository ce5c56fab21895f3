/**
 * Onboarding end to end: the fleet against a stack of its own, GitHub played by the local
 * simulator (packages/github-sim) with its default delays, its webhooks signed and sent to the
 * build API's POST /webhooks/github.
 *
 * - A creation asked for over SNS (the `awslocal sns publish` form): the simulator's request log
 *   and its own timestamped happenings show every step in order, none raised before the one it waits
 *   on completed; the first build reaches SUCCESS; every step of the status document reads done.
 * - Every webhook delivered twice and shuffled, and the infra merge's webhook dropped: the same
 *   final status, no pull request raised twice, no step's status ever moving backwards (the stream
 *   folded event by event), the dropped merge found by polling. app-config is refused auto-merge
 *   as already mergeable ("clean status") and is merged directly.
 * - The infra workflow run fails: FAILED with the reason, no service-definition pull request, the
 *   open ones closed with a comment. A forged webhook (bad signature) sent meanwhile gets 401 and
 *   changes nothing: had it been taken, the creation would have failed on it instead.
 */
import { createHmac } from 'node:crypto';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldOnboarding, onboardingBranch, PULL_REQUEST_STEPS, serviceStream, STEP_STATUSES, type OnboardingEvent, type ServiceView } from '@flotilla/events';
import { startGitHubSim, type GitHubSim } from '@flotilla/github-sim';
import { EventStore, loadAggregate, locate, onboardingAggregate, resourceNames } from '@flotilla/platform';
import { eventually, testAwsClients } from '@flotilla/platform/testing';
import { apiFetch, fleetCliEnv, runCli, startTestFleet, type TestFleet } from '../support/test-fleet.ts';

const aws = testAwsClients();
const GITHUB_TOKEN = 'sim-token-for-the-onboarding-e2e-test';
const WEBHOOK_SECRET = 'webhook-secret-for-the-onboarding-e2e-test';
/** Short, so the dropped merge webhook is made up for quickly; the other waits end by webhook well before it. */
const POLL_MS = 3_000;

let github: GitHubSim;
let running: TestFleet;
let store: EventStore;

const api = (path: string, init?: RequestInit) => apiFetch(`${running.fleet.url('build')}${path}`, init);
const view = async (name: string) => (await (await api(`/services/${name}`)).json()) as ServiceView;
const ended = (name: string, timeoutMs = 90_000) =>
  eventually(
    async () => {
      const v = await view(name);
      return v.status === 'CREATED' || v.status === 'FAILED' ? v : undefined;
    },
    { timeoutMs, intervalMs: 250, description: `service ${name} to be created or fail` },
  );
const history = async (name: string) => (await loadAggregate(store, serviceStream(name), onboardingAggregate)).history;
const postService = (body: Record<string, unknown>) => api('/services', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The simulator's requests made for one creation's branch or pull requests, with their times. */
function requestsOf(name: string, events: readonly OnboardingEvent[]) {
  const nodeIds = new Map(events.flatMap((e) => (e.type === 'pull_request.raised' ? [[e.data.nodeId, e.data.repo] as const] : [])));
  const all = github.requests();
  const creates = (repo: string) => all.filter((r) => r.operation === 'pulls.create' && r.repo === repo && (r.body as { head?: string }).head?.endsWith(onboardingBranch(name)));
  const autoMerges = (repo: string) =>
    all.filter((r) => r.operation === 'graphql.enablePullRequestAutoMerge' && nodeIds.get((r.body as { variables?: { pullRequestId?: string } }).variables?.pullRequestId ?? '') === repo);
  const dispatches = all.filter((r) => r.operation === 'actions.createWorkflowDispatch' && (r.body as { inputs?: { service?: string } }).inputs?.service === name);
  return { creates, autoMerges, dispatches };
}

const firstAt = (list: ReadonlyArray<{ at: number; status: number }>, what: string) => {
  const ok = list.find((r) => r.status < 300);
  if (!ok) throw new Error(`no successful request: ${what}`);
  return ok.at;
};

/** Each step's status rank after each event: never lower than after the event before. */
function statusesNeverMovedBack(events: readonly OnboardingEvent[]): void {
  let previous: number[] | undefined;
  for (let i = 1; i <= events.length; i++) {
    const state = foldOnboarding(events.slice(0, i));
    const ranks = PULL_REQUEST_STEPS.map((s) => STEP_STATUSES.indexOf(state.pullRequests[s].status));
    if (previous) for (const [j, rank] of ranks.entries()) expect(rank, `${PULL_REQUEST_STEPS[j] ?? '?'} after v${i}`).toBeGreaterThanOrEqual(previous[j] ?? 0);
    previous = ranks;
  }
}

const allDone = (v: ServiceView) => v.steps.map((s) => [s.step, s.status, s.done]);
const DONE = [
  ['infra', 'workflow_completed', true],
  ['app-config', 'merged', true],
  ['proxy-upstreams', 'merged', true],
  ['service-definition', 'merged', true],
  ['boilerplate', 'workflow_completed', true],
  ['first-build', 'workflow_completed', true],
];

beforeAll(async () => {
  github = await startGitHubSim({ token: GITHUB_TOKEN });
  running = await startTestFleet(aws, 'onboarding', {
    overrides: {
      orchestrator: { GITHUB_API_URL: github.url, GITHUB_TOKEN, GITHUB_PACE_WRITES: 'false', ONBOARDING_POLL_MS: String(POLL_MS), ONBOARDING_DRIVE_MS: '500' },
      build: { GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET },
    },
  });
  github.setWebhook({ url: `${running.fleet.url('build')}/webhooks/github`, secret: WEBHOOK_SECRET });
  store = new EventStore(aws.dynamodb, resourceNames(running.stack.prefix).tables.events);
});
afterAll(async () => {
  await running?.stop();
  await github?.close();
  aws.destroy();
});

describe('onboarding a new service against the simulated GitHub', () => {
  it('takes every step in order, builds the service and records it created (asked for over SNS)', async () => {
    const name = `sns-${Date.now().toString(36)}`;
    const where = await locate(aws, running.stack.prefix);
    // What `awslocal sns publish --topic-arn <intake> --message '{...}'` sends.
    await aws.sns.send(
      new PublishCommand({ TopicArn: where.topicArn(where.names.topics.intake), Message: JSON.stringify({ type: 'service.requested', name, team: 'payments', template: 'node-service' }) }),
    );
    const created = await ended(name);
    expect(created).toMatchObject({ status: 'CREATED', team: 'payments', environments: ['dev', 'staging', 'prod'] });
    expect(allDone(created)).toEqual(DONE);

    const events = await history(name);
    const { creates, autoMerges, dispatches } = requestsOf(name, events);
    // Each pull request raised once, the boilerplate dispatched once.
    for (const repo of ['infra', 'app-config', 'proxy-upstreams', 'service-definitions']) expect(creates(repo).filter((r) => r.status === 201), repo).toHaveLength(1);
    expect(dispatches.filter((r) => r.status < 300)).toHaveLength(1);
    // The infra pull request carried its change on its branch: the OIDC trust and a tenant per environment.
    const infraFiles = github.pullRequests().find((pr) => pr.repo === 'infra' && pr.head.ref === onboardingBranch(name))?.files ?? {};
    expect(Object.keys(infraFiles)).toEqual(expect.arrayContaining([...['dev', 'staging', 'prod'].map((env) => `tenants/${env}/${name}.yaml`), `oidc/trusted/${name}.yaml`]));
    expect(infraFiles[`oidc/trusted/${name}.yaml`]).toContain(`subject: repo:${github.owner}/${name}:ref:refs/heads/main`);

    // 2 -> 3: app-config and proxy-upstreams only once infra's auto-merge is on.
    const infraRaised = firstAt(creates('infra'), 'infra raised');
    const infraAutoMerge = firstAt(autoMerges('infra'), 'infra auto-merge');
    expect(infraAutoMerge).toBeGreaterThanOrEqual(infraRaised);
    expect(firstAt(creates('app-config'), 'app-config raised')).toBeGreaterThanOrEqual(infraAutoMerge);
    expect(firstAt(creates('proxy-upstreams'), 'proxy-upstreams raised')).toBeGreaterThanOrEqual(infraAutoMerge);
    // 4, 5 -> 6: service-definition only after infra merged and its run on main for the merged sha completed.
    const infra = created.steps[0];
    const happenings = github.happenings();
    const merged = happenings.find((h) => h.kind === 'pull_request.merged' && h.repo === 'infra' && h.number === infra?.pullRequest?.number);
    const infraRun = happenings.find((h) => h.kind === 'workflow_run.completed' && h.repo === 'infra' && h.sha === infra?.pullRequest?.mergedSha);
    expect(merged?.sha).toBe(infra?.pullRequest?.mergedSha);
    expect(infraRun?.runId).toBe(infra?.workflowRun?.runId);
    const serviceDefinitionRaised = firstAt(creates('service-definitions'), 'service-definition raised');
    expect(serviceDefinitionRaised).toBeGreaterThanOrEqual(infraRun?.at ?? Infinity);
    // 6 -> 7: the three auto-merges after service-definition is raised, the dispatch after them.
    const sixth = ['service-definitions', 'app-config', 'proxy-upstreams'].map((repo) => firstAt(autoMerges(repo), `${repo} auto-merge`));
    for (const at of sixth) expect(at).toBeGreaterThanOrEqual(serviceDefinitionRaised);
    expect(firstAt(dispatches, 'dispatch')).toBeGreaterThanOrEqual(Math.max(...sixth));
    // 7 -> 8: the first build asked for only after the boilerplate run completed; 9: created once it succeeded.
    const boilerplate = created.steps[4]?.workflowRun;
    const boilerplateRun = happenings.find((h) => h.kind === 'workflow_run.completed' && h.repo === 'boilerplate' && h.runId === boilerplate?.runId);
    const buildId = created.steps[5]?.build?.buildId ?? '';
    const build = (await (await api(`/builds/${buildId}`)).json()) as { status: string; requestedAt: string; repo: string };
    expect(build).toMatchObject({ status: 'SUCCESS', repo: name });
    expect(Date.parse(build.requestedAt)).toBeGreaterThanOrEqual(boilerplateRun?.at ?? Infinity);

    // The status document through the CLI.
    const get = await runCli(['services', 'get', name, '--json'], fleetCliEnv(running.fleet, running.stack.prefix));
    expect(get.code, get.stderr).toBe(0);
    expect((JSON.parse(get.stdout) as ServiceView).status).toBe('CREATED');
  });

  it('ends the same when every webhook comes twice and shuffled and the infra merge webhook never comes', async () => {
    const name = `dup-${Date.now().toString(36)}`;
    github.setWebhookMode({ duplicate: true, shuffle: true });
    github.inject({ kind: 'webhook', action: 'drop', event: 'pull_request', eventAction: 'closed', repo: 'infra' });
    // And app-config needs no checks: GitHub refuses it auto-merge ("clean status"), so it is merged directly.
    github.inject({ kind: 'clean-status', repo: 'app-config' });
    try {
      const request = { name, team: 'payments', template: 'go-service', environments: ['dev'] };
      const first = await postService(request);
      expect(first.status, await first.clone().text()).toBe(202);
      // The name is the key: the same request finds the creation; another one is refused.
      expect(await (await postService(request)).json()).toMatchObject({ name, duplicate: true });
      const taken = await postService({ ...request, team: 'someone-else' });
      expect(taken.status).toBe(409);
      expect(await taken.json()).toMatchObject({ error: 'service_exists' });

      // Followed with the CLI from the start: exit 0 once CREATED.
      const watched = await runCli(['services', 'watch', name, '--interval', '500'], fleetCliEnv(running.fleet, running.stack.prefix));
      expect(watched.code, watched.stderr).toBe(0);
      expect(watched.stdout).toContain('CREATED');
      const created = await ended(name);
      expect(created.status).toBe('CREATED');
      expect(allDone(created)).toEqual(DONE);
    } finally {
      github.setWebhookMode({ duplicate: false, shuffle: false });
    }
    const events = await history(name);
    const count = (type: string) => events.filter((e) => e.type === type).length;
    expect([count('pull_request.raised'), count('pull_request.merged'), count('workflow_run.completed'), count('service.created')]).toEqual([4, 4, 2, 1]);
    statusesNeverMovedBack(events);
    const { creates } = requestsOf(name, events);
    for (const repo of ['infra', 'app-config', 'proxy-upstreams', 'service-definitions']) expect(creates(repo).filter((r) => r.status === 201), repo).toHaveLength(1);
    // The simulator did as asked: deliveries came twice, and the infra merge's was dropped, so polling found it.
    const deliveries = github.deliveries();
    const ids = deliveries.filter((d) => !d.dropped).map((d) => d.deliveryId);
    expect(new Set(ids).size).toBeLessThan(ids.length);
    expect(deliveries.some((d) => d.dropped && d.event === 'pull_request' && d.repo === 'infra')).toBe(true);
    const appConfig = events.find((e) => e.type === 'pull_request.raised' && e.data.step === 'app-config')?.data as { number?: number } | undefined;
    expect(github.requests().some((r) => r.operation === 'pulls.merge' && r.repo === 'app-config' && r.number === appConfig?.number && r.status === 200)).toBe(true);
    const infraNumber = events.find((e) => e.type === 'pull_request.raised' && e.data.step === 'infra')?.data;
    expect(github.requests().some((r) => r.operation === 'pulls.get' && r.repo === 'infra' && r.number === (infraNumber as { number?: number } | undefined)?.number)).toBe(true);
  });

  it('fails on a failed infra run with the reason, raises nothing more, closes what it opened, and refuses a forged webhook', async () => {
    const name = `fail-${Date.now().toString(36)}`;
    github.inject({ kind: 'workflow-fails', repo: 'infra', workflow: 'apply.yml' });
    expect((await postService({ name, team: 'payments', template: 'python-service' })).status).toBe(202);
    // Once its infra pull request exists, a forged "closed without merging" for it: refused, nothing goes on.
    const infraPr = await eventually(async () => (await view(name)).steps[0]?.pullRequest, { timeoutMs: 30_000, description: 'the infra pull request' });
    const forged = JSON.stringify({
      action: 'closed',
      repository: { name: 'infra', full_name: 'flotilla-org/infra' },
      pull_request: { number: infraPr.number, state: 'closed', merged: false, merge_commit_sha: null, head: { ref: onboardingBranch(name) } },
    });
    const bad = await fetch(`${running.fleet.url('build')}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-github-delivery': `forged-${name}`,
        'x-hub-signature-256': `sha256=${createHmac('sha256', 'not-the-secret-at-all').update(forged).digest('hex')}`,
      },
      body: forged,
    });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'bad_signature' });

    const failed = await ended(name);
    // Failed on the run, not on the forged close: the forged delivery changed nothing.
    expect(failed).toMatchObject({ status: 'FAILED', failedStep: 'infra' });
    expect(failed.reason).toMatch(/apply\.yml .* concluded failure/);
    const events = await history(name);
    expect(events.some((e) => e.type === 'pull_request.closed' && e.data.step === 'infra')).toBe(false);
    // Nothing raised after the failure; app-config and proxy-upstreams closed with a comment.
    expect(requestsOf(name, events).creates('service-definitions')).toHaveLength(0);
    const closed = await eventually(
      () => {
        const prs = github.pullRequests().filter((pr) => pr.head.ref === onboardingBranch(name) && pr.repo !== 'infra');
        return Promise.resolve(prs.length === 2 && prs.every((pr) => pr.state === 'closed') ? prs : undefined);
      },
      { timeoutMs: 20_000, description: 'the open pull requests to be closed' },
    );
    for (const pr of closed) expect(pr.comments.join('\n')).toContain('concluded failure');
    await eventually(async () => ((await history(name)).filter((e) => e.type === 'pull_request.closed').length === 2 ? true : undefined), {
      timeoutMs: 10_000,
      description: 'both closes recorded',
    });
    const why = await runCli(['why', name], fleetCliEnv(running.fleet, running.stack.prefix));
    expect(why.code, why.stderr).toBe(0);
    expect(why.stdout).toContain('infra');
    expect(why.stdout).toContain('concluded failure');
  });
});
