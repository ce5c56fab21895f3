/**
 * The simulator's records rendered as GitHub renders them: the fields an Octokit user reads, with
 * GitHub's names and types (numeric ids, string node ids, ISO timestamps, nulls where GitHub has
 * nulls). REST answers and webhook payloads share these, as on GitHub.
 */
import type { Repository, SimCommit, SimFile, SimPullRequest, SimWorkflowRun, WorkflowDefinition } from './model.ts';

/** Where the rendered URLs point: the simulator's own base URL and owner. */
export interface Site {
  baseUrl: string;
  owner: string;
}

const OWNER_ID = 90_000_001;
/** The account every action is attributed to (the token's user, the merger, the sender). */
const BOT = { login: 'flotilla-bot', id: 90_000_002, node_id: 'BOT_kgDOsim', type: 'Bot' };

const apiRepo = (site: Site, repo: string) => `${site.baseUrl}/repos/${site.owner}/${repo}`;
const htmlRepo = (site: Site, repo: string) => `${site.baseUrl}/${site.owner}/${repo}`;

export function ownerJson(site: Site) {
  return { login: site.owner, id: OWNER_ID, node_id: 'O_kgDOsim', type: 'Organization' };
}

export function repositoryJson(site: Site, repository: Repository) {
  return {
    id: repository.id,
    node_id: repository.nodeId,
    name: repository.name,
    full_name: `${site.owner}/${repository.name}`,
    private: true,
    owner: ownerJson(site),
    html_url: htmlRepo(site, repository.name),
    url: apiRepo(site, repository.name),
    default_branch: 'main',
  };
}

export function pullRequestJson(site: Site, repository: Repository, pr: SimPullRequest) {
  const repo = repositoryJson(site, repository);
  return {
    id: pr.id,
    node_id: pr.nodeId,
    number: pr.number,
    url: `${apiRepo(site, pr.repo)}/pulls/${pr.number}`,
    html_url: `${htmlRepo(site, pr.repo)}/pull/${pr.number}`,
    state: pr.state,
    locked: false,
    draft: false,
    title: pr.title,
    body: pr.body,
    user: BOT,
    created_at: pr.createdAt,
    updated_at: pr.updatedAt,
    closed_at: pr.closedAt,
    merged: pr.merged,
    merged_at: pr.mergedAt,
    merged_by: pr.merged ? BOT : null,
    merge_commit_sha: pr.mergeCommitSha,
    auto_merge: pr.autoMerge ? { enabled_by: BOT, merge_method: pr.autoMerge.mergeMethod.toLowerCase(), commit_title: null, commit_message: null } : null,
    head: { label: `${site.owner}:${pr.head.ref}`, ref: pr.head.ref, sha: pr.head.sha, user: ownerJson(site), repo },
    base: { label: `${site.owner}:${pr.base.ref}`, ref: pr.base.ref, sha: repository.branches.get(pr.base.ref) ?? null, user: ownerJson(site), repo },
    comments: pr.comments.length,
  };
}

/** A git reference (GET git/ref, POST git/refs); only branches are simulated. */
export function refJson(site: Site, repository: Repository, branch: string, sha: string) {
  return {
    ref: `refs/heads/${branch}`,
    node_id: `REF_kwDO${Buffer.from(`${repository.id}:${branch}`).toString('base64url')}`,
    url: `${apiRepo(site, repository.name)}/git/refs/heads/${branch}`,
    object: { sha, type: 'commit', url: `${apiRepo(site, repository.name)}/git/commits/${sha}` },
  };
}

