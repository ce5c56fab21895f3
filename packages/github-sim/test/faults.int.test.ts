/**
 * The simulator's failures on demand, each seen from the client's side: a failing run, a refused
 * merge, HTTP errors and rate limits (with GitHub's headers), webhooks dropped, doubled, delayed,
 * and the duplicate and shuffle modes.
 */
import { verify } from '@octokit/webhooks-methods';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startGitHubSim, type GitHubSim } from '../src/index.ts';
import { call, ENABLE_AUTO_MERGE, makeBranch, openPull, startReceiver, type Receiver, type ReceivedDelivery } from './support.ts';

const SECRET = 'webhook-secret-for-fault-tests';
const DELAYS = { mergeMs: 150, workflowMs: 200, webhookMs: 10 };
const WAIT = { timeout: 5_000, interval: 20 };
const REPO = '/repos/flotilla-org';

let sim: GitHubSim;
let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
  sim = await startGitHubSim({ delays: DELAYS, webhook: { url: receiver.url, secret: SECRET } });
});
afterEach(async () => {
  await sim.close();
  await receiver.close();
});

type Pull = { node_id: string; number: number; state: string; merged: boolean; auto_merge: unknown };

async function mergeOne(repo: string, head: string): Promise<Pull> {
  const pr = (await openPull<Pull>(sim.url, repo, head, { title: head })).body;
  await call(sim.url, 'POST', '/graphql', { query: ENABLE_AUTO_MERGE, variables: { pullRequestId: pr.node_id } });
  return pr;
}

