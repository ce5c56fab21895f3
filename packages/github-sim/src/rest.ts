/**
 * The REST endpoints the GitHub port calls, with GitHub's paths, status codes and JSON. Each route
 * names its Octokit operation (route config `operation`) for the request log. Bodies, parameters
 * and queries are parsed with zod: a bad body answers GitHub's 422 Validation Failed, a
 * non-numeric number GitHub's 404.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { notFound, validationFailed } from './errors.ts';
import { commentJson, contentJson, fileCommitJson, pullRequestJson, refJson, workflowRunJson } from './shapes.ts';
import type { Simulation } from './simulation.ts';

const repoParams = z.object({ owner: z.string(), repo: z.string() });
const numberParams = repoParams.extend({ number: z.coerce.number().int().positive() });
const workflowParams = repoParams.extend({ workflow_id: z.string().min(1) });
const runParams = repoParams.extend({ run_id: z.coerce.number().int().positive() });
/** Branch names and file paths contain `/`: their routes end in a wildcard, which Fastify decodes (Octokit sends `%2F`). */
const refParams = repoParams.extend({ '*': z.string().regex(/^heads\/.+/) });
const pathParams = repoParams.extend({ '*': z.string().min(1) });

const createRefBody = z.object({ ref: z.string().min(1), sha: z.string().regex(/^[0-9a-f]{40}$/) });
const contentQuery = z.object({ ref: z.string().min(1).optional() });
const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/=\s]*$/, 'content is not valid Base64')
  .transform((text) => Buffer.from(text, 'base64').toString('utf8'));
const putFileBody = z.object({
  message: z.string().min(1),
  content: base64,
  branch: z.string().min(1).optional(),
  sha: z.string().min(1).optional(),
});

const createPullBody = z.object({
  title: z.string().min(1),
  head: z.string().min(1),
  base: z.string().min(1),
  body: z.string().nullish(),
});
const updatePullBody = z.object({
  state: z.enum(['open', 'closed']).optional(),
  title: z.string().min(1).optional(),
  body: z.string().nullish(),
});
const commentBody = z.object({ body: z.string().min(1) });
const dispatchBody = z.object({
  ref: z.string().min(1),
  inputs: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .optional()
    .default({}),
  return_run_details: z.boolean().optional(),
});

const pullsQuery = z.object({
  state: z.enum(['open', 'closed', 'all']).optional(),
  head: z.string().optional(),
  base: z.string().optional(),
});
const runsQuery = z.object({
  head_sha: z.string().optional(),
  branch: z.string().optional(),
  event: z.string().optional(),
  status: z.string().optional(),
});
const pageQuery = z.object({
  per_page: z.coerce.number().int().min(1).max(100).default(30),
  page: z.coerce.number().int().min(1).default(1),
});

/** Parses path parameters; anything that does not parse is a path GitHub does not have: 404. */
function params<T>(schema: z.ZodType<T>, request: FastifyRequest): T {
  const parsed = schema.safeParse(request.params);
  if (!parsed.success) throw notFound();
  return parsed.data;
}

/** Parses a body; failures answer 422 Validation Failed, one item per field, as GitHub does. */
function body<T>(schema: z.ZodType<T>, request: FastifyRequest, resource: string): T {
  const parsed = schema.safeParse(request.body ?? {});
  if (parsed.success) return parsed.data;
  throw validationFailed(
    ...parsed.error.issues.map((issue) => ({
      resource,
      field: issue.path.join('.'),
      code: issue.code === 'invalid_type' && issue.input === undefined ? 'missing_field' : 'invalid',
      message: issue.message,
    })),
  );
}

function query<T>(schema: z.ZodType<T>, request: FastifyRequest, resource: string): T {
  const parsed = schema.safeParse(request.query);
  if (parsed.success) return parsed.data;
  throw validationFailed(...parsed.error.issues.map((issue) => ({ resource, field: issue.path.join('.'), code: 'invalid', message: issue.message })));
}

function page<T>(items: T[], request: FastifyRequest): T[] {
  const { per_page, page } = query(pageQuery, request, 'Search');
  return items.slice((page - 1) * per_page, page * per_page);
}

