/**
 * The GitHub port: the few GitHub calls onboarding makes (make a branch carrying a change and open,
 * read, auto-merge and close its pull request; dispatch and read workflow runs), as small named
 * functions over one composed Octokit client. The only place that wraps Octokit.
 *
 * Retries are the plugins' and honour GitHub's own pacing: plugin-retry retries 5xx and network
 * failures (1 s, 4 s, 9 s, ...), plugin-throttling waits out a primary rate limit until its
 * x-ratelimit-reset and a secondary one for its retry-after, each up to `retries` times, logging
 * each wait at warn. Every answer is parsed with zod, only the fields read, so a change on
 * GitHub's side fails loudly, naming the field. Every failure is a GitHubError classed retryable
 * (5xx, rate limit, network, timeout) or not (any other 4xx, a GraphQL error, an answer that does
 * not parse).
 */
import { retry } from '@octokit/plugin-retry';
import { throttling, type ThrottlingOptions } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { z } from 'zod';
import { workflowFileOf, type ChangedFile } from '@flotilla/events';
import { ConfigError, FlotillaError } from './errors.ts';
import type { Logger } from './logger.ts';

export interface GitHubConfig {
  /** https://api.github.com in production; a simulator's URL in tests. GraphQL is at `${baseUrl}/graphql`. */
  baseUrl: string;
  token: string;
  owner: string;
  logger: Logger;
  /** Retries of 5xx and rate limits before giving up (default 3). */
  retries?: number;
  /** Each attempt's deadline (default 10 s); a timed-out attempt is retried like a 5xx. */
  requestTimeoutMs?: number;
  /**
   * Space writes as GitHub asks integrators to (plugin-throttling: 1 s between writes, 3 s
   * between requests that notify, such as opening a pull request or commenting). Default true;
   * false only against the simulator, which does not need it, so tests do not crawl.
   */
  paceWrites?: boolean;
}

export interface PullRequestInfo {
  repo: string;
  number: number;
  nodeId: string;
  /** html_url */
  url: string;
  /** The head branch. */
  ref: string;
  headSha: string;
  state: 'open' | 'closed';
  merged: boolean;
  /** The merge commit's sha once merged; null before (GitHub's merge_commit_sha of an open PR is a test merge, never returned). */
  mergedSha: string | null;
  autoMerge: boolean;
}

export interface WorkflowRunInfo {
  repo: string;
  id: number;
  /** The workflow's file name, e.g. 'apply.yml' (from the run's path). */
  workflow: string;
  displayTitle: string;
  event: string;
  headSha: string;
  headBranch: string;
  status: string;
  conclusion: string | null;
  /** html_url */
  url: string;
}

export type MergeMethod = 'MERGE' | 'SQUASH' | 'REBASE';

export interface GitHubPort {
  /** The organisation (or user) whose repositories the port works on. */
  readonly owner: string;
  /**
   * Makes `branch` from `base`'s head (an existing one is kept), commits each of `files` on it whose
   * content differs there (one commit per file, through the contents API), then opens the pull
   * request. Idempotent on the branch: a file already as wanted is not committed again, so a repeat
   * or a concurrent call commits nothing twice; when GitHub answers 422 'A pull request already
   * exists', the open PR for that head is returned; when it answers 422 'No commits between' (the
   * branch was merged already, e.g. by the auto-merge a first call enabled), the merged PR is.
   */
  openPullRequest(input: { repo: string; branch: string; base: string; title: string; body: string; files: readonly ChangedFile[] }): Promise<PullRequestInfo>;
  getPullRequest(repo: string, number: number): Promise<PullRequestInfo>;
  /**
   * GraphQL enablePullRequestAutoMerge with the PR's node_id. A pull request GitHub can merge at
   * once (no required checks) is refused auto-merge as "in clean status": it is merged directly
   * then, as `gh pr merge --auto` does. Says which it was. Other GraphQL errors become GitHubError
   * (not retryable unless a 5xx/rate limit).
   */
  enableAutoMerge(pr: { repo: string; number: number; nodeId: string }, mergeMethod?: MergeMethod): Promise<'enabled' | 'merged'>;
  /** Comments, then closes; a PR already closed is left as it is (no second comment). */
  closePullRequest(repo: string, number: number, comment: string): Promise<void>;
  /** workflow_dispatch with return_run_details: true; returns the run's id and html url. */
  dispatchWorkflow(input: { repo: string; workflow: string; ref: string; inputs: Record<string, string> }): Promise<{ runId: number; url: string }>;
  /** Runs on `repo` whose head_sha is `sha`, newest first. */
  workflowRunsForSha(repo: string, sha: string): Promise<WorkflowRunInfo[]>;
  /** Runs of one workflow (its file name), optionally filtered (event, branch); newest first. */
  workflowRuns(repo: string, workflow: string, filter?: { event?: string; branch?: string }): Promise<WorkflowRunInfo[]>;
  getWorkflowRun(repo: string, runId: number): Promise<WorkflowRunInfo>;
}

