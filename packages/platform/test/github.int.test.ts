/**
 * The GitHub port against the local GitHub (packages/github-sim): opening a pull request is
 * idempotent on its branch, auto-merge leads to a merged sha and an apply run for it, a dispatch
 * returns its run, closing is a no-op the second time; 5xx, timeouts and both kinds of rate limit
 * are retried after the wait GitHub asks for (measured in the simulator's request log), and
 * everything else is a GitHubError classed not retryable.
 */
import { Writable } from 'node:stream';
import { blobSha, startGitHubSim, type GitHubSim, type LoggedRequest } from '@flotilla/github-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowFileOf as workflowFile } from '@flotilla/events';
import { ConfigError, createGitHub, createLogger, GitHubError, type GitHubPort } from '@flotilla/platform';
import { eventually } from '@flotilla/platform/testing';

const TOKEN = 'ghp_simulatedtoken0123456789';
const DELAYS = { mergeMs: 200, workflowMs: 300, webhookMs: 20 };

/** Every log line the port writes, to find its rate-limit waits in (and no token). */
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(chunk.toString());
    done();
  },
});
const logger = createLogger('github-test', 'warn', capture);

let sim: GitHubSim;
let github: GitHubPort;
beforeAll(async () => {
  sim = await startGitHubSim({ token: TOKEN, delays: DELAYS });
  github = createGitHub({ baseUrl: sim.url, token: TOKEN, owner: sim.owner, logger, paceWrites: false });
});
afterAll(() => sim.close());

/** A one-file change: GitHub opens no pull request for a branch that carries nothing. */
const change = (branch: string) => [{ path: `${branch}.yaml`, content: `change for ${branch}\n` }];

/** The requests the simulator logged from `index` on. */
const since = (index: number): LoggedRequest[] => sim.requests().slice(index);

async function rejection(promise: Promise<unknown>): Promise<GitHubError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitHubError);
  return error as GitHubError;
}

