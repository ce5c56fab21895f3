/**
 * The runner agent as the runner image runs it (`node load-tests/agent.ts`, a child process),
 * against a stack of its own in the emulator: its region's bucket holds the assignment and the
 * script, its reports go to the stack's intake topic (read here from a test queue subscribed to it).
 *
 * The run view and the API under load are a small loopback server of this test's, which plays the
 * orchestrator from the reports it reads: GET /testruns/:id is being written beside this agent, so
 * it is not there to drive yet. The server also answers ECS task metadata, as the emulator does for
 * its tasks. The test withholds the first ready report from the view, so the agent must repeat it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEventId, loadSummarySchema, RUNNER_ASSIGNMENT_KEY, runnerReportSchema, scriptKeyOf, type LoadScript, type RunnerReport } from '@flotilla/events';
import { createLogger, locate, resourceNames } from '@flotilla/platform';
import { deployTestStack, eventually, subscribeTestQueue, testAwsClients, testEnv, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { ROOT } from '../../scripts/fleet.ts';
import { runAgent, type RunView } from '../agent.ts';
import { vegetaBinary } from '../vegeta.ts';

const REGION = 'us-east-1';
const TOKEN = 'agent-test-token-0123456789';
const TASK_ARN = 'arn:aws:ecs:us-east-1:000000000000:task/runners/0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const aws = testAwsClients();
let stack: TestStack;
let queueUrl: string;
let server: Server;
let target: string;
let vegeta: string;
/** The view the server answers, by run id; a run it does not hold answers 404. */
const views = new Map<string, RunView>();
let apiRequests = 0;

beforeAll(async () => {
  vegeta = await vegetaBinary(process.env.FLOTILLA_VEGETA);
  stack = await deployTestStack(aws, uniquePrefix('agent'));
  const where = await locate(aws, stack.prefix);
  queueUrl = await subscribeTestQueue(aws, where.topicArn(where.names.topics.intake), `${stack.prefix}-test-reports`);
  server = createServer((req, res) => {
    const url = req.url ?? '';
    req.resume();
    if (url === '/v4/metadata-token/task') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ TaskARN: TASK_ARN, Containers: [] }));
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    const run = /^\/testruns\/([0-9A-Z]{26})$/.exec(url);
    if (run) {
      const view = views.get(run[1] ?? '');
      return void (view ? res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view)) : res.writeHead(404).end());
    }
    apiRequests++;
    if (req.method === 'POST' && url === '/builds') return void res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ buildId: createEventId(), status: 'PENDING' }));
    if (req.method === 'GET' && url.startsWith('/builds/')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"IN_PROGRESS"}');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (queueUrl) await aws.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
  await stack?.destroy();
  aws.destroy();
});

const script = (durationSeconds: number): LoadScript => ({
  name: 'agent-test',
  durationSeconds,
  scenarios: { submit: 2, read: 2, follow: 2 },
  build: { regions: [REGION], hostsPerRegion: 1 },
  thresholds: { p95Ms: 1_000, failedRate: 0, droppedIterations: 0 },
});

/** Stores the run's script and points the region's runners at it, as the orchestrator does. */
async function assign(runId: string, s: LoadScript): Promise<void> {
  const bucket = resourceNames(stack.prefix).regionBucket(REGION);
  await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: scriptKeyOf(runId), Body: JSON.stringify(s), ContentType: 'application/json' }));
  await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: RUNNER_ASSIGNMENT_KEY, Body: JSON.stringify({ runId, scriptKey: scriptKeyOf(runId), target }), ContentType: 'application/json' }));
}

function startAgent(): { child: ChildProcess; logs: string[]; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, 'load-tests/agent.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      FLOTILLA_PREFIX: stack.prefix,
      FLOTILLA_RUNNER_REGION: REGION,
      AWS_REGION: testEnv.AWS_REGION,
      AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      FLOTILLA_API_TOKEN: TOKEN,
      FLOTILLA_VEGETA: vegeta,
      ECS_CONTAINER_METADATA_URI_V4: `${target}/v4/metadata-token`,
      RUNNER_POLL_MS: '200',
      RUNNER_REPORT_BACKOFF_MS: '300',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, logs, exit };
}

