/**
 * What GitHub does, in miniature: branches and the commits the contents API makes on them; pull
 * requests opened (only from a branch with commits its base lacks), commented on, closed;
 * auto-merge that merges after `mergeMs` (a merge commit with the head's files becomes main's
 * head) unless a fault refuses it; a push to
 * main starting the repository's push workflows; workflow_dispatch starting a run; every run
 * completing after `workflowMs`. Each step is recorded as a happening and sent as the webhook
 * GitHub would send.
 */
import type { FastifyBaseLogger } from 'fastify';
import { GitHubApiError, GraphQLError, notFound, validationFailed } from './errors.ts';
import type { FaultBook } from './faults.ts';
import {
  blobSha,
  isoSeconds,
  nodeId,
  randomSha,
  type Happening,
  type MergeMethod,
  type Repository,
  type RunConclusion,
  type SimCommit,
  type SimFile,
  type SimPullRequest,
  type SimState,
  type SimWorkflowRun,
  type WorkflowDefinition,
} from './model.ts';
import type { Scheduler } from './scheduler.ts';
import { pullRequestJson, webhookEnvelope, workflowJson, workflowRunJson, type Site } from './shapes.ts';
import type { Webhooks } from './webhooks.ts';

/** A pull request as the snapshot (`pullRequests()`, `/_sim/state`) shows it: with its head commit's files, path -> content. */
export interface PullRequestSnapshot extends SimPullRequest {
  files: Record<string, string>;
}

export interface Delays {
  /** From auto-merge enabled to merged. */
  mergeMs: number;
  /** From a run requested to completed (in progress at half). */
  workflowMs: number;
}

export interface PullRequestFilter {
  state?: 'open' | 'closed' | 'all';
  /** `branch` or `owner:branch`. */
  head?: string;
  base?: string;
}

export interface RunFilter {
  workflow?: WorkflowDefinition;
  headSha?: string;
  branch?: string;
  event?: string;
  /** A status (queued, in_progress, completed) or a conclusion (success, failure). */
  status?: string;
}

export class Simulation {
  readonly site: Site;
  readonly #state: SimState;
  readonly #scheduler: Scheduler;
  readonly #webhooks: Webhooks;
  readonly #faults: FaultBook;
  readonly #delays: Delays;
  readonly #log: FastifyBaseLogger;
  readonly #happenings: Happening[] = [];
  /** Pending merges by pull request id, cancelled when the pull request is closed first. */
  readonly #pendingMerges = new Map<number, () => void>();

  constructor(options: { site: Site; state: SimState; scheduler: Scheduler; webhooks: Webhooks; faults: FaultBook; delays: Delays; log: FastifyBaseLogger }) {
    this.site = options.site;
    this.#state = options.state;
    this.#scheduler = options.scheduler;
    this.#webhooks = options.webhooks;
    this.#faults = options.faults;
    this.#delays = options.delays;
    this.#log = options.log;
  }

  happenings(): Happening[] {
    return this.#happenings.map((h) => ({ ...h }));
  }