/** A GitHub call failed. `status` is the HTTP status (undefined for a GraphQL error or a network failure). */
export class GitHubError extends FlotillaError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  /** A GraphQL error's type (NOT_FOUND, UNPROCESSABLE, ...), when that is what failed. */
  readonly graphqlType: string | undefined;

  constructor(
    message: string,
    details: { status?: number | undefined; retryable: boolean; graphqlType?: string | undefined; context: Record<string, unknown> },
    options?: { cause?: unknown },
  ) {
    super(message, { ...details.context, ...(details.status === undefined ? {} : { status: details.status }) }, options);
    this.status = details.status;
    this.retryable = details.retryable;
    this.graphqlType = details.graphqlType;
  }
}

const configSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  token: z.string().min(1),
  owner: z.string().regex(/^[A-Za-z0-9-]+$/, 'a GitHub owner (letters, digits, dashes)'),
  retries: z.number().int().min(0).max(10).default(3),
  requestTimeoutMs: z.number().int().positive().default(10_000),
  paceWrites: z.boolean().default(true),
});

// Only the fields read. merged is absent from list items (GitHub's pull-request-simple); merged_at says it there.
const pullRequestSchema = z.object({
  number: z.number().int(),
  node_id: z.string().min(1),
  html_url: z.string(),
  state: z.enum(['open', 'closed']),
  merged: z.boolean().optional(),
  merged_at: z.string().nullable(),
  merge_commit_sha: z.string().nullable(),
  auto_merge: z.object({}).loose().nullable(),
  head: z.object({ ref: z.string(), sha: z.string() }),
});
const workflowRunSchema = z.object({
  id: z.number().int(),
  path: z.string(),
  display_title: z.string(),
  event: z.string(),
  head_sha: z.string(),
  head_branch: z.string().nullable(),
  status: z.string().nullable(),
  conclusion: z.string().nullable(),
  html_url: z.string(),
});
const refSchema = z.object({ object: z.object({ sha: z.string().min(1) }) });
const fileSchema = z.object({ type: z.literal('file'), sha: z.string().min(1), encoding: z.literal('base64'), content: z.string() });
const fileWrittenSchema = z.object({ content: z.object({ sha: z.string().min(1) }).nullable(), commit: z.object({ sha: z.string().min(1) }) });
const workflowRunsSchema = z.object({ total_count: z.number().int(), workflow_runs: z.array(workflowRunSchema) });
const dispatchSchema = z.object({ workflow_run_id: z.number().int(), html_url: z.string() });
const autoMergeSchema = z.object({ enablePullRequestAutoMerge: z.object({ pullRequest: z.object({ number: z.number().int() }).nullable() }).nullable() });

/**
 * Writes of one file tried before giving up: a write refused because another writer changed the
 * file in between (409 stale sha, 422 sha not supplied) is decided again from a fresh read.
 */
const FILE_WRITE_ATTEMPTS = 3;

/** Listing calls ask for GitHub's largest page: onboarding's filters leave few runs and pull requests. */
const PER_PAGE = 100;
/** Not retried by plugin-retry: client errors, and 429, which plugin-throttling retries after its retry-after. */
const DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];

const ENABLE_AUTO_MERGE = `mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: { pullRequestId: $pullRequestId, mergeMethod: $mergeMethod }) {
    pullRequest { number }
  }
}`;