/** The reports on the test queue so far (each deleted once read). */
async function receiveReports(): Promise<RunnerReport[]> {
  const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  const reports: RunnerReport[] = [];
  for (const m of out.Messages ?? []) {
    reports.push(runnerReportSchema.parse(JSON.parse(m.Body ?? '')));
    await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
  return reports;
}

const emptyView = (runId: string): RunView => ({ runId, status: 'REQUESTED', regions: { [REGION]: { ready: [], completed: [], tornDown: false } }, finished: false });
const region = (view: RunView) => view.regions[REGION] ?? { ready: [], completed: [], tornDown: false };

it('reports ready until the view shows it, starts at startAt, reports its summary until shown, then stays up until SIGTERM, and exits 0', async () => {
  const runId = createEventId();
  views.set(runId, emptyView(runId));
  await assign(runId, script(2));
  const agent = startAgent();
  try {
    const received: RunnerReport[] = [];
    let startAt: number | undefined;
    const deadline = Date.now() + 60_000;
    // The orchestrator's part, from the reports: the first ready is not let into the view.
    while (!region(views.get(runId) ?? emptyView(runId)).completed.length && Date.now() < deadline) {
      for (const report of await receiveReports()) {
        received.push(report);
        const view = views.get(runId) ?? emptyView(runId);
        expect(report).toMatchObject({ runId, region: REGION, task: TASK_ARN });
        if (report.type === 'testrun.region_ready' && received.filter((r) => r.type === 'testrun.region_ready').length === 2) {
          startAt = Date.now() + 1_500;
          views.set(runId, { ...view, status: 'SCHEDULED', startAt: new Date(startAt).toISOString(), participants: [REGION], regions: { [REGION]: { ...region(view), ready: [report.task] } } });
        }
        if (report.type === 'testrun.region_completed') views.set(runId, { ...view, regions: { [REGION]: { ...region(view), completed: [report.task] } } });
      }
    }
    const readies = received.filter((r) => r.type === 'testrun.region_ready');
    const completions = received.filter((r) => r.type === 'testrun.region_completed');
    expect(readies.length).toBeGreaterThanOrEqual(2);
    expect(completions.length).toBeGreaterThanOrEqual(1);
    const summary = loadSummarySchema.parse(completions[0]?.type === 'testrun.region_completed' ? completions[0].summary : undefined);
    expect(summary).toMatchObject({ requests: 12, failed: 0, dropped: 0, passed: true });
    // Its first request went out at startAt, by vegeta's own record.
    const first = Date.parse(summary.firstRequestAt ?? '');
    expect(first - (startAt ?? 0)).toBeGreaterThanOrEqual(0);
    expect(first - (startAt ?? 0)).toBeLessThan(500);

    // Once its summary is shown it publishes no more and sends no more load, and does not exit.
    const requestsAfter = apiRequests;
    // An absence over a window (the behaviour under test): ten of its 200 ms polls, over six of its 300 ms republish backoffs.
    await sleep(2_000);
    expect(await receiveReports()).toEqual([]);
    expect(apiRequests).toBe(requestsAfter);
    expect(agent.child.exitCode).toBeNull();
    expect(agent.logs.some((l) => l.includes('runner idle until stopped') && l.includes('"outcome":"completed"'))).toBe(true);

    agent.child.kill('SIGTERM');
    expect(await agent.exit).toBe(0);
  } finally {
    agent.child.kill('SIGKILL');
  }
});

it('SIGTERM in the middle of the load stops vegeta and exits 0', async () => {
  const runId = createEventId();
  const startAt = Date.now() + 2_000;
  // A view that already shows every ready task and the start: the agent goes straight through.
  views.set(runId, { ...emptyView(runId), status: 'SCHEDULED', startAt: new Date(startAt).toISOString(), participants: [REGION], regions: { [REGION]: { ready: [TASK_ARN], completed: [], tornDown: false } } });
  await assign(runId, script(60));
  const agent = startAgent();
  try {
    const before = apiRequests;
    await eventually(() => Promise.resolve(apiRequests - before >= 5 || agent.child.exitCode !== null ? true : undefined), { timeoutMs: 30_000, description: 'the load under way' });
    expect(agent.child.exitCode).toBeNull();
    const vegetaPids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(agent.child.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((pid) => pid > 0);
    expect(vegetaPids.length).toBe(6);
    const stoppedAt = Date.now();
    agent.child.kill('SIGTERM');
    expect(await agent.exit).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    for (const pid of vegetaPids) expect(() => process.kill(pid, 0), `vegeta ${pid} still runs`).toThrow();
    expect(agent.logs.some((l) => l.includes('"outcome":"stopped"'))).toBe(true);
  } finally {
    agent.child.kill('SIGKILL');
    await receiveReports();
  }
});

it('in-process (runAgent): a run that ended before it started sends no load, idles, and resolves when stopped', async () => {
  const runId = createEventId();
  views.set(runId, { ...emptyView(runId), status: 'CANCELLED', finished: true });
  await assign(runId, script(2));
  const stop = new AbortController();
  const phases: string[] = [];
  const before = apiRequests;
  const running = runAgent({
    env: { FLOTILLA_PREFIX: stack.prefix, FLOTILLA_RUNNER_REGION: REGION, AWS_REGION: testEnv.AWS_REGION, AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL, FLOTILLA_API_TOKEN: TOKEN, FLOTILLA_VEGETA: vegeta, RUNNER_POLL_MS: '100' },
    signal: stop.signal,
    logger: createLogger('test', 'silent'),
    onPhase: (p) => phases.push(p.phase === 'idle' ? `idle:${p.why}` : p.phase),
  });
  await eventually(() => Promise.resolve(phases.some((p) => p.startsWith('idle')) ? true : undefined), { timeoutMs: 30_000, intervalMs: 50, description: 'the agent idle' });
  expect(phases).toEqual(['assigned', 'idle:ended']);
  expect(apiRequests).toBe(before);
  stop.abort();
  expect(await running).toMatchObject({ outcome: 'ended', runId });
  await receiveReports();
});
