/**
 * The GitHub simulator, driven as a client would drive GitHub (plain fetch) with a real webhook
 * receiver: branches and files (git refs, the contents API), pull requests (422 for a head that
 * does not exist or a second one for the same head), auto-merge and the merge after
 * its delay with a signed webhook, the apply.yml run for the merge sha, workflow_dispatch with
 * return_run_details, closing, GraphQL errors, the request log and the happenings.
 */
import { verify } from '@octokit/webhooks-methods';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { blobSha, startGitHubSim, type GitHubSim } from '../src/index.ts';
import { call, ENABLE_AUTO_MERGE, makeBranch, openPull as openPullOn, startReceiver, type Receiver } from './support.ts';

const SECRET = 'webhook-secret-for-tests';
const DELAYS = { mergeMs: 200, workflowMs: 300, webhookMs: 20 };
const WAIT = { timeout: 5_000, interval: 20 };
const REPO = '/repos/flotilla-org';

let sim: GitHubSim;
let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
  sim = await startGitHubSim({ token: 'sim-token', delays: DELAYS, webhook: { url: receiver.url, secret: SECRET } });
});
afterEach(async () => {
  await sim.close();
  await receiver.close();
});

type Pull = { id: number; node_id: string; number: number; html_url: string; state: string; merged: boolean; merged_at: string | null; merge_commit_sha: string | null; auto_merge: unknown; head: { ref: string; sha: string } };
type Run = { id: number; name: string; display_title: string; path: string; head_sha: string; head_branch: string; event: string; status: string; conclusion: string | null; html_url: string; run_number: number };
type Runs = { total_count: number; workflow_runs: Run[] };

const openPull = (repo: string, head: string) => openPullOn<Pull>(sim.url, repo, head, { title: `onboard ${head}`, body: 'made by a test' });
const enableAutoMerge = (id: string) => call<{ data: unknown; errors?: { type: string; message: string }[] }>(sim.url, 'POST', '/graphql', { query: ENABLE_AUTO_MERGE, variables: { pullRequestId: id, mergeMethod: 'SQUASH' } });