export function restRoutes(sim: Simulation) {
  return (app: FastifyInstance): Promise<void> => {
    app.get('/repos/:owner/:repo/git/ref/*', { config: { operation: 'git.getRef' } }, (request) => {
      const p = params(refParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const branch = p['*'].slice('heads/'.length);
      return Promise.resolve(refJson(sim.site, repository, branch, sim.branchHead(repository, branch)));
    });

    app.post('/repos/:owner/:repo/git/refs', { config: { operation: 'git.createRef' } }, async (request, reply) => {
      const p = params(repoParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const input = body(createRefBody, request, 'Reference');
      const branch = sim.createBranch(repository, input.ref, input.sha);
      return reply.code(201).send(refJson(sim.site, repository, branch, input.sha));
    });

    app.get('/repos/:owner/:repo/contents/*', { config: { operation: 'repos.getContent' } }, (request) => {
      const p = params(pathParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const { ref } = query(contentQuery, request, 'Content');
      return Promise.resolve(contentJson(sim.site, repository, p['*'], sim.file(repository, p['*'], ref), ref));
    });

    app.put('/repos/:owner/:repo/contents/*', { config: { operation: 'repos.createOrUpdateFileContents' } }, async (request, reply) => {
      const p = params(pathParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const input = body(putFileBody, request, 'Content');
      const { created, file, commit } = sim.putFile(repository, { ...input, path: p['*'] });
      return reply.code(created ? 201 : 200).send(fileCommitJson(sim.site, repository, p['*'], file, commit));
    });

    app.post('/repos/:owner/:repo/pulls', { config: { operation: 'pulls.create' } }, async (request, reply) => {
      const p = params(repoParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const pr = sim.openPullRequest(repository, body(createPullBody, request, 'PullRequest'));
      return reply.code(201).send(pullRequestJson(sim.site, repository, pr));
    });

    app.get('/repos/:owner/:repo/pulls', { config: { operation: 'pulls.list' } }, (request) => {
      const p = params(repoParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const prs = sim.listPullRequests(repository, query(pullsQuery, request, 'PullRequest'));
      return Promise.resolve(page(prs, request).map((pr) => pullRequestJson(sim.site, repository, pr)));
    });

    app.get('/repos/:owner/:repo/pulls/:number', { config: { operation: 'pulls.get' } }, (request) => {
      const p = params(numberParams, request);
      const repository = sim.repository(p.owner, p.repo);
      return Promise.resolve(pullRequestJson(sim.site, repository, sim.pullRequest(repository, p.number)));
    });

    app.patch('/repos/:owner/:repo/pulls/:number', { config: { operation: 'pulls.update' } }, (request) => {
      const p = params(numberParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const pr = sim.updatePullRequest(repository, sim.pullRequest(repository, p.number), body(updatePullBody, request, 'PullRequest'));
      return Promise.resolve(pullRequestJson(sim.site, repository, pr));
    });

    app.put('/repos/:owner/:repo/pulls/:number/merge', { config: { operation: 'pulls.merge' } }, (request) => {
      const p = params(numberParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const pr = sim.mergeNow(repository, sim.pullRequest(repository, p.number));
      return Promise.resolve({ sha: pr.mergeCommitSha, merged: true, message: 'Pull Request successfully merged' });
    });

    app.post('/repos/:owner/:repo/issues/:number/comments', { config: { operation: 'issues.createComment' } }, async (request, reply) => {
      const p = params(numberParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const pr = sim.pullRequest(repository, p.number);
      const comment = sim.comment(pr, body(commentBody, request, 'IssueComment').body);
      return reply.code(201).send(commentJson(sim.site, pr, comment));
    });

    app.post('/repos/:owner/:repo/actions/workflows/:workflow_id/dispatches', { config: { operation: 'actions.createWorkflowDispatch' } }, async (request, reply) => {
      const p = params(workflowParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const workflow = sim.workflow(repository, p.workflow_id);
      const input = body(dispatchBody, request, 'WorkflowDispatch');
      const run = sim.dispatch(repository, workflow, input.ref, input.inputs);
      if (!input.return_run_details) return reply.code(204).send();
      const rendered = workflowRunJson(sim.site, repository, run);
      return reply.code(200).send({ workflow_run_id: run.id, run_url: rendered.url, html_url: rendered.html_url });
    });

    app.get('/repos/:owner/:repo/actions/runs', { config: { operation: 'actions.listWorkflowRunsForRepo' } }, (request) => {
      const p = params(repoParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const q = query(runsQuery, request, 'WorkflowRun');
      const runs = sim.listRuns(repository, { headSha: q.head_sha, branch: q.branch, event: q.event, status: q.status });
      return Promise.resolve({ total_count: runs.length, workflow_runs: page(runs, request).map((run) => workflowRunJson(sim.site, repository, run)) });
    });

    app.get('/repos/:owner/:repo/actions/workflows/:workflow_id/runs', { config: { operation: 'actions.listWorkflowRuns' } }, (request) => {
      const p = params(workflowParams, request);
      const repository = sim.repository(p.owner, p.repo);
      const workflow = sim.workflow(repository, p.workflow_id);
      const q = query(runsQuery, request, 'WorkflowRun');
      const runs = sim.listRuns(repository, { workflow, headSha: q.head_sha, branch: q.branch, event: q.event, status: q.status });
      return Promise.resolve({ total_count: runs.length, workflow_runs: page(runs, request).map((run) => workflowRunJson(sim.site, repository, run)) });
    });

    app.get('/repos/:owner/:repo/actions/runs/:run_id', { config: { operation: 'actions.getWorkflowRun' } }, (request) => {
      const p = params(runParams, request);
      const repository = sim.repository(p.owner, p.repo);
      return Promise.resolve(workflowRunJson(sim.site, repository, sim.run(repository, p.run_id)));
    });

    return Promise.resolve();
  };
}