describe('pull requests', () => {
  it('opens one pull request per branch: the second call finds the first after GitHub\'s 422', async () => {
    const files = [
      { path: 'services/payments/dev.yaml', content: 'service: payments\nreplicas: 1\n' },
      { path: 'services/payments/prod.yaml', content: 'service: payments\nreplicas: 3\n' },
    ];
    const input = { repo: 'app-config', branch: 'onboard/payments', base: 'main', title: 'Onboard payments', body: 'config for payments', files };
    const from = sim.requests().length;
    const first = await github.openPullRequest(input);
    const second = await github.openPullRequest(input);

    expect(second).toEqual(first);
    expect(first).toMatchObject({ repo: 'app-config', ref: 'onboard/payments', state: 'open', merged: false, mergedSha: null, autoMerge: false });
    expect(first.nodeId).toMatch(/^PR_/);
    expect(first.url).toBe(`${sim.url}/flotilla-org/app-config/pull/${first.number}`);
    const opened = sim.pullRequests().filter((pr) => pr.head.ref === 'onboard/payments');
    expect(opened).toHaveLength(1);
    // The branch carries the change, and the pull request's head is its last commit.
    expect(opened[0]?.files).toEqual({ 'services/payments/dev.yaml': files[0]!.content, 'services/payments/prod.yaml': files[1]!.content });
    expect(first.headSha).toBe(opened[0]?.head.sha);
    expect(since(from).map((r) => [r.operation, r.status])).toEqual([
      ['git.getRef', 200],
      ['git.createRef', 201],
      ['repos.getContent', 404],
      ['repos.createOrUpdateFileContents', 201],
      ['repos.getContent', 404],
      ['repos.createOrUpdateFileContents', 201],
      ['pulls.create', 201],
      // The second call: the branch exists, both files read as wanted, no write.
      ['git.getRef', 200],
      ['git.createRef', 422],
      ['repos.getContent', 200],
      ['repos.getContent', 200],
      ['pulls.create', 422],
      ['pulls.list', 200],
    ]);
    expect(since(from)[0]?.path).toBe('/repos/flotilla-org/app-config/git/ref/heads/main');
    expect(since(from)[1]?.body).toMatchObject({ ref: 'refs/heads/onboard/payments' });
    expect(since(from)[2]?.query).toEqual({ ref: 'onboard/payments' });
    expect(since(from)[3]?.body).toMatchObject({ branch: 'onboard/payments', content: Buffer.from(files[0]!.content).toString('base64') });
    expect(since(from).at(-1)?.query).toMatchObject({ head: 'flotilla-org:onboard/payments', state: 'open' });
  });

  it('commits a changed file with its current sha, and only that file', async () => {
    const files = [
      { path: 'upstreams/ledger.yaml', content: 'upstream: ledger\n' },
      { path: 'upstreams/ledger-canary.yaml', content: 'upstream: ledger-canary\n' },
    ];
    const input = { repo: 'proxy-upstreams', branch: 'onboard/ledger', base: 'main', title: 'Onboard ledger', body: '', files };
    const first = await github.openPullRequest(input);
    const before = sim.pullRequests().find((pr) => pr.repo === 'proxy-upstreams' && pr.number === first.number)!;
    const changed = [files[0]!, { ...files[1]!, content: 'upstream: ledger-canary\nweight: 5\n' }];
    const from = sim.requests().length;
    const again = await github.openPullRequest({ ...input, files: changed });

    expect(again.number).toBe(first.number);
    const writes = since(from).filter((r) => r.operation === 'repos.createOrUpdateFileContents');
    expect(writes.map((r) => [r.path, r.status])).toEqual([['/repos/flotilla-org/proxy-upstreams/contents/upstreams/ledger-canary.yaml', 200]]);
    expect(writes[0]?.body).toMatchObject({ sha: blobSha(files[1]!.content), content: Buffer.from(changed[1]!.content).toString('base64') });
    const after = sim.pullRequests().find((pr) => pr.repo === 'proxy-upstreams' && pr.number === first.number)!;
    expect(after.files).toEqual({ 'upstreams/ledger.yaml': files[0]!.content, 'upstreams/ledger-canary.yaml': changed[1]!.content });
    expect(after.head.sha).not.toBe(before.head.sha);
  });

  it('commits each file once when two calls race on one branch', async () => {
    const input = { repo: 'service-definitions', branch: 'onboard/racing', base: 'main', title: 'Onboard racing', body: '', files: [{ path: 'services/racing.yaml', content: 'name: racing\n' }] };
    const from = sim.requests().length;
    const [a, b] = await Promise.all([github.openPullRequest(input), github.openPullRequest(input)]);
    expect(a.number).toBe(b.number);
    const writes = since(from).filter((r) => r.operation === 'repos.createOrUpdateFileContents');
    expect(writes.filter((r) => r.status < 300)).toHaveLength(1);
    expect(sim.pullRequests().filter((pr) => pr.head.ref === 'onboard/racing')).toHaveLength(1);
  });

  it('enables auto-merge; the pull request then reads merged with its sha, and the apply run for that sha completes', async () => {
    const input = { repo: 'infra', branch: 'onboard/payments', base: 'main', title: 'Infra for payments', body: '', files: change('onboard/payments') };
    const pr = await github.openPullRequest(input);
    expect(await github.enableAutoMerge(pr, 'SQUASH')).toBe('enabled');
    expect((await github.getPullRequest('infra', pr.number)).autoMerge).toBe(true);

    const merged = await eventually(async () => {
      const read = await github.getPullRequest('infra', pr.number);
      return read.merged ? read : undefined;
    }, { timeoutMs: 5_000, intervalMs: 50, description: 'the pull request merged' });
    expect(merged).toMatchObject({ state: 'closed', merged: true });
    expect(merged.mergedSha).toMatch(/^[0-9a-f]{40}$/);
    expect(merged.mergedSha).toBe(sim.happenings().find((h) => h.kind === 'pull_request.merged' && h.number === pr.number)?.sha);

    // Opening again once merged (a retry, a second driver): GitHub's 422 "No commits between", answered with the merged PR.
    const from = sim.requests().length;
    expect(await github.openPullRequest(input)).toEqual(merged);
    expect(since(from).map((r) => [r.operation, r.status, r.query.state])).toEqual([
      ['git.getRef', 200, undefined],
      ['git.createRef', 422, undefined],
      ['repos.getContent', 200, undefined],
      ['pulls.create', 422, undefined],
      ['pulls.list', 200, 'closed'],
    ]);
    // The merge took the branch's file into main.
    expect(sim.pullRequests().find((p) => p.repo === 'infra' && p.number === pr.number)?.files).toMatchObject({ 'onboard/payments.yaml': 'change for onboard/payments\n' });

    const run = await eventually(async () => {
      const [found] = await github.workflowRunsForSha('infra', merged.mergedSha!);
      return found?.status === 'completed' ? found : undefined;
    }, { timeoutMs: 5_000, intervalMs: 50, description: 'the apply run completed' });
    expect(run).toMatchObject({ repo: 'infra', workflow: 'apply.yml', event: 'push', headSha: merged.mergedSha, headBranch: 'main', conclusion: 'success' });
    expect(run.url).toBe(`${sim.url}/flotilla-org/infra/actions/runs/${run.id}`);
    expect(await github.getWorkflowRun('infra', run.id)).toEqual(run);
  });

  it('closes with a comment; closing again does nothing', async () => {
    const pr = await github.openPullRequest({ repo: 'proxy-upstreams', branch: 'onboard/abandoned', base: 'main', title: 'Upstreams', body: '', files: change('onboard/abandoned') });
    await github.closePullRequest('proxy-upstreams', pr.number, 'Onboarding was cancelled.');
    const from = sim.requests().length;
    await github.closePullRequest('proxy-upstreams', pr.number, 'Onboarding was cancelled.');

    expect(await github.getPullRequest('proxy-upstreams', pr.number)).toMatchObject({ state: 'closed', merged: false });
    expect(sim.pullRequests().find((p) => p.repo === 'proxy-upstreams' && p.number === pr.number)?.comments).toEqual(['Onboarding was cancelled.']);
    expect(since(from).map((r) => r.operation)).toEqual(['pulls.get', 'pulls.get']);
  });

  it('merges directly a pull request GitHub refuses auto-merge for because it is mergeable at once ("clean status")', async () => {
    const pr = await github.openPullRequest({ repo: 'app-config', branch: 'onboard/clean', base: 'main', title: 'Clean', body: '', files: change('onboard/clean') });
    sim.inject({ kind: 'clean-status', repo: 'app-config' });
    const from = sim.requests().length;
    expect(await github.enableAutoMerge(pr)).toBe('merged');
    expect(since(from).map((r) => [r.operation, r.status])).toEqual([
      ['graphql.enablePullRequestAutoMerge', 200],
      ['pulls.merge', 200],
    ]);
    expect(await github.getPullRequest('app-config', pr.number)).toMatchObject({ state: 'closed', merged: true });
  });

  it('answers a GraphQL error as a GitHubError that is not retryable, with its type', async () => {
    const unknown = await rejection(github.enableAutoMerge({ repo: 'infra', number: 9_999, nodeId: 'PR_kwDOdoesnotexist' }));
    expect(unknown).toMatchObject({ retryable: false, status: undefined, graphqlType: 'NOT_FOUND' });
    expect(unknown.message).toContain('PR_kwDOdoesnotexist');
    expect(unknown.context).toMatchObject({ operation: 'graphql.enablePullRequestAutoMerge' });

    const pr = await github.openPullRequest({ repo: 'service-definitions', branch: 'onboard/closed', base: 'main', title: 't', body: '', files: change('onboard/closed') });
    await github.closePullRequest('service-definitions', pr.number, 'closing');
    const closed = await rejection(github.enableAutoMerge(pr));
    expect(closed).toMatchObject({ retryable: false, graphqlType: 'UNPROCESSABLE' });
    expect(closed.message).toContain('Pull request is closed');
  });

  it('answers a 404 or 422 as a GitHubError that is not retryable, with GitHub\'s message and the operation', async () => {
    const missing = await rejection(github.getPullRequest('infra', 9_999));
    expect(missing).toMatchObject({ status: 404, retryable: false });
    expect(missing.message).toBe('GitHub pulls.get answered 404: Not Found');
    expect(missing.context).toMatchObject({ operation: 'pulls.get', repo: 'infra', number: 9_999 });
    expect(await rejection(github.workflowRunsForSha('no-such-repo', 'abc'))).toMatchObject({ status: 404, retryable: false });
    const notDispatchable = await rejection(github.dispatchWorkflow({ repo: 'infra', workflow: 'apply.yml', ref: 'main', inputs: {} }));
    expect(notDispatchable).toMatchObject({ status: 422, retryable: false });
    expect(notDispatchable.message).toContain("does not have 'workflow_dispatch' trigger");
  });
});

