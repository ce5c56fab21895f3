/**
 * The README's run command owns what it starts, and the emulator it starts keeps its state.
 * Each test runs its own emulator on a private port with its state in a temp directory, and its
 * own service ports (never 4566 or 8080-8083). Every process a run starts inherits a unique
 * marker variable, so "nothing left behind" is a scan of /proc for that marker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { CreateTableCommand, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, expect, it } from 'vitest';
import { createAwsClients } from '@flotilla/platform';
import { eventually, testEnv } from '@flotilla/platform/testing';
import { ROOT, SERVICES } from '../../scripts/fleet.ts';
import { answers, privateEmulator as startPrivateEmulator, type PrivateEmulator } from '../support/private-emulator.ts';

const RUN_SCRIPT = join(ROOT, 'scripts/run.sh');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A listener that accepts connections and never answers them (a port held by something else). */
const connections = new Map<Server, Set<Socket>>();
function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const open = new Set<Socket>();
    const server = createServer((socket) => {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    });
    connections.set(server, open);
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    // close() waits for open connections; a probe's connection is never read, so end it here.
    for (const socket of connections.get(server) ?? []) socket.destroy();
    server.close(() => resolve());
  });

/** A base with every service port free, away from the fixed 8080-8083 and the ephemeral range. */
async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    const servers: Server[] = [];
    try {
      for (let i = 0; i < SERVICES.length; i++) servers.push(await listen(base + i, '0.0.0.0'));
      return base;
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map(close));
    }
  }
  throw new Error('no free port base found');
}

/** A private emulator endpoint and state directory for one test, removed afterwards. */
async function privateEmulator(): Promise<PrivateEmulator> {
  const emulator = await startPrivateEmulator();
  cleanups.push(emulator.cleanup);
  return emulator;
}