type Ref = { ref: string; object: { sha: string; type: string } };
type Content = { type: string; path: string; name: string; sha: string; encoding: string; content: string };
type Written = { content: { path: string; sha: string }; commit: { sha: string } };
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('branches and files', () => {
  it('reads a branch as a git ref (404 when missing) and makes one from a commit once (422 Reference already exists)', async () => {
    const main = await call<Ref>(sim.url, 'GET', `${REPO}/infra/git/ref/heads/main`);
    expect(main).toMatchObject({ status: 200, body: { ref: 'refs/heads/main', object: { type: 'commit' } } });
    expect(main.body.object.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await call(sim.url, 'GET', `${REPO}/infra/git/ref/heads/onboard/payments-api`)).toMatchObject({ status: 404, body: { message: 'Not Found' } });

    const made = await call<Ref>(sim.url, 'POST', `${REPO}/infra/git/refs`, { ref: 'refs/heads/onboard/payments-api', sha: main.body.object.sha });
    expect(made).toMatchObject({ status: 201, body: { ref: 'refs/heads/onboard/payments-api', object: { sha: main.body.object.sha, type: 'commit' } } });
    // Octokit sends the branch's slash encoded; both spellings name one branch.
    expect(await call<Ref>(sim.url, 'GET', `${REPO}/infra/git/ref/heads%2Fonboard%2Fpayments-api`)).toMatchObject({ status: 200, body: made.body });
    expect(await call(sim.url, 'POST', `${REPO}/infra/git/refs`, { ref: 'refs/heads/onboard/payments-api', sha: main.body.object.sha })).toMatchObject({
      status: 422,
      body: { message: 'Reference already exists' },
    });
    expect(await call(sim.url, 'POST', `${REPO}/infra/git/refs`, { ref: 'refs/heads/onboard/other', sha: '0'.repeat(40) })).toMatchObject({ status: 422, body: { message: 'Object does not exist' } });
    expect((await call(sim.url, 'POST', `${REPO}/infra/git/refs`, { ref: 'onboard/other', sha: main.body.object.sha })).status).toBe(422);
    expect(sim.requests().map((r) => r.operation)).toEqual(['git.getRef', 'git.getRef', 'git.createRef', 'git.getRef', 'git.createRef', 'git.createRef', 'git.createRef']);
  });

  it('commits a file per PUT on its branch: 201 new, 200 updated with its sha, 422 without it, 409 with a stale one', async () => {
    const start = await makeBranch(sim.url, 'app-config', 'onboard/files', null);
    const path = `${REPO}/app-config/contents/services/files/dev.yaml`;
    const created = await call<Written>(sim.url, 'PUT', path, { message: 'add dev', content: base64('replicas: 1\n'), branch: 'onboard/files' });
    expect(created).toMatchObject({ status: 201, body: { content: { path: 'services/files/dev.yaml', sha: blobSha('replicas: 1\n') } } });
    // Git's own blob id, as GitHub reports it.
    expect(blobSha('hello\n')).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
    const head = (await call<Ref>(sim.url, 'GET', `${REPO}/app-config/git/ref/heads/onboard/files`)).body.object.sha;
    expect(head).toBe(created.body.commit.sha);
    expect(head).not.toBe(start);

    const read = await call<Content>(sim.url, 'GET', `${REPO}/app-config/contents/services%2Ffiles%2Fdev.yaml?ref=onboard%2Ffiles`);
    expect(read).toMatchObject({ status: 200, body: { type: 'file', path: 'services/files/dev.yaml', name: 'dev.yaml', sha: created.body.content.sha, encoding: 'base64' } });
    expect(Buffer.from(read.body.content, 'base64').toString()).toBe('replicas: 1\n');
    expect((await call(sim.url, 'GET', path)).status).toBe(404); // not on main
    expect((await call(sim.url, 'GET', `${path}?ref=no-such-branch`)).status).toBe(404);

    const write = (sha?: string) => call<Written>(sim.url, 'PUT', path, { message: 'scale dev', content: base64('replicas: 2\n'), branch: 'onboard/files', ...(sha ? { sha } : {}) });
    const unsupplied = await write();
    expect([unsupplied.status, (unsupplied.body as unknown as { message: string }).message]).toEqual([422, 'Invalid request.\n\n"sha" wasn\'t supplied.']);
    const stale = await write(blobSha('something else'));
    expect([stale.status, (stale.body as unknown as { message: string }).message]).toEqual([409, `services/files/dev.yaml does not match ${blobSha('something else')}`]);
    const updated = await write(created.body.content.sha);
    expect(updated).toMatchObject({ status: 200, body: { content: { sha: blobSha('replicas: 2\n') } } });
    expect((await call<Ref>(sim.url, 'GET', `${REPO}/app-config/git/ref/heads/onboard/files`)).body.object.sha).toBe(updated.body.commit.sha);
    expect((await call(sim.url, 'PUT', path, { message: 'm', content: base64('x'), branch: 'no-such-branch' })).status).toBe(404);
    expect(sim.requests().filter((r) => r.operation === 'repos.createOrUpdateFileContents').map((r) => r.status)).toEqual([201, 422, 409, 200, 404]);
    expect(sim.requests().filter((r) => r.operation === 'repos.getContent').map((r) => r.path)).toContain('/repos/flotilla-org/app-config/contents/services/files/dev.yaml');
  });

  it('opens a pull request only for a branch that exists and has commits main lacks; its head follows the branch; the merge takes its files into main', async () => {
    expect(await call(sim.url, 'POST', `${REPO}/infra/pulls`, { title: 't', head: 'onboard/nowhere', base: 'main' })).toMatchObject({
      status: 422,
      body: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] },
    });
    await makeBranch(sim.url, 'infra', 'onboard/empty', null);
    expect(await call(sim.url, 'POST', `${REPO}/infra/pulls`, { title: 't', head: 'onboard/empty', base: 'main' })).toMatchObject({
      status: 422,
      body: { errors: [{ code: 'custom', message: 'No commits between main and onboard/empty' }] },
    });
    expect(sim.pullRequests()).toEqual([]);

    const first = await makeBranch(sim.url, 'infra', 'onboard/carry', { path: 'tenants/dev/carry.yaml', content: 'tenant: carry\n' });
    const pr = (await call<Pull>(sim.url, 'POST', `${REPO}/infra/pulls`, { title: 't', head: 'onboard/carry', base: 'main' })).body;
    expect(pr.head.sha).toBe(first);
    const second = await call<Written>(sim.url, 'PUT', `${REPO}/infra/contents/oidc/trusted/carry.yaml`, { message: 'trust', content: base64('service: carry\n'), branch: 'onboard/carry' });
    expect((await call<Pull>(sim.url, 'GET', `${REPO}/infra/pulls/${pr.number}`)).body.head.sha).toBe(second.body.commit.sha);
    expect(sim.pullRequests()[0]?.files).toEqual({ 'tenants/dev/carry.yaml': 'tenant: carry\n', 'oidc/trusted/carry.yaml': 'service: carry\n' });
    const viaControl = (await (await fetch(`${sim.url}/_sim/state`)).json()) as { pullRequests: { files: Record<string, string> }[] };
    expect(viaControl.pullRequests[0]?.files).toEqual(sim.pullRequests()[0]?.files);

    await enableAutoMerge(pr.node_id);
    const merged = await vi.waitFor(async () => {
      const read = (await call<Pull>(sim.url, 'GET', `${REPO}/infra/pulls/${pr.number}`)).body;
      expect(read.merged).toBe(true);
      return read;
    }, WAIT);
    expect((await call<Ref>(sim.url, 'GET', `${REPO}/infra/git/ref/heads/main`)).body.object.sha).toBe(merged.merge_commit_sha);
    const onMain = await call<Content>(sim.url, 'GET', `${REPO}/infra/contents/oidc/trusted/carry.yaml`);
    expect(Buffer.from(onMain.body.content, 'base64').toString()).toBe('service: carry\n');
    expect(merged.head.sha).toBe(second.body.commit.sha);
  });
});