describe('workflow runs', () => {
  it('dispatches create-service.yml and reads the run it returns', async () => {
    const dispatched = await github.dispatchWorkflow({ repo: 'boilerplate', workflow: 'create-service.yml', ref: 'main', inputs: { service: 'payments' } });
    expect(dispatched.url).toBe(`${sim.url}/flotilla-org/boilerplate/actions/runs/${dispatched.runId}`);
    expect(sim.requests().at(-1)?.body).toMatchObject({ ref: 'main', inputs: { service: 'payments' }, return_run_details: true });

    const run = await github.getWorkflowRun('boilerplate', dispatched.runId);
    expect(run).toMatchObject({ id: dispatched.runId, workflow: 'create-service.yml', displayTitle: 'boilerplate payments', event: 'workflow_dispatch', headBranch: 'main', url: dispatched.url });
    const completed = await eventually(async () => {
      const read = await github.getWorkflowRun('boilerplate', dispatched.runId);
      return read.status === 'completed' ? read : undefined;
    }, { timeoutMs: 5_000, intervalMs: 50, description: 'the dispatched run completed' });
    expect(completed.conclusion).toBe('success');

    const listed = await github.workflowRuns('boilerplate', 'create-service.yml', { event: 'workflow_dispatch', branch: 'main' });
    expect(listed.map((r) => r.id)).toContain(dispatched.runId);
    expect(await github.workflowRuns('boilerplate', 'create-service.yml', { event: 'push' })).toEqual([]);
  });

  it('reads the workflow file name from a run\'s path', () => {
    expect(workflowFile('.github/workflows/apply.yml')).toBe('apply.yml');
    expect(workflowFile('.github/workflows/apply.yml@refs/heads/main')).toBe('apply.yml');
  });
});

