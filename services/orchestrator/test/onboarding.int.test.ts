/**
 * The onboarding driver against the emulator and the local GitHub simulator, with no webhooks at
 * all: every wait ends by polling (a webhook may never arrive). The pipeline is not running here
 * (the end-to-end test runs it): the first build's outcome is appended to its stream by the test.
 *
 * - Two drivers at once, each with its own poll clock (two orchestrator tasks during a deploy):
 *   the creation is CREATED and GitHub saw each pull request raised once and one dispatch.
 * - GitHub refusing an action outright (a 422 on turning auto-merge on): FAILED naming the
 *   refusal, and the pull request it had raised is closed.
 * - Intake: GitHub's deliveries are handled once per X-GitHub-Delivery; an infra run is found by
 *   the sha its pull request merged as; one for no creation is ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, newEvent, serviceStream, type GitHubDelivery } from '@flotilla/events';
import { startGitHubSim, type GitHubSim } from '@flotilla/github-sim';
import { createGitHub, createLogger, loadAggregate, onboardingAggregate, openCreation, openCreations, requestService, routeSha, type GitHubPort, type ReceivedMessage } from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import type { OrchestratorDeps } from '../src/handlers/deps.ts';
import { intakeHandler } from '../src/handlers/intake.ts';
import { driveCreations } from '../src/handlers/onboarding/driver.ts';
import { orchestratorTestDeps } from './support.ts';

const aws = testAwsClients();
const TOKEN = 'sim-token-for-the-driver-test';
const POLL = { pollAfterMs: 150 };
let stack: TestStack;
let deps: OrchestratorDeps;
let sim: GitHubSim;
let github: GitHubPort;

const state = async (name: string) => (await loadAggregate(deps.store, serviceStream(name), onboardingAggregate)).state;

async function startCreation(name: string): Promise<void> {
  await requestService(deps.store, { name, team: 'payments', template: 'node-service', environments: ['dev'] }, { stepDeadlineMs: 60_000, causationId: 'test' });
  await openCreation(deps.inFlight, name); // what the relay does on service.requested
}

/** The pipeline's part, played by the test: the first build succeeds. */
async function buildSucceeds(buildId: string): Promise<void> {
  const stream = buildStream(buildId);
  const head = await deps.store.headVersion(stream);
  await deps.store.append(stream, [newEvent({ type: 'build.succeeded', data: {}, correlationId: buildId, causationId: 'test' })], head);
}

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('onboarding'));
  deps = await orchestratorTestDeps(aws, stack);
  // No webhook target: nothing is ever delivered.
  sim = await startGitHubSim({ token: TOKEN, delays: { mergeMs: 100, workflowMs: 150, webhookMs: 10 } });
  github = createGitHub({ baseUrl: sim.url, token: TOKEN, owner: 'flotilla-org', paceWrites: false, logger: createLogger('github-test', 'silent') });
});
afterAll(async () => {
  await sim?.close();
  await stack?.destroy();
  aws.destroy();
});