/**
 * plugin-throttling's pacing groups, replaced by ones that pace nothing (`paceWrites: false`):
 * the plugin only calls `group.key(id).schedule(options, task, ...args)`.
 */
const UNPACED = { key: () => ({ schedule: (_options: unknown, task: (...args: unknown[]) => unknown, ...args: unknown[]) => task(...args) }) } as unknown as NonNullable<
  Extract<ThrottlingOptions, { enabled?: boolean | undefined; onRateLimit: unknown }>['write']
>;

/** One fetch per attempt, each with its own deadline (a retried attempt gets a fresh one). */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
  };
}

interface OctokitFailure {
  name?: string;
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
  errors?: { type?: string; message?: string }[];
}

/** GitHub's message from an error answer: `message`, with each validation item's own message. */
function githubMessage(data: unknown): string | undefined {
  const parsed = z.object({ message: z.string(), errors: z.array(z.object({ message: z.string().optional(), code: z.string().optional() }).loose()).optional() }).safeParse(data);
  if (!parsed.success) return undefined;
  const details = (parsed.data.errors ?? []).map((e) => e.message ?? e.code).filter(Boolean);
  return details.length > 0 ? `${parsed.data.message}: ${details.join('; ')}` : parsed.data.message;
}

/** Any Octokit failure as a GitHubError, classed retryable or not. */
function toGitHubError(error: unknown, operation: string, context: Record<string, unknown>): GitHubError {
  if (error instanceof GitHubError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as OctokitFailure;
  const ctx = { operation, ...context };
  if (e.name === 'GraphqlResponseError' && Array.isArray(e.errors)) {
    const first = e.errors[0];
    const rateLimited = e.errors.some((g) => g.type === 'RATE_LIMITED');
    const text = e.errors.map((g) => `${g.type ?? 'ERROR'}: ${g.message ?? ''}`).join('; ');
    return new GitHubError(`GitHub ${operation} failed: ${text}`, { retryable: rateLimited, graphqlType: first?.type, context: ctx }, { cause: error });
  }
  if (typeof e.status === 'number' && e.response) {
    const status = e.status;
    const headers = e.response.headers ?? {};
    const rateLimited = status === 429 || (status === 403 && (headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(githubMessage(e.response.data) ?? '')));
    const message = githubMessage(e.response.data) ?? e.message ?? `HTTP ${status}`;
    return new GitHubError(`GitHub ${operation} answered ${status}: ${message}`, { status, retryable: status >= 500 || rateLimited, context: ctx }, { cause: error });
  }
  // No answer: a network failure, a timeout (Octokit reports both as status 500 without a response).
  const message = e.message ?? String(error);
  return new GitHubError(`GitHub ${operation} failed without an answer: ${message}`, { retryable: true, context: ctx }, { cause: error });
}

/** Parses an answer; a mismatch is a GitHubError naming the field, never retried (GitHub changed, or the URL is not GitHub). */
function parseAnswer<T>(schema: z.ZodType<T>, data: unknown, operation: string, context: Record<string, unknown>): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new GitHubError(`GitHub ${operation} answered an unexpected shape: ${z.prettifyError(parsed.error)}`, { retryable: false, context: { operation, ...context } });
}