describe('retries', () => {
  const gapMs = (requests: LoggedRequest[]) => requests[1]!.at - requests[0]!.at;

  it('retries a 502, then succeeds: two requests in the log', async () => {
    const pr = await github.openPullRequest({ repo: 'app-config', branch: 'onboard/retry-502', base: 'main', title: 't', body: '', files: change('onboard/retry-502') });
    sim.inject({ kind: 'http-error', status: 502, method: 'GET', path: `/pulls/${pr.number}` });
    const from = sim.requests().length;
    expect((await github.getPullRequest('app-config', pr.number)).number).toBe(pr.number);
    const requests = since(from);
    expect(requests.map((r) => [r.operation, r.status])).toEqual([
      ['pulls.get', 502],
      ['pulls.get', 200],
    ]);
    // plugin-retry's first wait is 1 s; earlier failed calls (the 404s above) do not lengthen it.
    expect(gapMs(requests)).toBeGreaterThanOrEqual(900);
    expect(gapMs(requests)).toBeLessThan(2_500);
  });

  it('waits out a primary rate limit until its reset (2 s ahead), then succeeds', async () => {
    sim.inject({ kind: 'rate-limit', mode: 'primary', resetSeconds: 2, path: '/actions/runs' });
    const from = sim.requests().length;
    await github.workflowRunsForSha('infra', 'f'.repeat(40));
    const requests = since(from);
    expect(requests.map((r) => r.status)).toEqual([403, 200]);
    expect(gapMs(requests)).toBeGreaterThanOrEqual(1_500);
    expect(lines.some((line) => line.includes('GitHub primary rate limit: retrying in'))).toBe(true);
  });

  it('waits out a secondary rate limit for its retry-after (1 s), 403 and 429 alike', async () => {
    for (const status of [403, 429] as const) {
      sim.inject({ kind: 'rate-limit', mode: 'secondary', retryAfterSeconds: 1, status, path: '/actions/runs' });
      const from = sim.requests().length;
      await github.workflowRunsForSha('infra', 'e'.repeat(40));
      const requests = since(from);
      expect(requests.map((r) => r.status)).toEqual([status, 200]);
      expect(gapMs(requests)).toBeGreaterThanOrEqual(900);
    }
    expect(lines.some((line) => line.includes('GitHub secondary rate limit: retrying in 1 s'))).toBe(true);
  });

  it('retries an attempt that outlives requestTimeoutMs', async () => {
    const impatient = createGitHub({ baseUrl: sim.url, token: TOKEN, owner: sim.owner, logger, paceWrites: false, requestTimeoutMs: 300 });
    sim.inject({ kind: 'slow', delayMs: 1_000, path: '/actions/runs/' });
    const runId = sim.workflowRuns()[0]!.id;
    const from = sim.requests().length;
    expect((await impatient.getWorkflowRun('infra', runId)).id).toBe(runId);
    expect(since(from).map((r) => r.operation)).toEqual(['actions.getWorkflowRun', 'actions.getWorkflowRun']);
  });

  it('gives up after `retries` with a retryable GitHubError: a 503 that stays, a rate limit that stays', async () => {
    const once = createGitHub({ baseUrl: sim.url, token: TOKEN, owner: sim.owner, logger, paceWrites: false, retries: 1 });
    sim.inject({ kind: 'http-error', status: 503, path: '/pulls/1', times: 2 });
    const unavailable = await rejection(once.getPullRequest('app-config', 1));
    expect(unavailable).toMatchObject({ status: 503, retryable: true });

    sim.inject({ kind: 'rate-limit', mode: 'secondary', retryAfterSeconds: 1, path: '/pulls/1', times: 2 });
    const limited = await rejection(once.getPullRequest('app-config', 1));
    expect(limited).toMatchObject({ status: 403, retryable: true });
    expect(limited.message).toContain('secondary rate limit');
    expect(lines.some((line) => line.includes('giving up'))).toBe(true);
  });

  it('never writes the token to the log', () => {
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });
});

