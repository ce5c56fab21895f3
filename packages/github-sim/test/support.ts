/**
 * What the simulator's tests share: a webhook receiver (a small Fastify app on 127.0.0.1:0 that
 * keeps each delivery's raw body, so signatures are checked over the bytes that were sent) and a
 * JSON client for the simulator's API.
 */
import Fastify from 'fastify';

export interface ReceivedDelivery {
  at: number;
  event: string;
  deliveryId: string;
  signature: string;
  userAgent: string;
  contentType: string;
  raw: string;
  payload: { action: string; [key: string]: unknown };
}

export interface Receiver {
  url: string;
  received: ReceivedDelivery[];
  /** Deliveries of `event` with `action`, in arrival order. */
  of(event: string, action?: string): ReceivedDelivery[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const app = Fastify();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  const received: ReceivedDelivery[] = [];
  app.post('/webhooks/github', (request, reply) => {
    const header = (name: string) => String(request.headers[name] ?? '');
    const raw = request.body as string;
    received.push({
      at: Date.now(),
      event: header('x-github-event'),
      deliveryId: header('x-github-delivery'),
      signature: header('x-hub-signature-256'),
      userAgent: header('user-agent'),
      contentType: header('content-type'),
      raw,
      payload: JSON.parse(raw) as ReceivedDelivery['payload'],
    });
    return reply.code(204).send();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  return {
    url: `http://127.0.0.1:${address.port}/webhooks/github`,
    received,
    of: (event, action) => received.filter((d) => d.event === event && (action === undefined || d.payload.action === action)),
    close: () => app.close(),
  };
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON call to the simulator: `call(sim.url, 'POST', '/repos/o/r/pulls', {...})`. */
export async function call<T = Record<string, unknown>>(baseUrl: string, method: string, path: string, body?: unknown, token = 'sim-token'): Promise<Answer<T>> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

export const ENABLE_AUTO_MERGE = `mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number autoMergeRequest { enabledAt mergeMethod } }
  }
}`;

/**
 * Makes `branch` from main's head (as a client does before a pull request: GitHub opens none for a
 * branch that does not exist, nor for one with nothing main lacks) and, unless `file` is null,
 * commits one file on it. Returns the branch's head sha.
 */
export async function makeBranch(baseUrl: string, repo: string, branch: string, file: { path: string; content: string } | null = { path: `${branch}.txt`, content: `${branch}\n` }, token = 'sim-token'): Promise<string> {
  const path = `/repos/flotilla-org/${repo}`;
  const main = await call<{ object: { sha: string } }>(baseUrl, 'GET', `${path}/git/ref/heads/main`, undefined, token);
  const made = await call<{ object: { sha: string } }>(baseUrl, 'POST', `${path}/git/refs`, { ref: `refs/heads/${branch}`, sha: main.body.object.sha }, token);
  if (made.status !== 201) throw new Error(`creating ${repo}:${branch} answered ${made.status}`);
  if (file === null) return made.body.object.sha;
  const put = await call<{ commit: { sha: string } }>(baseUrl, 'PUT', `${path}/contents/${file.path}`, { message: `add ${file.path}`, content: Buffer.from(file.content).toString('base64'), branch }, token);
  if (put.status !== 201) throw new Error(`committing ${file.path} on ${repo}:${branch} answered ${put.status}`);
  return put.body.commit.sha;
}

/**
 * Opens a pull request from `head` (`branch` or `owner:branch`) into main, making the branch with
 * one file first when it does not exist yet (requests that are in the request log too).
 */
export async function openPull<T = Record<string, unknown>>(baseUrl: string, repo: string, head: string, fields: { title?: string; body?: string } = {}, token = 'sim-token'): Promise<Answer<T>> {
  const branch = head.slice(head.indexOf(':') + 1);
  const existing = await call(baseUrl, 'GET', `/repos/flotilla-org/${repo}/git/ref/heads/${branch}`, undefined, token);
  if (existing.status === 404) await makeBranch(baseUrl, repo, branch, undefined, token);
  return call<T>(baseUrl, 'POST', `/repos/flotilla-org/${repo}/pulls`, { title: fields.title ?? `onboard ${branch}`, head, base: 'main', ...(fields.body === undefined ? {} : { body: fields.body }) }, token);
}