describe('the onboarding driver', () => {
  it('gets a creation to CREATED by polling alone, two drivers at once repeating nothing on GitHub', async () => {
    const name = `poll-${Date.now().toString(36)}`;
    await startCreation(name);
    const created = await eventually(
      async () => {
        await Promise.all([driveCreations(deps, github, POLL), driveCreations(deps, github, POLL)]);
        const s = await state(name);
        if (s.build && !s.build.status && (await deps.store.headVersion(buildStream(s.build.buildId))) === 1) await buildSucceeds(s.build.buildId);
        return s.status === 'CREATED' ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, description: `${name} to be created` },
    );
    expect(created.build?.status).toBe('SUCCESS');
    expect(sim.deliveries()).toEqual([]);
    const requests = sim.requests();
    const created201 = (repo: string) => requests.filter((r) => r.operation === 'pulls.create' && r.repo === repo && r.status === 201);
    for (const repo of ['infra', 'app-config', 'proxy-upstreams', 'service-definitions']) expect(created201(repo), repo).toHaveLength(1);
    expect(requests.filter((r) => r.operation === 'actions.createWorkflowDispatch' && r.status < 300)).toHaveLength(1);
    // The waits ended by asking GitHub.
    expect(requests.some((r) => r.operation === 'pulls.get')).toBe(true);
    expect(requests.some((r) => r.operation === 'actions.listWorkflowRunsForRepo' && r.query.head_sha === created.pullRequests.infra.mergedSha)).toBe(true);
    // A finished creation is no longer the driver's.
    await driveCreations(deps, github, POLL);
    expect(await openCreations(deps.inFlight)).not.toContain(name);
  });

  it('fails a creation GitHub refuses, naming the refusal, and closes the pull request it had raised', async () => {
    const name = `refused-${Date.now().toString(36)}`;
    sim.inject({ kind: 'http-error', status: 422, method: 'POST', path: '/graphql' });
    await startCreation(name);
    const failed = await eventually(
      async () => {
        await driveCreations(deps, github, POLL);
        const s = await state(name);
        return s.status === 'FAILED' && s.pullRequests.infra.closed ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, description: `${name} to fail and close its infra pull request` },
    );
    expect(failed.failure).toMatchObject({ step: 'infra' });
    expect(failed.failure?.reason).toMatch(/^GitHub refused enable-auto-merge \(infra\): /);
    expect(failed.pullRequests['app-config'].pullRequest).toBeUndefined();
    const infra = sim.pullRequests().find((pr) => pr.repo === 'infra' && pr.number === failed.pullRequests.infra.pullRequest?.number);
    expect(infra?.state).toBe('closed');
    expect(infra?.merged).toBe(false);
  });
});

describe("GitHub's deliveries through intake", () => {
  const received = (body: unknown): ReceivedMessage => ({ message: {}, body: JSON.stringify(body), receiveCount: 1, attributes: {}, logger: createLogger('onboarding-test', 'silent') });

  it('acts once per delivery id, routes an infra run by its merged sha, and ignores one for no creation', async () => {
    const name = `route-${Date.now().toString(36)}`;
    await startCreation(name);
    // Up to the wait for the infra merge (no polling: a long interval).
    await eventually(
      async () => {
        await driveCreations(deps, github, { pollAfterMs: 3_600_000 });
        const s = await state(name);
        return s.pullRequests['proxy-upstreams'].pullRequest ? s : undefined;
      },
      { timeoutMs: 30_000, description: 'steps 1-3' },
    );
    const infra = (await state(name)).pullRequests.infra.pullRequest;
    const mergedSha = 'ab'.repeat(20);
    const handle = intakeHandler(deps);
    const merged: GitHubDelivery = {
      type: 'github.pull_request',
      deliveryId: `d-merge-${name}`,
      action: 'closed',
      service: name,
      pullRequest: { repo: 'infra', number: infra?.number ?? 0, state: 'closed', merged: true, mergedSha },
    };
    for (let i = 0; i < 3; i++) await handle(received(merged));
    expect((await state(name)).pullRequests.infra).toMatchObject({ status: 'merged', mergedSha });
    // The driver ties the merged sha to the creation; a run on main for it, named by sha only, is then this creation's.
    await routeSha(deps.inFlight, 'infra', mergedSha, name);
    const run = (sha: string, id: string): GitHubDelivery => ({
      type: 'github.workflow_run',
      deliveryId: id,
      action: 'completed',
      run: { repo: 'infra', runId: 9001, workflow: 'apply.yml', headSha: sha, status: 'completed', conclusion: 'success', url: 'u' },
    });
    await handle(received(run('cd'.repeat(20), `d-other-${name}`)));
    expect((await state(name)).infraRun).toBeUndefined();
    await handle(received(run(mergedSha, `d-run-${name}`)));
    await handle(received(run(mergedSha, `d-run-${name}`)));
    const after = await loadAggregate(deps.store, serviceStream(name), onboardingAggregate);
    expect(after.state.infraRun).toMatchObject({ runId: 9001, conclusion: 'success' });
    expect(after.history.filter((e) => e.type === 'pull_request.merged' || e.type === 'workflow_run.completed').map((e) => e.type)).toEqual(['pull_request.merged', 'workflow_run.completed']);
  });
});