  /** Each pull request with the files of its head commit (path -> content): what it carries. */
  pullRequests(): PullRequestSnapshot[] {
    return this.#state.pullRequests.map((pr) => {
      const files = this.#state.repositories.get(pr.repo)?.commits.get(pr.head.sha)?.files ?? new Map<string, SimFile>();
      return { ...structuredClone(pr), files: Object.fromEntries([...files].map(([path, file]) => [path, file.content])) };
    });
  }

  workflowRuns(): SimWorkflowRun[] {
    return structuredClone(this.#state.runs);
  }

  repository(owner: string, name: string): Repository {
    const repository = owner === this.site.owner ? this.#state.repositories.get(name) : undefined;
    if (!repository) throw notFound();
    return repository;
  }

  pullRequest(repository: Repository, number: number): SimPullRequest {
    const pr = this.#state.pullRequest(repository.name, number);
    if (!pr) throw notFound();
    return pr;
  }

  workflow(repository: Repository, idOrFile: string): WorkflowDefinition {
    const workflow = this.#state.workflow(repository, idOrFile);
    if (!workflow) throw notFound();
    return workflow;
  }

  run(repository: Repository, id: number): SimWorkflowRun {
    const run = this.#state.run(repository.name, id);
    if (!run) throw notFound();
    return run;
  }

  /** GET git/ref/heads/<branch>: the branch's head sha. */
  branchHead(repository: Repository, branch: string): string {
    const sha = repository.branches.get(branch);
    if (sha === undefined) throw notFound();
    return sha;
  }

  /** POST git/refs: a branch at an existing commit; 422 when the name is taken or the commit unknown. */
  createBranch(repository: Repository, ref: string, sha: string): string {
    // GitHub's rule for any ref; only branches are modelled.
    if (!/^refs\/[^/]+\/.+/.test(ref)) throw new GitHubApiError(422, "Reference name must start with 'refs/' and have at least two slashes.");
    if (!ref.startsWith('refs/heads/')) throw new GitHubApiError(422, 'Only branches (refs/heads/...) are simulated');
    const branch = ref.slice('refs/heads/'.length);
    if (repository.branches.has(branch)) throw new GitHubApiError(422, 'Reference already exists');
    if (!repository.commits.has(sha)) throw new GitHubApiError(422, 'Object does not exist');
    repository.branches.set(branch, sha);
    return branch;
  }

  /** GET contents/<path>?ref=: the file at a branch's head (or a commit sha); the default branch without `ref`. */
  file(repository: Repository, path: string, ref = 'main'): SimFile {
    const commit = repository.commits.get(repository.branches.get(ref) ?? ref);
    if (!commit) throw new GitHubApiError(404, `No commit found for the ref ${ref}`);
    const file = commit.files.get(path);
    if (!file) throw notFound();
    return file;
  }

  /**
   * PUT contents/<path>: one commit on `branch` that sets the file. As GitHub: replacing an existing
   * file needs its current blob sha (422 "sha" wasn't supplied; 409 when it is not the current one),
   * so two writers racing on one file cannot overwrite each other unseen.
   */
  putFile(repository: Repository, input: { path: string; content: string; message: string; branch?: string | undefined; sha?: string | undefined }): { created: boolean; file: SimFile; commit: SimCommit } {
    const branch = input.branch ?? 'main';
    const head = repository.commits.get(repository.branches.get(branch) ?? '');
    if (!head) throw new GitHubApiError(404, `Branch ${branch} not found`);
    const existing = head.files.get(input.path);
    if (existing && input.sha === undefined) throw new GitHubApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.');
    if (existing && input.sha !== existing.sha) throw new GitHubApiError(409, `${input.path} does not match ${input.sha ?? ''}`);
    const file: SimFile = { content: input.content, sha: blobSha(input.content) };
    const commit = this.#commit(repository, branch, { parents: [head.sha], message: input.message, files: new Map([...head.files, [input.path, file]]) });
    return { created: !existing, file, commit };
  }

  openPullRequest(repository: Repository, input: { title: string; head: string; base: string; body?: string | null | undefined }): SimPullRequest {
    const headRef = this.#branchOf(input.head);
    const headSha = headRef === undefined ? undefined : repository.branches.get(headRef);
    if (headRef === undefined || headSha === undefined) throw validationFailed({ resource: 'PullRequest', field: 'head', code: 'invalid' });
    const baseSha = repository.branches.get(input.base);
    if (baseSha === undefined) throw validationFailed({ resource: 'PullRequest', field: 'base', code: 'invalid' });
    if (this.#openPullRequestFor(repository, headRef)) {
      throw validationFailed({ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${this.site.owner}:${headRef}.` });
    }
    // Nothing on the head that the base lacks (a fresh branch, or one merged already: a client
    // retrying an open after the merge gets this, not a second pull request).
    if (this.#ancestors(repository, baseSha).has(headSha)) {
      throw validationFailed({ resource: 'PullRequest', code: 'custom', message: `No commits between ${input.base} and ${headRef}` });
    }
    const id = this.#state.nextId('pull');
    const now = isoSeconds(Date.now());
    const pr: SimPullRequest = {
      repo: repository.name,
      number: ++repository.lastNumber,
      id,
      nodeId: nodeId('PR_kwDO', id),
      title: input.title,
      body: input.body ?? null,
      head: { ref: headRef, sha: headSha },
      base: { ref: input.base },
      state: 'open',
      merged: false,
      mergedAt: null,
      mergeCommitSha: null,
      closedAt: null,
      autoMerge: null,
      comments: [],
      createdAt: now,
      updatedAt: now,
    };
    this.#state.pullRequests.push(pr);
    this.#happen({ kind: 'pull_request.opened', repo: pr.repo, number: pr.number, sha: pr.head.sha });
    this.#pullRequestWebhook(repository, pr, 'opened');
    return pr;
  }

  listPullRequests(repository: Repository, filter: PullRequestFilter): SimPullRequest[] {
    const state = filter.state ?? 'open';
    const headRef = filter.head === undefined ? undefined : this.#branchOf(filter.head);
    if (filter.head !== undefined && headRef === undefined) return [];
    return this.#state.pullRequests
      .filter((pr) => pr.repo === repository.name)
      .filter((pr) => state === 'all' || pr.state === state)
      .filter((pr) => headRef === undefined || pr.head.ref === headRef)
      .filter((pr) => filter.base === undefined || pr.base.ref === filter.base)
      .reverse();
  }

  /** PATCH: title, body, and state (closing never merges; reopening needs no other open PR for the head). */
  updatePullRequest(repository: Repository, pr: SimPullRequest, change: { state?: 'open' | 'closed' | undefined; title?: string | undefined; body?: string | null | undefined }): SimPullRequest {
    if (change.title !== undefined) pr.title = change.title;
    if (change.body !== undefined) pr.body = change.body;
    pr.updatedAt = isoSeconds(Date.now());
    if (change.state === 'closed' && pr.state === 'open') {
      this.#pendingMerges.get(pr.id)?.();
      this.#pendingMerges.delete(pr.id);
      Object.assign(pr, { state: 'closed', closedAt: pr.updatedAt, autoMerge: null });
      this.#happen({ kind: 'pull_request.closed', repo: pr.repo, number: pr.number });
      this.#pullRequestWebhook(repository, pr, 'closed');
    } else if (change.state === 'open' && pr.state === 'closed') {
      if (pr.merged || this.#openPullRequestFor(repository, pr.head.ref)) {
        throw validationFailed({ resource: 'PullRequest', field: 'state', code: 'custom', message: 'state cannot be changed. The pull request cannot be reopened.' });
      }
      Object.assign(pr, { state: 'open', closedAt: null });
      this.#happen({ kind: 'pull_request.reopened', repo: pr.repo, number: pr.number });
      this.#pullRequestWebhook(repository, pr, 'reopened');
    }
    return pr;
  }

  comment(pr: SimPullRequest, body: string): { id: number; body: string; createdAt: string } {
    pr.comments.push(body);
    return { id: this.#state.nextId('comment'), body, createdAt: isoSeconds(Date.now()) };
  }

  /** GraphQL enablePullRequestAutoMerge: idempotent while on; the merge follows `mergeMs` later. */
  enableAutoMerge(pullRequestId: string, mergeMethod: MergeMethod): SimPullRequest {
    const pr = this.#state.pullRequestByNodeId(pullRequestId);
    if (!pr) throw new GraphQLError('NOT_FOUND', `Could not resolve to a node with the global id of '${pullRequestId}'`);
    if (pr.state === 'closed') throw new GraphQLError('UNPROCESSABLE', 'Pull request is closed');
    if (pr.autoMerge) return pr;
    // GitHub's exact wording, the subject repeated.
    if (this.#faults.take('clean-status', (f) => f.repo === pr.repo)) throw new GraphQLError('UNPROCESSABLE', 'Pull request Pull request is in clean status');
    const repository = this.repository(this.site.owner, pr.repo);
    pr.autoMerge = { enabledAt: isoSeconds(Date.now()), mergeMethod };
    this.#happen({ kind: 'auto_merge.enabled', repo: pr.repo, number: pr.number });
    this.#pullRequestWebhook(repository, pr, 'auto_merge_enabled');
    this.#pendingMerges.set(
      pr.id,
      this.#scheduler.after(this.#delays.mergeMs, () => {
        this.#pendingMerges.delete(pr.id);
        this.#merge(repository, pr);
      }),
    );
    return pr;
  }

  /** workflow_dispatch on `ref` (a branch: main, or an open pull request's head). */
  dispatch(repository: Repository, workflow: WorkflowDefinition, ref: string, inputs: Record<string, string>): SimWorkflowRun {
    if (!workflow.dispatchable) throw new GitHubApiError(422, "Workflow does not have 'workflow_dispatch' trigger");
    const branch = ref.replace(/^refs\/heads\//, '');
    const headSha = repository.branches.get(branch);
    if (headSha === undefined) throw new GitHubApiError(422, `No ref found for: ${ref}`);
    const title = workflow.runName?.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, name: string) => inputs[name] ?? '') ?? workflow.name;
    return this.#startRun(repository, workflow, { event: 'workflow_dispatch', headSha, headBranch: branch, inputs, title });
  }

  listRuns(repository: Repository, filter: RunFilter): SimWorkflowRun[] {
    return this.#state.runs
      .filter((run) => run.repo === repository.name)
      .filter((run) => filter.workflow === undefined || run.workflowId === filter.workflow.id)
      .filter((run) => filter.headSha === undefined || run.headSha === filter.headSha)
      .filter((run) => filter.branch === undefined || run.headBranch === filter.branch)
      .filter((run) => filter.event === undefined || run.event === filter.event)
      .filter((run) => filter.status === undefined || run.status === filter.status || run.conclusion === filter.status)
      .reverse();
  }

  /** PUT .../pulls/{n}/merge: merged now, as a person merging it would (405 when it is not open). */
  mergeNow(repository: Repository, pr: SimPullRequest): SimPullRequest {
    if (pr.state !== 'open') throw new GitHubApiError(405, 'Pull Request is not mergeable');
    this.#pendingMerges.get(pr.id)?.();
    this.#pendingMerges.delete(pr.id);
    this.#merge(repository, pr, 'now');
    return pr;
  }

  #merge(repository: Repository, pr: SimPullRequest, when: 'auto' | 'now' = 'auto'): void {
    if (pr.state !== 'open' || (when === 'auto' && !pr.autoMerge)) return;
    const refused = when === 'auto' ? this.#faults.take('merge-refused', (f) => f.repo === pr.repo) : undefined;
    if (refused) {
      Object.assign(pr, { autoMerge: null, updatedAt: isoSeconds(Date.now()) });
      this.#happen({ kind: 'auto_merge.refused', repo: pr.repo, number: pr.number });
      this.#pullRequestWebhook(repository, pr, 'auto_merge_disabled', { reason: refused.reason });
      return;
    }
    // The merge commit takes the head's files into the base (no conflicts: onboarding's files are its own).
    const base = repository.commits.get(repository.branches.get(pr.base.ref) ?? '');
    const head = repository.commits.get(pr.head.sha);
    if (!base || !head) throw new Error(`${pr.repo}#${pr.number}: the base or head commit is missing`);
    const message = `Merge pull request #${pr.number} from ${this.site.owner}/${pr.head.ref}`;
    const { sha } = this.#commit(repository, pr.base.ref, { parents: [base.sha, head.sha], message, files: new Map([...base.files, ...head.files]) });
    const now = isoSeconds(Date.now());
    Object.assign(pr, { state: 'closed', merged: true, mergedAt: now, closedAt: now, updatedAt: now, mergeCommitSha: sha });
    this.#happen({ kind: 'pull_request.merged', repo: pr.repo, number: pr.number, sha });
    this.#pullRequestWebhook(repository, pr, 'closed');
    this.#push(repository, pr.base.ref, sha, message);
  }

  /** A new commit on `branch` (its new head); an open pull request from the branch follows it. */
  #commit(repository: Repository, branch: string, commit: Omit<SimCommit, 'sha'>): SimCommit {
    const made: SimCommit = { sha: randomSha(), ...commit };
    repository.commits.set(made.sha, made);
    repository.branches.set(branch, made.sha);
    const open = this.#openPullRequestFor(repository, branch);
    if (open) Object.assign(open, { head: { ...open.head, sha: made.sha }, updatedAt: isoSeconds(Date.now()) });
    return made;
  }

  /** `sha` and every commit it descends from. */
  #ancestors(repository: Repository, sha: string): Set<string> {
    const seen = new Set<string>();
    const pending = [sha];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      pending.push(...(repository.commits.get(next)?.parents ?? []));
    }
    return seen;
  }

  /** A push to `branch` starts every workflow of the repository that runs on pushes to it. */
  #push(repository: Repository, branch: string, sha: string, commitTitle: string): void {
    for (const workflow of repository.workflows.filter((w) => w.pushBranches.includes(branch))) {
      this.#startRun(repository, workflow, { event: 'push', headSha: sha, headBranch: branch, inputs: {}, title: commitTitle });
    }
  }

  #startRun(
    repository: Repository,
    workflow: WorkflowDefinition,
    start: { event: SimWorkflowRun['event']; headSha: string; headBranch: string; inputs: Record<string, string>; title: string },
  ): SimWorkflowRun {
    // The fault is taken when the run starts, so "the next run fails" means the next one started.
    const failing = this.#faults.take('workflow-fails', (f) => f.repo === repository.name && (f.workflow === undefined || f.workflow === workflow.file));
    const conclusion: RunConclusion = failing ? 'failure' : 'success';
    const id = this.#state.nextId('run');
    const now = isoSeconds(Date.now());
    const run: SimWorkflowRun = {
      repo: repository.name,
      id,
      nodeId: nodeId('WFR_kwLO', id),
      workflowId: workflow.id,
      workflow: workflow.file,
      name: workflow.name,
      displayTitle: start.title,
      event: start.event,
      headSha: start.headSha,
      headBranch: start.headBranch,
      status: 'queued',
      conclusion: null,
      inputs: start.inputs,
      runNumber: this.#state.runs.filter((r) => r.repo === repository.name && r.workflowId === workflow.id).length + 1,
      createdAt: now,
      updatedAt: now,
    };
    this.#state.runs.push(run);
    const happening = { repo: run.repo, runId: run.id, sha: run.headSha, workflow: run.workflow };
    this.#happen({ kind: 'workflow_run.requested', ...happening });
    this.#runWebhook(repository, workflow, run, 'requested');
    this.#scheduler.after(this.#delays.workflowMs / 2, () => {
      Object.assign(run, { status: 'in_progress', updatedAt: isoSeconds(Date.now()) });
      this.#happen({ kind: 'workflow_run.in_progress', ...happening });
      this.#runWebhook(repository, workflow, run, 'in_progress');
    });
    this.#scheduler.after(this.#delays.workflowMs, () => {
      Object.assign(run, { status: 'completed', conclusion, updatedAt: isoSeconds(Date.now()) });
      this.#happen({ kind: 'workflow_run.completed', ...happening, conclusion });
      this.#runWebhook(repository, workflow, run, 'completed');
    });
    return run;
  }

  /** `branch` or `<owner>:branch` (this owner only: forks are not simulated); undefined otherwise. */
  #branchOf(head: string): string | undefined {
    const colon = head.indexOf(':');
    if (colon < 0) return head || undefined;
    return head.slice(0, colon) === this.site.owner && colon < head.length - 1 ? head.slice(colon + 1) : undefined;
  }

  #openPullRequestFor(repository: Repository, headRef: string): SimPullRequest | undefined {
    return this.#state.pullRequests.find((pr) => pr.repo === repository.name && pr.head.ref === headRef && pr.state === 'open');
  }

  #happen(happening: Omit<Happening, 'at'>): void {
    this.#happenings.push({ at: Date.now(), ...happening });
    this.#log.debug(happening, 'github simulator: %s', happening.kind);
  }

  #pullRequestWebhook(repository: Repository, pr: SimPullRequest, action: string, extra: Record<string, unknown> = {}): void {
    this.#webhooks.deliver('pull_request', repository.name, {
      action,
      number: pr.number,
      pull_request: pullRequestJson(this.site, repository, pr),
      ...extra,
      ...webhookEnvelope(this.site, repository),
    });
  }

  #runWebhook(repository: Repository, workflow: WorkflowDefinition, run: SimWorkflowRun, action: string): void {
    this.#webhooks.deliver('workflow_run', repository.name, {
      action,
      workflow_run: workflowRunJson(this.site, repository, run),
      workflow: workflowJson(this.site, repository, workflow),
      ...webhookEnvelope(this.site, repository),
    });
  }
}