describe('pull requests', () => {
  it('opens one per head: a second for the same head is 422, in both head forms', async () => {
    const first = await openPull('app-config', 'onboard/payments');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ number: 1, state: 'open', merged: false, merged_at: null, merge_commit_sha: null, auto_merge: null, head: { ref: 'onboard/payments' } });
    expect(first.body.node_id).toMatch(/^PR_kwDO/);
    expect(first.body.head.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(first.body.html_url).toBe(`${sim.url}/flotilla-org/app-config/pull/1`);

    for (const head of ['onboard/payments', 'flotilla-org:onboard/payments']) {
      const again = await openPull('app-config', head);
      expect(again.status).toBe(422);
      expect(again.body).toMatchObject({
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for flotilla-org:onboard/payments.' }],
      });
    }

    const listed = await call<Pull[]>(sim.url, 'GET', `${REPO}/app-config/pulls?head=flotilla-org:onboard/payments&state=open`);
    expect(listed.body.map((pr) => pr.number)).toEqual([1]);
    const other = await openPull('app-config', 'onboard/billing');
    expect(other.body.number).toBe(2);
    expect(other.body.node_id).not.toBe(first.body.node_id);
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('answers 404 like GitHub for an unknown repository or pull request, 401 without the token, 422 naming a missing field', async () => {
    expect(await call(sim.url, 'GET', `${REPO}/no-such-repo/pulls`)).toMatchObject({ status: 404, body: { message: 'Not Found' } });
    expect(await call(sim.url, 'GET', '/repos/someone-else/infra/pulls')).toMatchObject({ status: 404 });
    expect(await call(sim.url, 'GET', `${REPO}/infra/pulls/99`)).toMatchObject({ status: 404 });
    expect(await call(sim.url, 'GET', `${REPO}/infra/pulls`, undefined, 'wrong')).toMatchObject({ status: 401, body: { message: 'Bad credentials' } });
    const bearer = await fetch(`${sim.url}${REPO}/infra/pulls`, { headers: { authorization: 'Bearer sim-token' } });
    expect(bearer.status).toBe(200);
    const missing = await call(sim.url, 'POST', `${REPO}/infra/pulls`, { title: 't', base: 'main' });
    expect(missing).toMatchObject({ status: 422, body: { message: 'Validation Failed', errors: [{ field: 'head', code: 'missing_field' }] } });
  });

  it('merges after mergeMs once auto-merge is on, and delivers a pull_request closed webhook whose signature verifies over the raw body', async () => {
    const pr = (await openPull('app-config', 'onboard/merge-me')).body;
    const enabled = await enableAutoMerge(pr.node_id);
    expect(enabled.body).toMatchObject({ data: { enablePullRequestAutoMerge: { pullRequest: { number: pr.number, autoMergeRequest: { mergeMethod: 'SQUASH' } } } } });
    expect((await call<Pull>(sim.url, 'GET', `${REPO}/app-config/pulls/${pr.number}`)).body.auto_merge).toMatchObject({ merge_method: 'squash', enabled_by: { login: 'flotilla-bot' } });

    const merged = await vi.waitFor(async () => {
      const read = (await call<Pull>(sim.url, 'GET', `${REPO}/app-config/pulls/${pr.number}`)).body;
      expect(read.merged).toBe(true);
      return read;
    }, WAIT);
    expect(merged).toMatchObject({ state: 'closed', merged: true });
    expect(merged.merge_commit_sha).toMatch(/^[0-9a-f]{40}$/);
    expect(merged.merged_at).not.toBeNull();

    const happenings = sim.happenings();
    const at = (kind: string) => happenings.find((h) => h.kind === kind && h.number === pr.number)?.at ?? Number.NaN;
    expect(at('pull_request.opened')).toBeLessThanOrEqual(at('auto_merge.enabled'));
    expect(at('pull_request.merged') - at('auto_merge.enabled')).toBeGreaterThanOrEqual(DELAYS.mergeMs - 5);
    expect(happenings.find((h) => h.kind === 'pull_request.merged')?.sha).toBe(merged.merge_commit_sha);

    const closed = await vi.waitFor(() => {
      const [delivery] = receiver.of('pull_request', 'closed');
      expect(delivery).toBeDefined();
      return delivery!;
    }, WAIT);
    expect(closed.payload).toMatchObject({
      action: 'closed',
      number: pr.number,
      pull_request: { merged: true, merge_commit_sha: merged.merge_commit_sha, node_id: pr.node_id, html_url: pr.html_url, head: { ref: 'onboard/merge-me' } },
      repository: { name: 'app-config', full_name: 'flotilla-org/app-config', owner: { login: 'flotilla-org' } },
    });
    expect(closed.deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(closed.userAgent).toBe('GitHub-Hookshot/sim');
    expect(closed.contentType).toBe('application/json');
    expect(closed.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(await verify(SECRET, closed.raw, closed.signature)).toBe(true);
    expect(await verify('another-secret', closed.raw, closed.signature)).toBe(false);
    expect(await verify(SECRET, closed.raw.replace('"merged":true', '"merged":false'), closed.signature)).toBe(false);
    expect(receiver.of('pull_request').map((d) => d.payload.action)).toEqual(['opened', 'auto_merge_enabled', 'closed']);

    // The branch is merged: nothing left to open a pull request for, as on GitHub.
    expect(await openPull('app-config', 'onboard/merge-me')).toMatchObject({
      status: 422,
      body: { message: 'Validation Failed', errors: [{ code: 'custom', message: 'No commits between main and onboard/merge-me' }] },
    });
  });

  it('keeps auto-merge idempotent: enabling twice merges once', async () => {
    const pr = (await openPull('proxy-upstreams', 'onboard/twice')).body;
    expect((await enableAutoMerge(pr.node_id)).body.errors).toBeUndefined();
    expect((await enableAutoMerge(pr.node_id)).body.errors).toBeUndefined();
    await vi.waitFor(() => expect(sim.happenings().some((h) => h.kind === 'pull_request.merged')).toBe(true), WAIT);
    expect(sim.happenings().filter((h) => h.kind === 'auto_merge.enabled')).toHaveLength(1);
    expect(sim.happenings().filter((h) => h.kind === 'pull_request.merged')).toHaveLength(1);
  });

  it('answers GraphQL errors as GitHub does: NOT_FOUND for an unknown node, UNPROCESSABLE for a closed pull request', async () => {
    const unknown = await enableAutoMerge('PR_kwDOnope');
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ data: null, errors: [{ type: 'NOT_FOUND' }] });
    expect(unknown.body.errors?.[0]?.message).toContain('PR_kwDOnope');

    const pr = (await openPull('service-definitions', 'onboard/closed')).body;
    await call(sim.url, 'PATCH', `${REPO}/service-definitions/pulls/${pr.number}`, { state: 'closed' });
    expect((await enableAutoMerge(pr.node_id)).body).toMatchObject({ data: null, errors: [{ type: 'UNPROCESSABLE', message: 'Pull request is closed' }] });

    const literal = await call(sim.url, 'POST', '/graphql', { query: `mutation { enablePullRequestAutoMerge(input: {pullRequestId: "${pr.node_id}", mergeMethod: MERGE}) { clientMutationId } }` });
    expect(literal.body).toMatchObject({ errors: [{ type: 'UNPROCESSABLE' }] });
    expect((await call(sim.url, 'POST', '/graphql', { query: '{ viewer { login } }' })).body).toMatchObject({ errors: [{ message: expect.stringContaining('only') as unknown }] });
  });

  it('refuses auto-merge on a pull request in clean status when asked to, and merges one directly on PUT .../merge', async () => {
    const pr = (await openPull('app-config', 'onboard/clean')).body;
    sim.inject({ kind: 'clean-status', repo: 'app-config' });
    expect((await enableAutoMerge(pr.node_id)).body).toMatchObject({ data: null, errors: [{ type: 'UNPROCESSABLE', message: 'Pull request Pull request is in clean status' }] });
    const merged = await call<{ merged: boolean; sha: string }>(sim.url, 'PUT', `${REPO}/app-config/pulls/${pr.number}/merge`, { merge_method: 'merge' });
    expect(merged).toMatchObject({ status: 200, body: { merged: true } });
    const after = (await call<Pull>(sim.url, 'GET', `${REPO}/app-config/pulls/${pr.number}`)).body;
    expect(after).toMatchObject({ state: 'closed', merged: true, merge_commit_sha: merged.body.sha });
    await vi.waitFor(() => expect(receiver.of('pull_request', 'closed').some((d) => (d.payload.pull_request as { number: number }).number === pr.number)).toBe(true), WAIT);
    expect((await call(sim.url, 'PUT', `${REPO}/app-config/pulls/${pr.number}/merge`, {})).status).toBe(405);
  });

  it('closes without merging: a comment stays on the pull request, the pending merge is cancelled, a closed webhook says merged false', async () => {
    const pr = (await openPull('infra', 'onboard/abandon')).body;
    await enableAutoMerge(pr.node_id);
    const comment = await call(sim.url, 'POST', `${REPO}/infra/issues/${pr.number}/comments`, { body: 'superseded' });
    expect(comment).toMatchObject({ status: 201, body: { body: 'superseded' } });
    const closed = await call<Pull>(sim.url, 'PATCH', `${REPO}/infra/pulls/${pr.number}`, { state: 'closed' });
    expect(closed.body).toMatchObject({ state: 'closed', merged: false, auto_merge: null });

    const webhook = await vi.waitFor(() => {
      const [delivery] = receiver.of('pull_request', 'closed');
      expect(delivery).toBeDefined();
      return delivery!;
    }, WAIT);
    expect(webhook.payload).toMatchObject({ pull_request: { merged: false, merge_commit_sha: null } });
    // A witness: a pull request whose auto-merge is enabled later merges; the closed one's merge
    // would have come first, so by now it would show.
    const witness = (await openPull('infra', 'onboard/witness')).body;
    await enableAutoMerge(witness.node_id);
    await vi.waitFor(() => expect(sim.pullRequests().find((p) => p.number === witness.number)?.merged).toBe(true), WAIT);
    expect(sim.pullRequests().find((p) => p.number === pr.number)).toMatchObject({ state: 'closed', merged: false, comments: ['superseded'] });
    expect(sim.happenings().filter((h) => h.kind === 'pull_request.merged').map((h) => h.number)).toEqual([witness.number]);
    // Closing again changes nothing and delivers nothing.
    await call(sim.url, 'PATCH', `${REPO}/infra/pulls/${pr.number}`, { state: 'closed' });
    expect(sim.happenings().filter((h) => h.kind === 'pull_request.closed')).toHaveLength(1);
  });
});

describe('workflow runs', () => {
  it('runs apply.yml in infra for the merge sha and delivers workflow_run requested then completed', async () => {
    const pr = (await openPull('infra', 'onboard/apply')).body;
    await enableAutoMerge(pr.node_id);
    const mergeSha = await vi.waitFor(() => {
      const sha = sim.pullRequests()[0]?.mergeCommitSha;
      expect(sha).toBeTruthy();
      return sha!;
    }, WAIT);

    const run = await vi.waitFor(async () => {
      const runs = (await call<Runs>(sim.url, 'GET', `${REPO}/infra/actions/runs?head_sha=${mergeSha}`)).body;
      expect(runs.total_count).toBe(1);
      expect(runs.workflow_runs[0]?.status).toBe('completed');
      return runs.workflow_runs[0]!;
    }, WAIT);
    expect(run).toMatchObject({ name: 'apply', path: '.github/workflows/apply.yml', head_sha: mergeSha, head_branch: 'main', event: 'push', conclusion: 'success', run_number: 1 });
    expect((await call<Run>(sim.url, 'GET', `${REPO}/infra/actions/runs/${run.id}`)).body).toMatchObject({ id: run.id, status: 'completed' });
    const byWorkflow = (await call<Runs>(sim.url, 'GET', `${REPO}/infra/actions/workflows/apply.yml/runs?event=push&branch=main`)).body;
    expect(byWorkflow.workflow_runs.map((r) => r.id)).toEqual([run.id]);
    expect((await call<Runs>(sim.url, 'GET', `${REPO}/infra/actions/runs?head_sha=${'0'.repeat(40)}`)).body.total_count).toBe(0);

    const completed = await vi.waitFor(() => {
      const [delivery] = receiver.of('workflow_run', 'completed');
      expect(delivery).toBeDefined();
      return delivery!;
    }, WAIT);
    expect(completed.payload).toMatchObject({ workflow_run: { id: run.id, head_sha: mergeSha, conclusion: 'success', status: 'completed', path: '.github/workflows/apply.yml' }, repository: { name: 'infra' } });
    expect(await verify(SECRET, completed.raw, completed.signature)).toBe(true);
    expect(receiver.of('workflow_run').map((d) => d.payload.action)).toEqual(['requested', 'in_progress', 'completed']);

    const kinds = sim.happenings().map((h) => h.kind);
    expect(kinds).toEqual(['pull_request.opened', 'auto_merge.enabled', 'pull_request.merged', 'workflow_run.requested', 'workflow_run.in_progress', 'workflow_run.completed']);
    const runHappenings = sim.happenings().filter((h) => h.runId === run.id);
    expect(runHappenings.at(-1)!.at - runHappenings[0]!.at).toBeGreaterThanOrEqual(DELAYS.workflowMs - 5);
  });

  it('dispatches create-service.yml with return_run_details: the run id, its display title from run-name, completed after workflowMs', async () => {
    const dispatched = await call<{ workflow_run_id: number; run_url: string; html_url: string }>(sim.url, 'POST', `${REPO}/boilerplate/actions/workflows/create-service.yml/dispatches`, {
      ref: 'main',
      inputs: { service: 'payments' },
      return_run_details: true,
    });
    expect(dispatched.status).toBe(200);
    const { workflow_run_id: runId } = dispatched.body;
    expect(dispatched.body.run_url).toBe(`${sim.url}${REPO}/boilerplate/actions/runs/${runId}`);
    expect(dispatched.body.html_url).toBe(`${sim.url}/flotilla-org/boilerplate/actions/runs/${runId}`);

    const run = (await call<Run>(sim.url, 'GET', `${REPO}/boilerplate/actions/runs/${runId}`)).body;
    expect(run).toMatchObject({ display_title: 'boilerplate payments', event: 'workflow_dispatch', head_branch: 'main', path: '.github/workflows/create-service.yml', status: 'queued', conclusion: null });
    await vi.waitFor(async () => expect((await call<Run>(sim.url, 'GET', `${REPO}/boilerplate/actions/runs/${runId}`)).body.conclusion).toBe('success'), WAIT);

    const plain = await call(sim.url, 'POST', `${REPO}/boilerplate/actions/workflows/create-service.yml/dispatches`, { ref: 'main', inputs: { service: 'billing' } });
    expect(plain.status).toBe(204);
    const listed = (await call<Runs>(sim.url, 'GET', `${REPO}/boilerplate/actions/workflows/create-service.yml/runs?event=workflow_dispatch`)).body;
    expect(listed.workflow_runs.map((r) => r.display_title)).toEqual(['boilerplate billing', 'boilerplate payments']);
    expect(listed.workflow_runs.map((r) => r.run_number)).toEqual([2, 1]);

    expect((await call(sim.url, 'POST', `${REPO}/infra/actions/workflows/apply.yml/dispatches`, { ref: 'main' })).status).toBe(422);
    expect((await call(sim.url, 'POST', `${REPO}/boilerplate/actions/workflows/create-service.yml/dispatches`, { ref: 'no-such-branch' })).status).toBe(422);
    expect((await call(sim.url, 'POST', `${REPO}/boilerplate/actions/workflows/nope.yml/dispatches`, { ref: 'main' })).status).toBe(404);
  });
});

describe('the request log', () => {
  it('names each request by operation, repository and number, with its status, query and body, in arrival order; the control API is not in it', async () => {
    await makeBranch(sim.url, 'infra', 'onboard/logged');
    const from = sim.requests().length;
    const before = Date.now();
    const pr = (await openPull('infra', 'onboard/logged')).body;
    await openPull('infra', 'onboard/logged');
    await call(sim.url, 'GET', `${REPO}/infra/pulls?head=flotilla-org:onboard/logged&state=all`);
    await call(sim.url, 'GET', `${REPO}/infra/pulls/${pr.number}`);
    await enableAutoMerge(pr.node_id);
    await call(sim.url, 'GET', `${REPO}/infra/actions/runs/123`);
    await call(sim.url, 'GET', '/nowhere');
    await fetch(`${sim.url}/_sim/state`);

    const log = sim.requests().slice(from);
    expect(log.map((r) => [r.operation, r.status, r.repo, r.number])).toEqual([
      ['git.getRef', 200, 'infra', undefined],
      ['pulls.create', 201, 'infra', undefined],
      ['git.getRef', 200, 'infra', undefined],
      ['pulls.create', 422, 'infra', undefined],
      ['pulls.list', 200, 'infra', undefined],
      ['pulls.get', 200, 'infra', pr.number],
      ['graphql.enablePullRequestAutoMerge', 200, undefined, undefined],
      ['actions.getWorkflowRun', 404, 'infra', 123],
      ['unknown', 404, undefined, undefined],
    ]);
    expect(log[1]).toMatchObject({ method: 'POST', path: '/repos/flotilla-org/infra/pulls', body: { head: 'onboard/logged', base: 'main' } });
    expect(log[4]).toMatchObject({ path: '/repos/flotilla-org/infra/pulls', query: { head: 'flotilla-org:onboard/logged', state: 'all' } });
    expect(log.every((r, i) => r.at >= before && (i === 0 || r.at >= log[i - 1]!.at))).toBe(true);
    const viaControl = await (await fetch(`${sim.url}/_sim/requests`)).json();
    expect(viaControl).toEqual(sim.requests());
  });
});

describe('close', () => {
  it('stops everything: no webhook is delivered after close', async () => {
    // A witness simulator does the same at the same pace; once its run's completed webhook is in,
    // the closed one's would have been too.
    const witness = await startGitHubSim({ token: 'sim-token', delays: DELAYS, webhook: { url: receiver.url, secret: SECRET } });
    try {
      const prs = await Promise.all([sim, witness].map(async (s) => (await openPullOn<Pull>(s.url, 'infra', 'onboard/late')).body));
      await Promise.all([sim, witness].map((s, i) => call(s.url, 'POST', '/graphql', { query: ENABLE_AUTO_MERGE, variables: { pullRequestId: prs[i]!.node_id } })));
      await sim.close();
      const from = (s: GitHubSim) => receiver.received.filter((d) => JSON.stringify(d.payload).includes(s.url));
      const before = from(sim).length;
      await vi.waitFor(() => expect(from(witness).map((d) => d.payload.action)).toContain('completed'), WAIT);
      expect(from(sim)).toHaveLength(before);
      expect(sim.happenings().some((h) => h.kind === 'pull_request.merged')).toBe(false);
      await expect(fetch(`${sim.url}/_sim/state`)).rejects.toThrow();
    } finally {
      await witness.close();
    }
  });
});