/** Pids of live processes whose environment carries the marker. */
function processesWithMarker(marker: string): number[] {
  const needle = `FLOTILLA_RUN_MARKER=${marker}`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle);
      } catch {
        return false; // gone, or not ours to read
      }
    })
    .map(Number);
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} not done within ${ms} ms`)), ms);
    }),
  ]);
}

interface Run {
  child: ChildProcess;
  marker: string;
  output(): string;
  exit: Promise<number | null>;
}

/** `./scripts/run.sh` in its own process group, as a terminal runs a foreground command. */
function startRun(args: string[], env: NodeJS.ProcessEnv): Run {
  const marker = randomBytes(8).toString('hex');
  const child = spawn(RUN_SCRIPT, args, {
    cwd: ROOT,
    env: { ...env, LOG_LEVEL: 'info', FLOTILLA_RUN_MARKER: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started: Run = { child, marker, output: () => output, exit };
  cleanups.push(async () => {
    // Only if the test failed before the run ended: stop its group so nothing outlives the file.
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
    await withDeadline(exit, 60_000, 'run.sh exit in cleanup').catch(() => undefined);
  });
  return started;
}

/**
 * Checked the moment the run has exited, not after a grace: a run that owns its processes waits
 * for each to exit before it does (an orphaned service would die later, of its closed log pipe).
 */
async function expectNothingLeft(run: Run, endpoint: string): Promise<void> {
  expect(processesWithMarker(run.marker), "processes carrying the run's marker").toEqual([]);
  expect(await answers(endpoint), `emulator at ${endpoint} still answers`).toBe(false);
}

it('a taken service port is named with the setting that moves it, and nothing is started', async () => {
  const emulator = await privateEmulator();
  const base = await freePortBase();
  const blocker = await listen(base + 1, '127.0.0.1');
  cleanups.push(() => close(blocker));

  const runScript = startRun(['--port-base', String(base)], emulator.env);
  const code = await withDeadline(runScript.exit, 60_000, 'run.sh exit');

  expect(code, runScript.output()).not.toBe(0);
  const replication = SERVICES.findIndex((s) => s.name === 'replication');
  expect(runScript.output()).toContain(`port ${base + replication} is in use; the replication service needs it`);
  expect(runScript.output()).toContain('--port-base');
  expect(runScript.output()).not.toContain('starting MiniStack');
  await expectNothingLeft(runScript, emulator.endpoint);
});

it('a taken emulator port is named with AWS_ENDPOINT_URL, and nothing is started', async () => {
  const emulator = await privateEmulator();
  const base = await freePortBase();
  // Holds the port without answering HTTP, so the run cannot mistake it for an emulator.
  const blocker = await listen(emulator.port, '127.0.0.1');
  cleanups.push(() => close(blocker));

  const runScript = startRun(['--port-base', String(base)], emulator.env);
  const code = await withDeadline(runScript.exit, 60_000, 'run.sh exit');

  expect(code, runScript.output()).not.toBe(0);
  expect(runScript.output()).toContain(`port ${emulator.port} is in use; the emulator`);
  expect(runScript.output()).toContain('AWS_ENDPOINT_URL=');
  expect(processesWithMarker(runScript.marker)).toEqual([]);
});

it('Ctrl-C while the fleet is starting stops the services spawned so far and the emulator, and exits 130', async () => {
  const emulator = await privateEmulator();
  const base = await freePortBase();
  const runScript = startRun(['--port-base', String(base)], { ...emulator.env, EMULATOR_PERSIST: '1' });

  // The moment that used to leak: emulator up, a service spawned, the fleet not up yet.
  await eventually(() => Promise.resolve(/spawned \S+ \(pid \d+\)/.test(runScript.output()) ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 20,
    description: 'a service spawned',
  });
  expect(runScript.output()).toContain(`emulator healthy at ${emulator.endpoint}`);
  expect(runScript.output()).not.toContain('Flotilla is up');
  const servicePids = [...runScript.output().matchAll(/spawned \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  expect(servicePids.length).toBeGreaterThan(0);
  expect(processesWithMarker(runScript.marker)).toEqual(expect.arrayContaining(servicePids));

  // A terminal's Ctrl-C: SIGINT to the foreground process group.
  process.kill(-(runScript.child.pid ?? 0), 'SIGINT');
  const code = await withDeadline(runScript.exit, 60_000, 'run.sh exit after SIGINT');

  expect(code, runScript.output()).toBe(130);
  expect(runScript.output()).toContain('everything this command started has stopped');
  await expectNothingLeft(runScript, emulator.endpoint);
});

it('the emulator keeps tables, items, queued messages (queue and DLQ) and S3 objects across a restart; --fresh starts empty', async () => {
  const emulator = await privateEmulator();
  const env = { ...emulator.env, EMULATOR_PERSIST: '1' };
  const emulatorSh = (...args: string[]) => emulator.script(args, { EMULATOR_PERSIST: '1' });
  const aws = createAwsClients({
    region: testEnv.AWS_REGION,
    endpoint: emulator.endpoint,
    credentials: { accessKeyId: testEnv.AWS_ACCESS_KEY_ID, secretAccessKey: testEnv.AWS_SECRET_ACCESS_KEY },
  });
  cleanups.push(() => Promise.resolve(aws.destroy()));
  const table = 'persist-items';
  const bucket = 'persist-bucket';
  const key = { pk: { S: 'build-1' } };

  await emulatorSh('start');
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await aws.dynamodb.send(new PutItemCommand({ TableName: table, Item: { ...key, status: { S: 'SUCCESS' } } }));
  const dlq = await aws.sqs.send(new CreateQueueCommand({ QueueName: 'persist-work-dlq' }));
  const dlqArn = (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  const redrive = JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 });
  const work = await aws.sqs.send(new CreateQueueCommand({ QueueName: 'persist-work', Attributes: { RedrivePolicy: redrive } }));
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: work.QueueUrl, MessageBody: 'queued work' }));
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: dlq.QueueUrl, MessageBody: 'dead letter' }));
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'artifacts/a.zip', Body: 'artifact bytes' }));

  const stop = await emulatorSh('stop');
  expect(stop.stderr).toContain('saving its state');
  expect(await answers(emulator.endpoint)).toBe(false);
  await emulatorSh('start');

  const item = await aws.dynamodb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
  expect(item.Item).toEqual({ ...key, status: { S: 'SUCCESS' } });
  const receive = async (queue: string) => {
    const { QueueUrl } = await aws.sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
    const got = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }));
    return { url: QueueUrl, bodies: (got.Messages ?? []).map((m) => m.Body) };
  };
  expect((await receive('persist-work')).bodies).toEqual(['queued work']);
  expect((await receive('persist-work-dlq')).bodies).toEqual(['dead letter']);
  const attributes = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: work.QueueUrl, AttributeNames: ['RedrivePolicy'] }));
  expect(JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ deadLetterTargetArn: dlqArn });
  const object = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'artifacts/a.zip' }));
  expect(await object.Body?.transformToString()).toBe('artifact bytes');

  // --fresh never wipes the state of an emulator that is running and was not started by it.
  const refused = await emulatorSh('start', '--fresh').then(
    () => 'started',
    (error: unknown) => (error as { stderr: string }).stderr,
  );
  expect(refused).toContain('--fresh refuses');
  const runFresh = startRun(['--fresh', '--port-base', String(await freePortBase())], env);
  expect(await withDeadline(runFresh.exit, 60_000, 'run.sh --fresh exit'), runFresh.output()).not.toBe(0);
  expect(runFresh.output()).toContain('--fresh refuses to wipe its state');
  expect((await aws.dynamodb.send(new GetItemCommand({ TableName: table, Key: key }))).Item).toBeDefined();

  await emulatorSh('stop');
  await emulatorSh('start', '--fresh');
  expect((await aws.dynamodb.send(new ListTablesCommand({}))).TableNames ?? []).toEqual([]);
  expect((await aws.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? []).toEqual([]);
  expect((await aws.s3.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
  await emulatorSh('stop');
});

it('makes the API token (mode 0600) when missing, gives it to the services, prints how to use it, and listens on loopback', async () => {
  const emulator = await privateEmulator();
  const base = await freePortBase();
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-token-'));
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const tokenFile = join(dir, 'api-token');
  const { FLOTILLA_API_TOKEN: _inherited, ...env } = emulator.env;
  const runScript = startRun(['--port-base', String(base)], { ...env, FLOTILLA_API_TOKEN_FILE: tokenFile });

  await eventually(() => Promise.resolve(runScript.output().includes('Flotilla is up') ? true : undefined), { timeoutMs: 110_000, intervalMs: 100, description: 'Flotilla is up' });
  const token = readFileSync(tokenFile, 'utf8').trim();
  expect(token.length).toBeGreaterThanOrEqual(32);
  expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  expect(runScript.output()).toContain(`curl -s -H "Authorization: Bearer $(cat ${tokenFile})"`);
  expect(runScript.output()).not.toContain(token);

  const api = `http://127.0.0.1:${base}`;
  // The console's URL comes first, and the build service serves the page run.sh built.
  const said = runScript.output().split('\n').filter((line) => line.includes('[flotilla]'));
  const up = said.findIndex((line) => line.includes('Flotilla is up:'));
  expect(said[up + 1]).toContain(`console       ${api}/ `);
  const page = await fetch(`${api}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<script type="module"[^>]* src="\/assets\/[^"]+\.js"/);
  const without = await fetch(`${api}/builds`);
  expect(without.status).toBe(401);
  expect(without.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect((await fetch(`${api}/builds`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  // Every service says where it listens: loopback, the default.
  const hosts = [...runScript.output().matchAll(/http server listening .*"host":"([^"]+)"/g)].map((m) => m[1]);
  expect(hosts).toEqual(SERVICES.map(() => '127.0.0.1'));

  process.kill(-(runScript.child.pid ?? 0), 'SIGINT');
  expect(await withDeadline(runScript.exit, 60_000, 'run.sh exit after SIGINT'), runScript.output()).toBe(130);
  await expectNothingLeft(runScript, emulator.endpoint);
});
