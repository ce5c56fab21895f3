/**
 * The simulator as its own process (the way ./scripts/run.sh starts it): the listening line, the
 * control API (state, faults validated with a 400 naming the field, webhook target and mode), a
 * signed delivery to the target set over the control API, and a clean exit on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { verify } from '@octokit/webhooks-methods';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, ENABLE_AUTO_MERGE, openPull, startReceiver, type Receiver } from './support.ts';

const MAIN = join(import.meta.dirname, '../src/main.ts');
const WAIT = { timeout: 10_000, interval: 25 };

let child: ChildProcess;
let url: string;
let receiver: Receiver;
const dir = mkdtempSync(join(tmpdir(), 'github-sim-'));
writeFileSync(join(dir, 'secret'), 'first-secret\n');
writeFileSync(join(dir, 'token'), 'process-token\n');

/** Starts main.ts and resolves with its listening line, or rejects with what it wrote to stderr. */
function start(args: string[]): Promise<{ child: ChildProcess; line: { msg: string; url: string } }> {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as { msg: string; url: string };
      if (line.msg === 'github simulator listening') resolve({ child: proc, line });
    });
    proc.on('exit', (code) => reject(new Error(`main.ts exited ${code}: ${stderr}`)));
  });
}

beforeAll(async () => {
  receiver = await startReceiver();
  const started = await start([
    '--port', '0',
    '--webhook-url', 'http://127.0.0.1:9/nowhere',
    '--webhook-secret-file', join(dir, 'secret'),
    '--token-file', join(dir, 'token'),
    '--merge-ms', '100', '--workflow-ms', '150', '--webhook-ms', '10',
    '--log-level', 'warn',
  ]);
  child = started.child;
  url = started.line.url;
});
afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await receiver.close();
});

const control = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${url}/_sim/${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
};

describe('the standalone simulator', () => {
  it('prints its loopback URL and answers with the token from the file', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call(url, 'GET', '/repos/flotilla-org/infra/pulls', undefined, 'process-token')).status).toBe(200);
    expect((await call(url, 'GET', '/repos/flotilla-org/infra/pulls', undefined, 'other')).status).toBe(401);
  });

  it('takes faults, webhook target and mode over the control API, refusing invalid ones with 400', async () => {
    const bad = await control('POST', 'faults', { kind: 'rate-limit', mode: 'tertiary' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/mode/);
    expect((await control('PUT', 'webhook', { url: 'not a url', secret: 's' })).status).toBe(400);
    expect((await control('PUT', 'webhook-mode', { duplicate: 'yes' })).status).toBe(400);

    expect((await control('POST', 'faults', { kind: 'workflow-fails', repo: 'infra' })).status).toBe(201);
    expect((await control('PUT', 'webhook', { url: receiver.url, secret: 'second-secret' })).status).toBe(204);
    expect((await control('PUT', 'webhook-mode', { duplicate: true })).status).toBe(204);

    const pr = (await openPull<{ node_id: string }>(url, 'infra', 'onboard/p', { title: 't' }, 'process-token')).body;
    await call(url, 'POST', '/graphql', { query: ENABLE_AUTO_MERGE, variables: { pullRequestId: pr.node_id } }, 'process-token');
    await vi.waitFor(() => expect(receiver.of('workflow_run', 'completed')).toHaveLength(2), WAIT);
    const [completed] = receiver.of('workflow_run', 'completed');
    expect(await verify('second-secret', completed!.raw, completed!.signature)).toBe(true);
    expect(completed!.payload).toMatchObject({ workflow_run: { conclusion: 'failure' } });

    const state = (await control('GET', 'state')).body as { pullRequests: { merged: boolean }[]; workflowRuns: { conclusion: string }[]; faults: unknown[] };
    expect(state.pullRequests).toMatchObject([{ merged: true }]);
    expect(state.workflowRuns).toMatchObject([{ conclusion: 'failure' }]);
    expect(state.faults).toEqual([]);
    const happenings = (await control('GET', 'happenings')).body as unknown as { kind: string }[];
    expect(happenings.map((h) => h.kind)).toContain('workflow_run.completed');
    const deliveries = (await control('GET', 'deliveries')).body as unknown as { duplicateOf?: string }[];
    expect(deliveries.filter((d) => d.duplicateOf).length).toBeGreaterThan(0);
    const requests = (await control('GET', 'requests')).body as unknown as { operation: string }[];
    expect(requests.map((r) => r.operation)).toEqual(['pulls.list', 'pulls.list', 'git.getRef', 'git.getRef', 'git.createRef', 'repos.createOrUpdateFileContents', 'pulls.create', 'graphql.enablePullRequestAutoMerge']);
  });

  it('exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a non-loopback host and bad arguments with exit 2 and the reason', async () => {
    await expect(start(['--host', '0.0.0.0'])).rejects.toThrow(/exited 2: .*loopback only/s);
    await expect(start(['--merge-ms', 'soon'])).rejects.toThrow(/exited 2: .*merge-ms/s);
    await expect(start(['--webhook-url', 'http://127.0.0.1:1/x'])).rejects.toThrow(/go together/);
    await expect(start(['--webhook-url', 'http://127.0.0.1:1/x', '--webhook-secret-file', join(dir, 'missing')])).rejects.toThrow(/cannot read webhook secret file/);
  });
});