/** A file's metadata, as in the contents API (and in a PUT's `content`). */
function fileJson(site: Site, repository: Repository, path: string, file: SimFile, ref?: string) {
  const query = ref === undefined ? '' : `?ref=${encodeURIComponent(ref)}`;
  return {
    type: 'file',
    name: path.split('/').at(-1) ?? path,
    path,
    sha: file.sha,
    size: Buffer.byteLength(file.content, 'utf8'),
    url: `${apiRepo(site, repository.name)}/contents/${path}${query}`,
    html_url: `${htmlRepo(site, repository.name)}/blob/${ref ?? 'main'}/${path}`,
    git_url: `${apiRepo(site, repository.name)}/git/blobs/${file.sha}`,
  };
}

/** GET contents/<path>: GitHub sends the content Base64 in lines of 60 characters. */
export function contentJson(site: Site, repository: Repository, path: string, file: SimFile, ref?: string) {
  const encoded = Buffer.from(file.content, 'utf8').toString('base64');
  return { ...fileJson(site, repository, path, file, ref), encoding: 'base64', content: `${encoded.match(/.{1,60}/g)?.join('\n') ?? ''}\n` };
}

/** PUT contents/<path>: the file written and the commit that wrote it. */
export function fileCommitJson(site: Site, repository: Repository, path: string, file: SimFile, commit: SimCommit) {
  return {
    content: fileJson(site, repository, path, file),
    commit: {
      sha: commit.sha,
      node_id: `C_kwDO${commit.sha.slice(0, 12)}`,
      url: `${apiRepo(site, repository.name)}/git/commits/${commit.sha}`,
      html_url: `${htmlRepo(site, repository.name)}/commit/${commit.sha}`,
      message: commit.message,
      author: { name: BOT.login, email: `${BOT.id}+${BOT.login}@users.noreply.github.com` },
      parents: commit.parents.map((sha) => ({ sha, url: `${apiRepo(site, repository.name)}/git/commits/${sha}` })),
    },
  };
}

export function commentJson(site: Site, pr: SimPullRequest, comment: { id: number; body: string; createdAt: string }) {
  return {
    id: comment.id,
    node_id: `IC_kwDO${comment.id}`,
    url: `${apiRepo(site, pr.repo)}/issues/comments/${comment.id}`,
    html_url: `${htmlRepo(site, pr.repo)}/pull/${pr.number}#issuecomment-${comment.id}`,
    issue_url: `${apiRepo(site, pr.repo)}/issues/${pr.number}`,
    body: comment.body,
    user: BOT,
    created_at: comment.createdAt,
    updated_at: comment.createdAt,
  };
}

export function workflowRunJson(site: Site, repository: Repository, run: SimWorkflowRun) {
  return {
    id: run.id,
    node_id: run.nodeId,
    name: run.name,
    display_title: run.displayTitle,
    path: `.github/workflows/${run.workflow}`,
    workflow_id: run.workflowId,
    head_sha: run.headSha,
    head_branch: run.headBranch,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    run_number: run.runNumber,
    run_attempt: 1,
    url: `${apiRepo(site, run.repo)}/actions/runs/${run.id}`,
    html_url: `${htmlRepo(site, run.repo)}/actions/runs/${run.id}`,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    run_started_at: run.createdAt,
    actor: BOT,
    triggering_actor: BOT,
    repository: repositoryJson(site, repository),
  };
}

export function workflowJson(site: Site, repository: Repository, workflow: WorkflowDefinition) {
  return {
    id: workflow.id,
    node_id: `W_kwDO${workflow.id}`,
    name: workflow.name,
    path: `.github/workflows/${workflow.file}`,
    state: 'active',
    url: `${apiRepo(site, repository.name)}/actions/workflows/${workflow.id}`,
    html_url: `${htmlRepo(site, repository.name)}/actions/workflows/${workflow.file}`,
  };
}

/** What every webhook payload carries besides its subject. */
export function webhookEnvelope(site: Site, repository: Repository) {
  return { repository: repositoryJson(site, repository), organization: { login: site.owner, id: OWNER_ID }, sender: BOT };
}

/** GitHub's error bodies carry a documentation link; Octokit appends it to the message. */
export const DOCS = 'https://docs.github.com/rest';