describe('faults', () => {
  it('workflow-fails: the next matching run concludes failure, the one after succeeds', async () => {
    sim.inject({ kind: 'workflow-fails', repo: 'infra', workflow: 'apply.yml' });
    expect(sim.faults()).toMatchObject([{ kind: 'workflow-fails', remaining: 1 }]);
    await mergeOne('infra', 'onboard/one');
    await vi.waitFor(() => expect(sim.workflowRuns()[0]?.status).toBe('completed'), WAIT);
    await mergeOne('infra', 'onboard/two');
    await vi.waitFor(() => expect(sim.workflowRuns()[1]?.status).toBe('completed'), WAIT);
    expect(sim.workflowRuns().map((r) => r.conclusion)).toEqual(['failure', 'success']);
    await vi.waitFor(() => expect(receiver.of('workflow_run', 'completed')).toHaveLength(2), WAIT);
    expect(receiver.of('workflow_run', 'completed').map((d) => (d.payload.workflow_run as { conclusion: string }).conclusion)).toEqual(['failure', 'success']);
    expect(sim.happenings().filter((h) => h.kind === 'workflow_run.completed').map((h) => h.conclusion)).toEqual(['failure', 'success']);
    expect(sim.faults()).toEqual([]);
  });

  it('merge-refused: the pull request stays open with auto-merge off, and auto_merge_disabled is delivered with the reason', async () => {
    sim.inject({ kind: 'merge-refused', repo: 'app-config' });
    const pr = await mergeOne('app-config', 'onboard/conflict');
    const disabled = await vi.waitFor(() => {
      const [delivery] = receiver.of('pull_request', 'auto_merge_disabled');
      expect(delivery).toBeDefined();
      return delivery!;
    }, WAIT);
    expect(disabled.payload).toMatchObject({ reason: 'merge conflict', number: pr.number, pull_request: { state: 'open', merged: false, auto_merge: null } });
    expect((await call<Pull>(sim.url, 'GET', `${REPO}/app-config/pulls/${pr.number}`)).body).toMatchObject({ state: 'open', merged: false, auto_merge: null });
    expect(sim.happenings().map((h) => h.kind)).toEqual(['pull_request.opened', 'auto_merge.enabled', 'auto_merge.refused']);
    // Enabled again, it merges: the fault was used up.
    await call(sim.url, 'POST', '/graphql', { query: ENABLE_AUTO_MERGE, variables: { pullRequestId: pr.node_id } });
    await vi.waitFor(() => expect(sim.pullRequests()[0]?.merged).toBe(true), WAIT);
  });

  it('http-error: the matching request answers the status, `times` of them, then the API answers again', async () => {
    await makeBranch(sim.url, 'infra', 'h');
    const from = sim.requests().length;
    sim.inject({ kind: 'http-error', status: 502, method: 'get', path: '/pulls', times: 2 });
    const path = `${REPO}/infra/pulls`;
    expect((await call(sim.url, 'POST', path, { title: 't', head: 'h', base: 'main' })).status).toBe(201);
    expect(await call(sim.url, 'GET', path)).toMatchObject({ status: 502, body: { message: 'simulated 502' } });
    expect((await call(sim.url, 'GET', `${REPO}/infra/actions/runs`)).status).toBe(200);
    expect((await call(sim.url, 'GET', path)).status).toBe(502);
    expect((await call(sim.url, 'GET', path)).status).toBe(200);
    expect(sim.requests().slice(from).map((r) => r.status)).toEqual([201, 502, 200, 502, 200]);
  });

  it('slow: the matching request is answered delayMs later, the next one at once', async () => {
    sim.inject({ kind: 'slow', delayMs: 300, path: '/actions/runs' });
    const started = Date.now();
    expect((await call(sim.url, 'GET', `${REPO}/infra/actions/runs`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const again = Date.now();
    expect((await call(sim.url, 'GET', `${REPO}/infra/actions/runs`)).status).toBe(200);
    expect(Date.now() - again).toBeLessThan(300);
  });

  it('rate-limit primary: 403 with x-ratelimit-remaining 0 and a reset resetSeconds ahead', async () => {
    sim.inject({ kind: 'rate-limit', mode: 'primary', resetSeconds: 5 });
    const limited = await call(sim.url, 'GET', `${REPO}/infra/pulls`);
    expect(limited.status).toBe(403);
    expect(limited.body.message).toMatch(/^API rate limit exceeded/);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    expect(reset - Date.now() / 1_000).toBeGreaterThan(3.9);
    expect(reset - Date.now() / 1_000).toBeLessThanOrEqual(6);
    expect((await call(sim.url, 'GET', `${REPO}/infra/pulls`)).status).toBe(200);
  });

  it('rate-limit secondary: 403 or 429 with retry-after and GitHub\'s message', async () => {
    sim.inject({ kind: 'rate-limit', mode: 'secondary', retryAfterSeconds: 3 });
    sim.inject({ kind: 'rate-limit', mode: 'secondary', status: 429, path: '/graphql' });
    const limited = await call(sim.url, 'GET', `${REPO}/infra/pulls`);
    expect(limited).toMatchObject({ status: 403, body: { message: expect.stringContaining('secondary rate limit') as unknown } });
    expect(limited.headers.get('retry-after')).toBe('3');
    const graphql = await call(sim.url, 'POST', '/graphql', { query: ENABLE_AUTO_MERGE, variables: { pullRequestId: 'x' } });
    expect(graphql.status).toBe(429);
    expect(graphql.headers.get('retry-after')).toBe('1');
  });

  it('webhook drop, duplicate and delay each act on the next matching delivery only', async () => {
    sim.inject({ kind: 'webhook', action: 'drop', event: 'pull_request', eventAction: 'opened', repo: 'infra' });
    sim.inject({ kind: 'webhook', action: 'duplicate', event: 'pull_request', eventAction: 'opened', repo: 'app-config' });
    sim.inject({ kind: 'webhook', action: 'delay', event: 'pull_request', eventAction: 'opened', repo: 'proxy-upstreams', delayMs: 400 });
    const opened: Record<string, number> = {};
    for (const repo of ['infra', 'app-config', 'proxy-upstreams', 'service-definitions']) {
      await openPull(sim.url, repo, 'onboard/x', { title: 't' });
      opened[repo] = Date.now();
    }
    await vi.waitFor(() => expect(receiver.of('pull_request', 'opened')).toHaveLength(4), WAIT);
    const repoOf = (payload: Record<string, unknown>) => (payload.repository as { name: string }).name;
    const received = receiver.of('pull_request', 'opened');
    expect(received.map((d) => repoOf(d.payload)).sort()).toEqual(['app-config', 'app-config', 'proxy-upstreams', 'service-definitions']);
    const [first, second] = received.filter((d) => repoOf(d.payload) === 'app-config');
    expect(second!.deliveryId).toBe(first!.deliveryId);
    expect(second!.raw).toBe(first!.raw);
    const delayed = received.find((d) => repoOf(d.payload) === 'proxy-upstreams')!;
    expect(delayed.at - opened['proxy-upstreams']!).toBeGreaterThanOrEqual(400);
    // The delayed one arrived last, after the one opened after it.
    expect(received.at(-1)).toBe(delayed);

    const deliveries = sim.deliveries();
    expect(deliveries.filter((d) => d.dropped)).toMatchObject([{ event: 'pull_request', action: 'opened', repo: 'infra' }]);
    expect(deliveries.filter((d) => d.duplicateOf)).toMatchObject([{ repo: 'app-config', duplicateOf: first!.deliveryId, status: 204 }]);
    expect(sim.faults()).toEqual([]);
  });

  it('duplicate + shuffle mode: every delivery twice with its id, released in an order other than the happenings', async () => {
    sim.setWebhookMode({ duplicate: true, shuffle: true });
    const heads = Array.from({ length: 8 }, (_, i) => `onboard/s${i}`);
    for (const head of heads) await openPull(sim.url, 'service-definitions', head, { title: head });
    await vi.waitFor(() => expect(receiver.received).toHaveLength(16), WAIT);

    const byId = new Map<string, ReceivedDelivery[]>();
    for (const d of receiver.received) byId.set(d.deliveryId, [...(byId.get(d.deliveryId) ?? []), d]);
    expect(byId.size).toBe(8);
    for (const copies of byId.values()) {
      expect(copies).toHaveLength(2);
      expect(copies[0]!.raw).toBe(copies[1]!.raw);
      expect(await verify(SECRET, copies[1]!.raw, copies[1]!.signature)).toBe(true);
    }
    const order = [...byId.values()].map((copies) => (copies[0]!.payload.pull_request as { head: { ref: string } }).head.ref);
    expect([...order].sort()).toEqual([...heads].sort());
    // 8! orders: the chance the shuffle keeps the opening order is 1 in 40320.
    expect(order).not.toEqual(heads);
    expect(sim.deliveries().filter((d) => d.duplicateOf)).toHaveLength(8);

    sim.setWebhookMode({});
    await openPull(sim.url, 'service-definitions', 'onboard/plain', { title: 'plain' });
    await vi.waitFor(() => expect(receiver.received).toHaveLength(17), WAIT);
  });

  it('refuses an invalid fault, naming the field', () => {
    expect(() => sim.inject({ kind: 'http-error', status: 200 } as never)).toThrow(/status/);
    expect(() => sim.inject({ kind: 'webhook', action: 'explode' } as never)).toThrow(/action/);
    expect(() => sim.inject({ kind: 'nope' } as never)).toThrow(/kind/);
  });

  it('sends and records nothing while no webhook target is set', async () => {
    const untargeted = await startGitHubSim({ delays: DELAYS });
    try {
      await openPull(untargeted.url, 'infra', 'onboard/unheard', { title: 't' });
      untargeted.setWebhook({ url: receiver.url, secret: SECRET });
      await openPull(untargeted.url, 'infra', 'onboard/heard', { title: 't' });
      await vi.waitFor(() => expect(receiver.of('pull_request', 'opened')).toHaveLength(1), WAIT);
      expect((receiver.received[0]!.payload.pull_request as { head: { ref: string } }).head.ref).toBe('onboard/heard');
      expect(untargeted.deliveries()).toMatchObject([{ action: 'opened', status: 204 }]);
    } finally {
      await untargeted.close();
    }
  });

  it('records a delivery the receiver could not take, without retrying it', async () => {
    await receiver.close();
    await openPull(sim.url, 'infra', 'onboard/unheard', { title: 't' });
    await vi.waitFor(() => expect(sim.deliveries()).toHaveLength(1), WAIT);
    expect(sim.deliveries()[0]).toMatchObject({ event: 'pull_request', action: 'opened', error: expect.stringMatching(/fetch failed|ECONNREFUSED/) as unknown });
    expect(sim.deliveries()[0]?.status).toBeUndefined();
  });
});
