/**
 * The load engine with real vegeta processes against a small HTTP server on loopback that answers
 * as the build API does (202 with a build id, 200 for a build), so what the engine measures can be
 * set up: the start instant, a slow API that exhausts the in-flight limit (dropped requests), an
 * abort in the middle. The real API under load is tests/e2e/load.test.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { LoadScript } from '@flotilla/events';
import { eventually } from '@flotilla/platform/testing';
import { runScript, SEED_BUILDS } from '../load.ts';
import { vegetaBinary } from '../vegeta.ts';

const TOKEN = 'load-test-token-0123456789';
let vegeta: string;
let server: Server;
let target: string;
/** What the server saw, in order. */
let seen: { method: string; path: string; auth: string | undefined; key: string | undefined; at: number }[];
let answerDelayMs = 0;
let issued = 0;

beforeAll(async () => {
  vegeta = await vegetaBinary(process.env.FLOTILLA_VEGETA);
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, key: req.headers['idempotency-key'] as string | undefined, at: Date.now() });
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        if (req.method === 'POST' && req.url === '/builds') {
          res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ buildId: `b${String(++issued).padStart(5, '0')}`, status: 'PENDING' }));
        } else if (req.method === 'GET' && req.url?.startsWith('/builds/b')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ buildId: req.url.slice('/builds/'.length), status: 'IN_PROGRESS' }));
        } else res.writeHead(404).end();
      }, answerDelayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
  answerDelayMs = 0;
});

const script = (over: Partial<LoadScript> = {}): LoadScript => ({
  name: 'engine-test',
  durationSeconds: 2,
  scenarios: { submit: 4, read: 4, follow: 4 },
  build: { regions: ['us-east-1'], hostsPerRegion: 1 },
  thresholds: { p95Ms: 1_000, failedRate: 0, droppedIterations: 0 },
  ...over,
});

const gone = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

it('sends its first request at startAt (never before), every scheduled request, and follows the builds it submits', async () => {
  const startAt = Date.now() + 1_500;
  const children: ChildProcess[] = [];
  const run = await runScript(script(), { target, token: TOKEN, vegeta, startAt, onSpawn: (c) => children.push(c) });

  // vegeta's own record of the first send, against the instant asked for.
  const first = Date.parse(run.summary.firstRequestAt ?? '');
  expect(first).toBeGreaterThanOrEqual(startAt);
  expect(run.startLagMs).toBe(first - startAt);
  expect(run.startLagMs).toBeLessThan(250);
  // The server agrees: nothing of the attacks (the seeds come before) arrived before startAt.
  const attackRequests = seen.slice(SEED_BUILDS);
  expect(Math.min(...attackRequests.map((r) => r.at))).toBeGreaterThanOrEqual(startAt);

  expect(run.summary).toMatchObject({ requests: 24, failed: 0, dropped: 0, statuses: { '202': 8, '200': 16 }, passed: true });
  expect(run.scenarios).toMatchObject({ submit: { sent: 8, scheduled: 8 }, read: { sent: 8 }, follow: { sent: 8 } });
  expect(run.buildIds).toHaveLength(SEED_BUILDS + 8);
  expect(new Set(run.buildIds).size).toBe(run.buildIds.length);

  // Every request carries the token; every submission its own Idempotency-Key.
  expect(seen.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
  const keys = seen.filter((r) => r.method === 'POST').map((r) => r.key);
  expect(new Set(keys).size).toBe(SEED_BUILDS + 8);
  // Reads ask for the seeds; follows ask for builds the submit scenario was given, once it has any.
  const seeds = new Set(run.buildIds.slice(0, SEED_BUILDS));
  const asked = seen.filter((r) => r.method === 'GET').map((r) => r.path.slice('/builds/'.length));
  expect(asked.every((id) => run.buildIds.includes(id))).toBe(true);
  expect(asked.filter((id) => !seeds.has(id)).length).toBeGreaterThan(0);
  expect(children.length).toBe(6);
  expect(children.every(gone)).toBe(true);
});

it('counts as dropped what a slow API kept it from sending within its in-flight limit, and fails the threshold', async () => {
  answerDelayMs = 1_200;
  const run = await runScript(script({ scenarios: { submit: 4, read: 0, follow: 0 } }), { target, token: TOKEN, vegeta, maxWorkers: 1 });
  // One request in flight at a time, 1.2 s each, over a 2 s schedule of 8.
  expect(run.summary.requests).toBeLessThanOrEqual(3);
  expect(run.summary.dropped).toBe(8 - run.summary.requests);
  expect(run.summary.thresholds.find((t) => t.name === 'droppedIterations')).toMatchObject({ actual: run.summary.dropped, ok: false });
  expect(run.summary.passed).toBe(false);
});

it('an abort stops the attacks and their vegeta processes, and rejects', async () => {
  const stop = new AbortController();
  const children: ChildProcess[] = [];
  const running = runScript(script({ durationSeconds: 30 }), { target, token: TOKEN, vegeta, signal: stop.signal, onSpawn: (c) => children.push(c) });
  await eventually(() => Promise.resolve(seen.filter((r) => r.method === 'GET').length >= 2 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50, description: 'two reads under way' });
  const abortedAt = Date.now();
  stop.abort(new Error('stop now'));
  await expect(running).rejects.toThrow('stop now');
  expect(Date.now() - abortedAt).toBeLessThan(5_000);
  expect(children.length).toBe(6);
  expect(children.every(gone)).toBe(true);
});

it('refuses a target off this machine before sending anything', async () => {
  await expect(runScript(script(), { target: 'http://192.0.2.10:8080', token: TOKEN, vegeta })).rejects.toThrow(/not loopback/);
  expect(seen).toEqual([]);
});