export function createGitHub(config: GitHubConfig): GitHubPort {
  const parsedConfig = configSchema.safeParse({ ...config, logger: undefined });
  if (!parsedConfig.success) throw new ConfigError(`invalid GitHub configuration: ${z.prettifyError(parsedConfig.error)}`, { baseUrl: config.baseUrl, owner: config.owner });
  const { baseUrl, token, owner, retries, requestTimeoutMs, paceWrites } = parsedConfig.data;
  const log = config.logger.child({ component: 'github' });

  const rateLimited = (kind: string) => (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
    const giveUp = retryCount >= retries;
    log.warn({ method: options.method, url: options.url, retryAfterSeconds: retryAfter, retryCount, giveUp }, `GitHub ${kind} rate limit: ${giveUp ? 'giving up' : `retrying in ${retryAfter} s`}`);
    return !giveUp;
  };

  /**
   * Logs every failed attempt (the innermost hook, so it sees the ones the plugins retry): at warn
   * when it may pass on a retry (5xx, rate limit, no answer), at debug otherwise (a 404 or 422 is
   * often an answer the port expects, such as "a pull request already exists").
   */
  const logAttempts = (octokit: Pick<Octokit, 'hook'>) => {
    octokit.hook.error('request', (error, options) => {
      const failure = toGitHubError(error, `${options.method} ${options.url}`, {});
      const retryCount = (options.request as { retryCount?: number } | undefined)?.retryCount ?? 0;
      log[failure.retryable ? 'warn' : 'debug']({ method: options.method, url: options.url, status: failure.status, retryCount }, failure.message);
      throw error;
    });
  };

  const GitHubOctokit = Octokit.plugin(logAttempts, retry, throttling);
  const octokit = new GitHubOctokit({
    baseUrl,
    auth: token,
    userAgent: 'flotilla',
    // Octokit's own lines: one per request (info, error on failure, with GitHub's request id) at
    // debug, as the port logs failures itself; its debug line carries the headers, so it is dropped.
    log: { debug: () => {}, info: (message: string) => log.debug(message), warn: (message: string) => log.warn(message), error: (message: string) => log.debug(message) },
    request: { fetch: fetchWithTimeout(requestTimeoutMs) },
    retry: { retries, doNotRetry: DO_NOT_RETRY },
    throttle: {
      onRateLimit: rateLimited('primary'),
      onSecondaryRateLimit: rateLimited('secondary'),
      ...(paceWrites ? {} : { write: UNPACED, notifications: UNPACED }),
    },
  });

  // Octokit hands every call the same `request` options object (its defaults') unless the call
  // brings its own, and plugin-retry counts attempts in it (`request.retryCount`): after one failed
  // call, every later call's first retry would wait 4 s instead of 1 s. Every hook of a call gets
  // that call's one options object, so this outermost hook (registered last) gives the call a
  // `request` of its own before the plugins see it.
  octokit.hook.wrap('request', (request, options) => {
    options.request = { ...options.request };
    return request(options);
  });

  /** Runs one GitHub operation, turning whatever fails into a GitHubError with the operation's context. */
  async function call<T>(operation: string, context: Record<string, unknown>, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toGitHubError(error, operation, context);
    }
  }

  const pullRequestInfo = (repo: string, data: unknown, operation: string): PullRequestInfo => {
    const pr = parseAnswer(pullRequestSchema, data, operation, { repo });
    const merged = pr.merged ?? pr.merged_at !== null;
    return {
      repo,
      number: pr.number,
      nodeId: pr.node_id,
      url: pr.html_url,
      ref: pr.head.ref,
      headSha: pr.head.sha,
      state: pr.state,
      merged,
      mergedSha: merged ? pr.merge_commit_sha : null,
      autoMerge: pr.auto_merge !== null,
    };
  };

  const runInfo = (repo: string, run: z.infer<typeof workflowRunSchema>): WorkflowRunInfo => ({
    repo,
    id: run.id,
    workflow: workflowFileOf(run.path),
    displayTitle: run.display_title,
    event: run.event,
    headSha: run.head_sha,
    headBranch: run.head_branch ?? '',
    status: run.status ?? 'unknown',
    conclusion: run.conclusion,
    url: run.html_url,
  });

  /** The newest pull request for `branch` that is open, or merged (newest first is GitHub's default order). */
  async function existingPullRequest(repo: string, branch: string, which: 'open' | 'merged'): Promise<PullRequestInfo | undefined> {
    const { data } = await octokit.rest.pulls.list({ owner, repo, head: `${owner}:${branch}`, state: which === 'open' ? 'open' : 'closed', per_page: PER_PAGE });
    const found = parseAnswer(z.array(z.unknown()), data, 'pulls.list', { repo }).map((pr) => pullRequestInfo(repo, pr, 'pulls.list'));
    return found.find((pr) => pr.ref === branch && (which === 'open' ? pr.state === 'open' : pr.merged));
  }

  /** The file's blob sha and text at the head of `branch`, or undefined when it is not there. */
  async function readFile(repo: string, branch: string, path: string): Promise<{ sha: string; content: string } | undefined> {
    try {
      const { data } = await octokit.rest.repos.getContent({ owner, repo, path, ref: branch });
      const file = parseAnswer(fileSchema, data, 'repos.getContent', { repo, branch, path });
      return { sha: file.sha, content: Buffer.from(file.content, 'base64').toString('utf8') };
    } catch (error) {
      if ((error as OctokitFailure).status === 404) return undefined;
      throw error;
    }
  }

  /** Makes `branch` at `base`'s head unless it exists (GitHub's 422 'Reference already exists'). */
  async function ensureBranch(repo: string, branch: string, base: string): Promise<void> {
    const { data } = await octokit.rest.git.getRef({ owner, repo, ref: `heads/${base}` });
    const { sha } = parseAnswer(refSchema, data, 'git.getRef', { repo, ref: base }).object;
    try {
      await octokit.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha });
      log.debug({ repo, branch, base, sha }, 'branch made');
    } catch (error) {
      const e = error as OctokitFailure;
      if (e.status !== 422 || !/reference already exists/i.test(githubMessage(e.response?.data) ?? '')) throw error;
    }
  }

  /**
   * Commits `file` on `branch` unless it already reads so there. The write names the sha read, so a
   * writer that lost a race is refused (409, or 422 when the file appeared meanwhile) and decides
   * again from what the winner wrote, which is usually the same content: then nothing is written.
   */
  async function commitFile(repo: string, branch: string, file: ChangedFile, message: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = await readFile(repo, branch, file.path);
      if (current?.content === file.content) return;
      try {
        const { data } = await octokit.rest.repos.createOrUpdateFileContents({
          owner,
          repo,
          path: file.path,
          branch,
          message,
          content: Buffer.from(file.content, 'utf8').toString('base64'),
          ...(current ? { sha: current.sha } : {}),
        });
        const written = parseAnswer(fileWrittenSchema, data, 'repos.createOrUpdateFileContents', { repo, branch, path: file.path });
        log.info({ repo, branch, path: file.path, commit: written.commit.sha }, current ? 'file updated on the branch' : 'file added on the branch');
        return;
      } catch (error) {
        const status = (error as OctokitFailure).status;
        if ((status !== 409 && status !== 422) || attempt >= FILE_WRITE_ATTEMPTS) throw error;
        log.debug({ repo, branch, path: file.path, status, attempt }, 'file changed by another writer meanwhile: reading it again');
      }
    }
  }

  const getPullRequest = (repo: string, number: number) =>
    call('pulls.get', { repo, number }, async () => {
      const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: number });
      return pullRequestInfo(repo, data, 'pulls.get');
    });

  return {
    owner,

    openPullRequest: async (input) => {
      const context = { repo: input.repo, branch: input.branch };
      await call('git.createRef', { ...context, base: input.base }, () => ensureBranch(input.repo, input.branch, input.base));
      for (const file of input.files) {
        await call('repos.createOrUpdateFileContents', { ...context, path: file.path }, () => commitFile(input.repo, input.branch, file, `${input.title}: ${file.path}`));
      }
      return call('pulls.create', context, async () => {
        try {
          const { data } = await octokit.rest.pulls.create({ owner, repo: input.repo, head: input.branch, base: input.base, title: input.title, body: input.body });
          return pullRequestInfo(input.repo, data, 'pulls.create');
        } catch (error) {
          const e = error as OctokitFailure;
          const refusal = e.status === 422 ? githubMessage(e.response?.data) : undefined;
          const open = refusal !== undefined && /pull request already exists/i.test(refusal);
          const merged = refusal !== undefined && /no commits between/i.test(refusal);
          if (!open && !merged) throw error;
          const existing = await existingPullRequest(input.repo, input.branch, open ? 'open' : 'merged');
          if (existing) {
            log.info({ repo: input.repo, branch: input.branch, number: existing.number }, `pull request for the branch already ${open ? 'open' : 'merged'}: using it`);
            return existing;
          }
          // Closed (or the branch changed) between GitHub's 422 and the read: trying again decides anew.
          throw new GitHubError(`GitHub pulls.create answered 422: ${refusal}, but no ${open ? 'open' : 'merged'} pull request for ${owner}:${input.branch} was found`, {
            status: 422,
            retryable: true,
            context: { operation: 'pulls.create', repo: input.repo, branch: input.branch },
          });
        }
      });
    },

    getPullRequest,

    enableAutoMerge: async ({ repo, number, nodeId }, mergeMethod = 'MERGE') => {
      try {
        await call('graphql.enablePullRequestAutoMerge', { nodeId, mergeMethod }, async () => {
          const data = await octokit.graphql(ENABLE_AUTO_MERGE, { pullRequestId: nodeId, mergeMethod });
          const answer = parseAnswer(autoMergeSchema, data, 'graphql.enablePullRequestAutoMerge', { nodeId });
          if (!answer.enablePullRequestAutoMerge?.pullRequest) {
            throw new GitHubError(`GitHub graphql.enablePullRequestAutoMerge answered no pull request for ${nodeId}`, { retryable: false, context: { nodeId } });
          }
        });
        return 'enabled';
      } catch (error) {
        if (!(error instanceof GitHubError) || error.graphqlType !== 'UNPROCESSABLE' || !/clean status/i.test(error.message)) throw error;
      }
      // Mergeable at once, so auto-merge has nothing to wait for: merge it now.
      await call('pulls.merge', { repo, number }, async () => {
        await octokit.rest.pulls.merge({ owner, repo, pull_number: number, merge_method: mergeMethod.toLowerCase() as 'merge' | 'squash' | 'rebase' });
      });
      log.info({ repo, number }, 'auto-merge refused on a pull request already mergeable ("clean status"): merged directly');
      return 'merged';
    },

    closePullRequest: async (repo, number, comment) => {
      const pr = await getPullRequest(repo, number);
      if (pr.state === 'closed') return;
      await call('issues.createComment', { repo, number }, () => octokit.rest.issues.createComment({ owner, repo, issue_number: number, body: comment }));
      await call('pulls.update', { repo, number }, () => octokit.rest.pulls.update({ owner, repo, pull_number: number, state: 'closed' }));
    },

    dispatchWorkflow: (input) =>
      call('actions.createWorkflowDispatch', { repo: input.repo, workflow: input.workflow, ref: input.ref }, async () => {
        const response = await octokit.request('POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', {
          owner,
          repo: input.repo,
          workflow_id: input.workflow,
          ref: input.ref,
          inputs: input.inputs,
          return_run_details: true,
        });
        const run = parseAnswer(dispatchSchema, response.data, 'actions.createWorkflowDispatch', { repo: input.repo, workflow: input.workflow, status: response.status });
        return { runId: run.workflow_run_id, url: run.html_url };
      }),

    workflowRunsForSha: (repo, sha) =>
      call('actions.listWorkflowRunsForRepo', { repo, sha }, async () => {
        const { data } = await octokit.rest.actions.listWorkflowRunsForRepo({ owner, repo, head_sha: sha, per_page: PER_PAGE });
        return parseAnswer(workflowRunsSchema, data, 'actions.listWorkflowRunsForRepo', { repo, sha }).workflow_runs.map((run) => runInfo(repo, run));
      }),

    workflowRuns: (repo, workflow, filter = {}) =>
      call('actions.listWorkflowRuns', { repo, workflow, ...filter }, async () => {
        const { data } = await octokit.rest.actions.listWorkflowRuns({
          owner,
          repo,
          workflow_id: workflow,
          per_page: PER_PAGE,
          ...(filter.event === undefined ? {} : { event: filter.event }),
          ...(filter.branch === undefined ? {} : { branch: filter.branch }),
        });
        return parseAnswer(workflowRunsSchema, data, 'actions.listWorkflowRuns', { repo, workflow }).workflow_runs.map((run) => runInfo(repo, run));
      }),

    getWorkflowRun: (repo, runId) =>
      call('actions.getWorkflowRun', { repo, runId }, async () => {
        const { data } = await octokit.rest.actions.getWorkflowRun({ owner, repo, run_id: runId });
        return runInfo(repo, parseAnswer(workflowRunSchema, data, 'actions.getWorkflowRun', { repo, runId }));
      }),
  };
}