describe('configuration', () => {
  it('refuses an invalid configuration with a ConfigError naming the field', () => {
    expect(() => createGitHub({ baseUrl: 'not a url', token: TOKEN, owner: 'flotilla-org', logger })).toThrow(ConfigError);
    expect(() => createGitHub({ baseUrl: sim.url, token: '', owner: 'flotilla-org', logger })).toThrow(/token/);
  });

  it('answers a wrong token as a GitHubError 401, not retried', async () => {
    const wrong = createGitHub({ baseUrl: sim.url, token: 'wrong', owner: sim.owner, logger, paceWrites: false });
    const from = sim.requests().length;
    expect(await rejection(wrong.getPullRequest('infra', 1))).toMatchObject({ status: 401, retryable: false });
    expect(since(from)).toHaveLength(1);
  });

  it('paces writes by default, as GitHub asks: opening pull requests at least 3 s apart', async () => {
    const paced = createGitHub({ baseUrl: sim.url, token: TOKEN, owner: sim.owner, logger });
    const from = sim.requests().length;
    await paced.openPullRequest({ repo: 'service-definitions', branch: 'onboard/paced-1', base: 'main', title: 't', body: '', files: change('onboard/paced-1') });
    await paced.openPullRequest({ repo: 'service-definitions', branch: 'onboard/paced-2', base: 'main', title: 't', body: '', files: change('onboard/paced-2') });
    const creates = since(from).filter((r) => r.operation === 'pulls.create');
    expect(creates).toHaveLength(2);
    expect(creates[1]!.at - creates[0]!.at).toBeGreaterThanOrEqual(2_900);
  });
});
