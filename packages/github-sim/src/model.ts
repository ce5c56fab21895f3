/**
 * The simulator's state: the repositories it serves (fixed, the ones onboarding touches), their
 * workflows, and the pull requests and workflow runs made while it runs. Plain records, in
 * memory; `simulation.ts` changes them, `shapes.ts` renders them as GitHub's JSON.
 */
import { createHash, randomBytes } from 'node:crypto';

export type MergeMethod = 'MERGE' | 'SQUASH' | 'REBASE';

export interface WorkflowDefinition {
  /** Numeric id, as GitHub's REST API accepts in place of the file name. */
  id: number;
  /** File name under .github/workflows/, e.g. 'apply.yml'. */
  file: string;
  name: string;
  /** Runs on every push to these branches. */
  pushBranches: readonly string[];
  /** Can be started by workflow_dispatch. */
  dispatchable: boolean;
  /** A run's display title, with `${{ inputs.<name> }}` replaced; absent: the head commit's title. */
  runName?: string;
}

export interface RepositoryDefinition {
  name: string;
  workflows: readonly WorkflowDefinition[];
}

/** The repositories onboarding raises pull requests on or dispatches workflows in. */
export const REPOSITORIES: readonly RepositoryDefinition[] = [
  { name: 'infra', workflows: [{ id: 7_001, file: 'apply.yml', name: 'apply', pushBranches: ['main'], dispatchable: false }] },
  { name: 'app-config', workflows: [] },
  { name: 'proxy-upstreams', workflows: [] },
  { name: 'service-definitions', workflows: [] },
  {
    name: 'boilerplate',
    workflows: [
      {
        id: 7_002,
        file: 'create-service.yml',
        name: 'create-service',
        pushBranches: [],
        dispatchable: true,
        runName: 'boilerplate ${{ inputs.service }}',
      },
    ],
  },
];

/** A file as a commit holds it: its text and its git blob sha (what the contents API calls `sha`). */
export interface SimFile {
  content: string;
  sha: string;
}

/** A commit: its parents and the whole tree it records (path -> file), never changed once made. */
export interface SimCommit {
  sha: string;
  parents: readonly string[];
  message: string;
  files: ReadonlyMap<string, SimFile>;
}

export interface Repository {
  id: number;
  nodeId: string;
  name: string;
  workflows: readonly WorkflowDefinition[];
  /** Branch -> head sha. `main` exists from the start (an empty first commit); others are made by `POST git/refs`. */
  branches: Map<string, string>;
  /** Every commit made, by sha. */
  commits: Map<string, SimCommit>;
  /** The last issue/pull request number given out in this repository. */
  lastNumber: number;
}

export interface SimPullRequest {
  repo: string;
  number: number;
  id: number;
  nodeId: string;
  title: string;
  body: string | null;
  /** GitHub's names: head.ref is the branch, head.sha its head commit (followed while open, kept once merged or closed). */
  head: { ref: string; sha: string };
  base: { ref: string };
  state: 'open' | 'closed';
  merged: boolean;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  closedAt: string | null;
  autoMerge: { enabledAt: string; mergeMethod: MergeMethod } | null;
  /** The bodies of the comments made on it, in order. */
  comments: string[];
  createdAt: string;
  updatedAt: string;
}

export type RunStatus = 'queued' | 'in_progress' | 'completed';
export type RunConclusion = 'success' | 'failure';

export interface SimWorkflowRun {
  repo: string;
  id: number;
  nodeId: string;
  workflowId: number;
  /** File name, e.g. 'apply.yml'. */
  workflow: string;
  name: string;
  displayTitle: string;
  event: 'push' | 'workflow_dispatch';
  headSha: string;
  headBranch: string;
  status: RunStatus;
  conclusion: RunConclusion | null;
  inputs: Record<string, string>;
  runNumber: number;
  createdAt: string;
  updatedAt: string;
}

/** What the simulator itself did, for tests that check the order of steps. */
export interface Happening {
  /** Epoch ms. */
  at: number;
  kind:
    | 'pull_request.opened'
    | 'pull_request.reopened'
    | 'auto_merge.enabled'
    | 'pull_request.merged'
    | 'pull_request.closed'
    | 'auto_merge.refused'
    | 'workflow_run.requested'
    | 'workflow_run.in_progress'
    | 'workflow_run.completed';
  repo: string;
  number?: number;
  sha?: string;
  runId?: number;
  workflow?: string;
  conclusion?: RunConclusion;
}

export const randomSha = (): string => randomBytes(20).toString('hex');

/** Git's blob id, as GitHub's contents API reports a file's `sha`: sha1 of `blob <bytes>\0<content>`. */
export function blobSha(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** GitHub's timestamps: ISO 8601 to the second. */
export const isoSeconds = (epochMs: number): string => new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An opaque, unique GraphQL node id with GitHub's type prefix (e.g. `PR_kwDO...`). */
export function nodeId(prefix: 'R_kgDO' | 'PR_kwDO' | 'WFR_kwLO' | 'IC_kwDO', id: number): string {
  return `${prefix}${Buffer.from(`${id}:${randomBytes(4).toString('hex')}`).toString('base64url')}`;
}

/** The in-memory store: repositories by name, pull requests and runs in creation order. */
export class SimState {
  readonly repositories = new Map<string, Repository>();
  readonly pullRequests: SimPullRequest[] = [];
  readonly runs: SimWorkflowRun[] = [];
  #nextId = { pull: 1_000_000_001, run: 9_000_000_001, comment: 2_000_000_001 };

  constructor(definitions: readonly RepositoryDefinition[] = REPOSITORIES) {
    definitions.forEach((definition, index) => {
      const id = 500_000_001 + index;
      const initial: SimCommit = { sha: randomSha(), parents: [], message: 'Initial commit', files: new Map() };
      this.repositories.set(definition.name, {
        id,
        nodeId: nodeId('R_kgDO', id),
        name: definition.name,
        workflows: definition.workflows,
        branches: new Map([['main', initial.sha]]),
        commits: new Map([[initial.sha, initial]]),
        lastNumber: 0,
      });
    });
  }

  nextId(kind: 'pull' | 'run' | 'comment'): number {
    return this.#nextId[kind]++;
  }

  pullRequest(repo: string, number: number): SimPullRequest | undefined {
    return this.pullRequests.find((pr) => pr.repo === repo && pr.number === number);
  }

  pullRequestByNodeId(id: string): SimPullRequest | undefined {
    return this.pullRequests.find((pr) => pr.nodeId === id);
  }

  run(repo: string, id: number): SimWorkflowRun | undefined {
    return this.runs.find((run) => run.repo === repo && run.id === id);
  }

  /** A workflow by numeric id or file name, as GitHub's `{workflow_id}` path segment accepts. */
  workflow(repository: Repository, idOrFile: string): WorkflowDefinition | undefined {
    return repository.workflows.find((w) => w.file === idOrFile || String(w.id) === idOrFile);
  }
}
