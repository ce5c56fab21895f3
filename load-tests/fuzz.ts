/**
 * Bad input, at volume, through every door, against the real fleet (issue 8, "Bad input"):
 *   - HTTP: schemathesis in negative mode against the API's own /openapi.json (host counts capped,
 *     so the few requests it makes that are valid stay small), authenticated so most requests
 *     reach the validators; then hand-written cases schemathesis cannot make (invalid UTF-8,
 *     oversized bodies, deep nesting, broken JSON, bad tokens);
 *   - the intake topic: build.requested messages broken in every field, published through SNS;
 *   - the S3 door: uploads under incoming/ with bad keys and bad metadata.
 * Required, and returned as figures for the caller to check: no process crashed, no HTTP 5xx,
 * every bad intake message and upload in its dead-letter queue with a reason, nothing invalid
 * appended (every item in the log parses as a known event, and only HTTP requests answered 2xx
 * made builds).
 *
 * Usage: node load-tests/fuzz.ts [--http 300] [--intake 6000] [--uploads 3000] [--seed N]
 * (--http is schemathesis' examples per API operation and phase). The emulator must answer on
 * AWS_ENDPOINT_URL (default http://127.0.0.1:4566); the run deploys a stack of its own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishBatchCommand } from '@aws-sdk/client-sns';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { buildRequestSchema, parseEvent } from '@flotilla/events';
import { eventFromItem, forEachLimited, locate, MAX_BODY_BYTES, type AwsClients, type Locator } from '@flotilla/platform';
import { eventually, sampleBuildRequest, testAwsClients } from '@flotilla/platform/testing';
import { ROOT } from '../scripts/fleet.ts';
import { startTestFleet, TEST_API_TOKEN, type TestFleet } from '../tests/support/test-fleet.ts';

export interface FuzzOptions {
  aws: AwsClients;
  /** schemathesis' --max-examples: cases per API operation and phase. */
  httpExamples: number;
  intake: number;
  uploads: number;
  seed: number;
  /** Largest hostsPerRegion the fuzzer may send: keeps its accidental valid requests small. */
  hostsCap?: number;
  progress?: (line: string) => void;
}

export interface FuzzFigures {
  sent: { schemathesis: number; handWritten: number; intake: number; uploads: number; total: number };
  /** HTTP answers by status code, over schemathesis' and the hand-written requests. */
  statuses: Record<string, number>;
  serverErrors: string[];
  /** Requests that got no HTTP answer at all (reset, timeout). */
  noAnswer: number;
  /** Services that exited during the run. */
  crashed: string[];
  intakeDeadLettered: number;
  uploadsDeadLettered: number;
  /** Dead-lettered messages without a FailureReason attribute. */
  withoutReason: number;
  /** Log items that do not parse as a known event, by id. */
  invalidEvents: string[];
  /** Builds in the log, by door; only HTTP requests that were answered 2xx may have made one. */
  builds: Record<string, number>;
  acceptedHttp: number;
}

const SCHEMATHESIS = join(ROOT, '.tools', 'venv', 'bin', 'schemathesis');

/** A seeded PRNG (mulberry32), so a run's inputs can be made again from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function deepNesting(depth: number, open: string, close: string, leaf = '1'): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

/** Build requests each wrong in a way the schema must refuse; cycled through by index. */
export function badBuildRequests(random: () => number): ((i: number) => unknown)[] {
  const valid = () => sampleBuildRequest({ hostsPerRegion: 2, regions: ['us-east-1'] });
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const junk = () => pick<unknown>([null, 0, -1, 1.5, true, '', ' ', '..', '.', 'a/b', '../etc', 'x'.repeat(300), [], {}, ['a'], { $ne: 1 }, '\u0000', '💥', 'DROP TABLE']);
  const field = () => pick(['repo', 'env', 'version', 'branch', 'commit', 'regions', 'hostsPerRegion']);
  return [
    () => ({ ...valid(), [field()]: junk() }),
    () => {
      const request: Record<string, unknown> = valid();
      delete request[pick(['repo', 'env', 'version', 'branch', 'commit'])];
      return request;
    },
    () => ({ ...valid(), repo: pick(['.', '..', '...', 'a b', 'ä', 'x'.repeat(41), '']) }),
    () => ({ ...valid(), version: pick(['.', '..', '1.0/../../x', 'v 1', 'x'.repeat(65)]) }),
    () => ({ ...valid(), regions: pick([[], ['mars-1'], ['us-east-1', 'us-east-1'], 'us-east-1', [1], ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2', 'mars-1']]) }),
    () => ({ ...valid(), hostsPerRegion: pick([0, -1, 1.5, 100_001, 1e308, '10', null, Number.MAX_SAFE_INTEGER + 2]) }),
    () => ({ ...valid(), commit: pick(['xyz', 'ABCDEF1', '123', 'a'.repeat(41)]), branch: pick(['', 'a b', 'x'.repeat(256), 'feat;rm -rf']) }),
    () => pick<unknown>([null, [], 42, 'build', true]),
  ];
}

/** Counts a HAR file's answers by status (schemathesis --report har). */
function harStatuses(path: string): { statuses: Record<string, number>; serverErrors: string[]; accepted: number; total: number } {
  const har = JSON.parse(readFileSync(path, 'utf8')) as { log: { entries: { request: { method: string; url: string }; response: { status: number } }[] } };
  const statuses: Record<string, number> = {};
  const serverErrors: string[] = [];
  let accepted = 0;
  for (const { request, response } of har.log.entries) {
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    if (response.status >= 500 || response.status === 0) serverErrors.push(`${request.method} ${request.url} -> ${response.status}`);
    if (request.method === 'POST' && /\/builds$/.test(new URL(request.url).pathname) && response.status >= 200 && response.status < 300) accepted += 1;
  }
  return { statuses, serverErrors, accepted, total: har.log.entries.length };
}

/** The API document with every hostsPerRegion capped, so schemathesis' valid cases stay small. */
function capHosts(doc: unknown, cap: number): unknown {
  if (Array.isArray(doc)) return doc.map((d) => capHosts(d, cap));
  if (typeof doc !== 'object' || doc === null) return doc;
  return Object.fromEntries(
    Object.entries(doc).map(([k, v]) => [k, k === 'hostsPerRegion' && typeof v === 'object' && v !== null ? { ...v, maximum: cap } : capHosts(v, cap)]),
  );
}

async function runSchemathesis(baseUrl: string, token: string | undefined, options: FuzzOptions, dir: string) {
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json());
  const docPath = join(dir, 'openapi.json');
  writeFileSync(docPath, JSON.stringify(capHosts(doc, options.hostsCap ?? 5)));
  const har = join(dir, 'schemathesis.har.json');
  const args = [
    'run', docPath, '--url', baseUrl, '--mode', 'negative', '--phases', 'coverage,fuzzing',
    '--max-examples', String(options.httpExamples), '--seed', String(options.seed), '--workers', '2',
    '--checks', 'not_a_server_error', '--suppress-health-check', 'all', '--no-shrink', '--continue-on-failure',
    '--request-timeout', '10', '--report', 'har', '--report-har-path', har, '--output-sanitize', 'true',
    ...(token ? ['--header', `Authorization: Bearer ${token}`] : []),
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4_000);
      for (const line of chunk.toString().split('\n')) if (/^\s*(✅|❌|🚫|⏭|GET|POST|Test cases|=+ .* in )/u.test(line)) options.progress?.(`schemathesis: ${line.trim()}`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    // Exit 1 means "found failures": the HAR holds them and the caller judges. Anything else is a broken run.
    child.on('exit', (code) => (code === 0 || code === 1 ? resolve() : reject(new Error(`schemathesis exited ${code}:\n${tail}`))));
  });
  return harStatuses(har);
}

/** The server closed the connection while the body was still being sent (a refusal to read it), with no answer read first. */
export const CLOSED_WHILE_SENDING = -1;

/**
 * One raw HTTP/1.1 request over a socket, so the body can be any bytes. The body goes in 64 KB
 * chunks and stops as soon as an answer arrives, so an answer the server sends before reading the
 * whole body (413, then close) is read. When the server closes first and the write fails (EPIPE),
 * Node drops the socket with any unread answer: that case is reported as CLOSED_WHILE_SENDING,
 * not as "no answer". Returns the status, or 0 when no answer came.
 */
async function rawRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<number> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let answer = '';
  let writeFailed = false;
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.setTimeout(15_000, () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
    if (answer.length > 64) socket.destroy();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ECONNRESET') writeFailed = true;
  });
  const write = (data: string | Buffer) => new Promise<boolean>((resolve) => socket.write(data, (error) => resolve(!error)));
  const head = [`${method} ${pathname}${search} HTTP/1.1`, `host: ${hostname}:${port}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), ...(body ? [`content-length: ${body.length}`] : []), '', ''].join('\r\n');
  if (await write(head)) {
    for (let at = 0; body && at < body.length && answer === '' && !socket.destroyed; at += 65_536) {
      if (!(await write(body.subarray(at, at + 65_536)))) break;
    }
  }
  await closed;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
  return status === 0 && writeFailed ? CLOSED_WHILE_SENDING : status;
}

/** The cases schemathesis cannot make: bytes that are not UTF-8, bodies past the limit, nesting, broken framing, bad tokens. */
function handWrittenCases(token: string | undefined, random: () => number): { name: string; method: string; path: string; headers: Record<string, string>; body?: Buffer }[] {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const json: Record<string, string> = { 'content-type': 'application/json', ...auth };
  const post = (name: string, body: Buffer, headers: Record<string, string> = json) => ({ name, method: 'POST', path: '/builds', headers: { ...headers, 'idempotency-key': `fuzz-${name}-${Math.floor(random() * 1e12)}` }, body });
  const validJson = JSON.stringify(sampleBuildRequest({ hostsPerRegion: 2, regions: ['us-east-1'] }));
  return [
    post('invalid-utf8', Buffer.concat([Buffer.from('{"repo":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('","env":"prod"}')])),
    post('invalid-utf8-whole', Buffer.from([0xff, 0xfe, 0xfd, 0x80, 0x81])),
    post('lone-surrogate', Buffer.from('{"repo":"\\ud800","env":"prod","version":"1","branch":"m","commit":"abc1234"}')),
    post('oversized-1mb', Buffer.from(JSON.stringify({ ...JSON.parse(validJson), pad: 'x'.repeat(1 << 20) }))),
    post('oversized-8mb', Buffer.alloc(8 << 20, 0x20)),
    post('deep-array', Buffer.from(deepNesting(100_000, '[', ']'))),
    post('deep-object', Buffer.from(deepNesting(50_000, '{"a":', '}'))),
    post('deep-in-field', Buffer.from(`{"repo":${deepNesting(20_000, '[', ']')},"env":"prod"}`)),
    post('truncated', Buffer.from(validJson.slice(0, validJson.length / 2))),
    post('empty', Buffer.alloc(0)),
    post('nul-bytes', Buffer.from('{"repo":"a\u0000b","env":"prod","version":"1","branch":"m","commit":"abc1234"}')),
    post('huge-number', Buffer.from(validJson.replace(/"hostsPerRegion":\d+/, '"hostsPerRegion":1e400'))),
    post('duplicate-keys', Buffer.from(validJson.replace(/^\{/, '{"hostsPerRegion":100001,').replace(/"hostsPerRegion":\d+\}$/, '"hostsPerRegion":100001}'))),
    post('proto-pollution', Buffer.from(validJson.replace(/^\{/, '{"__proto__":{"hostsPerRegion":100001},"constructor":{"prototype":{"x":1}},'))),
    post('form-encoded', Buffer.from('repo=a&env=prod'), { 'content-type': 'application/x-www-form-urlencoded', ...auth }),
    post('text-plain', Buffer.from(validJson), { 'content-type': 'text/plain', ...auth }),
    post('charset-latin1', Buffer.from(validJson, 'latin1'), { 'content-type': 'application/json; charset=latin1', ...auth }),
    post('no-token', Buffer.from(validJson), { 'content-type': 'application/json' }),
    post('wrong-token', Buffer.from(validJson), { 'content-type': 'application/json', authorization: `Bearer ${'x'.repeat(token?.length ?? 32)}` }),
    post('basic-auth', Buffer.from(validJson), { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' }),
    post('empty-bearer', Buffer.from(validJson), { 'content-type': 'application/json', authorization: 'Bearer ' }),
    post('long-token', Buffer.from(validJson), { 'content-type': 'application/json', authorization: `Bearer ${'t'.repeat(8_000)}` }),
    { name: 'key-too-long', method: 'POST', path: '/builds', headers: { ...json, 'idempotency-key': 'k'.repeat(5_000) }, body: Buffer.from(validJson) },
    { name: 'bad-id-utf8', method: 'GET', path: '/builds/%C3%28%FF', headers: auth },
    { name: 'bad-id-dots', method: 'GET', path: '/builds/..%2F..%2Fetc', headers: auth },
    { name: 'overflow-ulid', method: 'GET', path: '/builds/ZZZZZZZZZZZZZZZZZZZZZZZZZZ', headers: auth },
    { name: 'overflow-after', method: 'GET', path: '/events?after=Q3QVX2484DFKV830CFVY4KV44Y', headers: auth },
    { name: 'negative-limit', method: 'GET', path: '/events?limit=-1', headers: auth },
    { name: 'huge-limit', method: 'GET', path: '/events?limit=99999999999999999999', headers: auth },
    { name: 'array-query', method: 'GET', path: '/events?limit=1&limit=2&type[]=x', headers: auth },
    { name: 'cancel-bad-body', method: 'POST', path: '/builds/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel', headers: json, body: Buffer.from(deepNesting(10_000, '[', ']')) },
  ];
}

async function publishBadIntake(aws: AwsClients, where: Locator, count: number, random: () => number, progress: (n: number) => void): Promise<void> {
  const makers = badBuildRequests(random);
  const topic = where.topicArn(where.names.topics.intake);
  // The orchestrator refuses what this stack's regions refuse (a known region the stack lacks too).
  const regions = await where.regions();
  const bodies = Array.from({ length: count }, (_, i) => {
    switch (i % 5) {
      case 0:
        return `{"type":"build.requested","requestId":"fuzz-${i}",${Math.random() < 0.5 ? '"repo":' : ''}`; // not JSON
      case 1:
        return JSON.stringify({ type: pick(random, ['build.started', 'build.requested.v2', '', null]), requestId: `fuzz-${i}`, ...sampleBuildRequest() }); // wrong envelope
      case 2:
        return JSON.stringify({ type: 'build.requested', requestId: pick(random, ['', 'r'.repeat(257), null, 7]), ...sampleBuildRequest() });
      case 3:
        return `{"type":"build.requested","requestId":"fuzz-${i}","repo":${deepNesting(2_000, '[', ']')}}`;
      default: {
        // A mutation can land on a value the schema allows ('a/b' is a fine branch): draw again until the request is refused.
        for (;;) {
          const bad = makers[Math.floor(random() * makers.length)]?.(i);
          if (buildRequestSchema(regions).safeParse(bad).success) continue;
          return JSON.stringify(typeof bad === 'object' && bad !== null && !Array.isArray(bad) ? { type: 'build.requested', requestId: `fuzz-${i}`, ...bad } : bad);
        }
      }
    }
  });
  let sent = 0;
  const batches = Array.from({ length: Math.ceil(bodies.length / 10) }, (_, b) => bodies.slice(b * 10, b * 10 + 10));
  await forEachLimited(batches, 4, async (batch, b) => {
    const out = await aws.sns.send(new PublishBatchCommand({ TopicArn: topic, PublishBatchRequestEntries: batch.map((Message, i) => ({ Id: `m${b}-${i}`, Message })) }));
    if ((out.Failed ?? []).length > 0) throw new Error(`intake publish failed: ${JSON.stringify(out.Failed)}`);
    sent += batch.length;
    progress(sent);
  });
}

function pick<T>(random: () => number, xs: T[]): T {
  return xs[Math.floor(random() * xs.length)] as T;
}

async function uploadBad(aws: AwsClients, bucket: string, count: number, random: () => number, progress: (n: number) => void): Promise<void> {
  const goodMeta = { branch: 'main', commit: 'abc1234', regions: 'us-east-1', hosts: '2' };
  const cases = (i: number): { key: string; meta: Record<string, string> } => {
    switch (i % 8) {
      case 0: return { key: `incoming/only-two-${i}.zip`, meta: goodMeta };
      case 1: return { key: `incoming/../prod/${i}.zip`, meta: goodMeta };
      case 2: return { key: `incoming/repo/prod/${'.'.repeat(1 + (i % 3))}.zip`, meta: goodMeta };
      case 3: return { key: `incoming/repo/NOT-AN-ENV!/${i}.zip`, meta: goodMeta };
      case 4: return { key: `incoming/repo/prod/1.${i}.zip`, meta: { ...goodMeta, regions: pick(random, ['mars-1', 'us-east-1,us-east-1', 'us-east-1,,x', ',']) } };
      case 5: return { key: `incoming/repo/prod/2.${i}.zip`, meta: { ...goodMeta, hosts: pick(random, ['0', '-1', 'abc', '1.5', '100001', '1e9']) } };
      case 6: return { key: `incoming/repo/prod/3.${i}.zip`, meta: { regions: 'us-east-1' } }; // no branch or commit
      default: return { key: `incoming/repo/prod/v 4 ${i}/x.zip`, meta: { ...goodMeta, commit: pick(random, ['nothex!', 'ABC', '']) } };
    }
  };
  let sent = 0;
  await forEachLimited(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const { key, meta } = cases(i);
    await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `fuzz ${i}`, Metadata: meta }));
    sent += 1;
    if (sent % 100 === 0 || sent === count) progress(sent);
  });
}

/** Waits until the DLQ holds `expected` messages (or stops growing), then drains it, counting those without a reason. */
async function drainDeadLetters(aws: AwsClients, dlqUrl: string, expected: number, progress: (line: string) => void): Promise<{ count: number; withoutReason: number; reasons: Map<string, number> }> {
  const depth = async () => {
    const out = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  };
  let last = -1;
  let stableSince = Date.now();
  await eventually(
    async () => {
      const n = await depth();
      if (n !== last) {
        progress(`${dlqUrl.split('/').at(-1)}: ${n}/${expected}`);
        last = n;
        stableSince = Date.now();
      }
      // Done when all arrived, or nothing new came for 60 s (the caller reports the shortfall).
      return n >= expected || Date.now() - stableSince > 60_000 ? n : undefined;
    },
    { timeoutMs: 30 * 60_000, intervalMs: 1_000 },
  );
  let count = 0;
  let withoutReason = 0;
  const reasons = new Map<string, number>();
  for (;;) {
    const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'], VisibilityTimeout: 300 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    for (const m of messages) {
      count += 1;
      const reason = m.MessageAttributes?.FailureReason?.StringValue;
      if (!reason) withoutReason += 1;
      else {
        const kind = reason.replace(/[0-9a-f-]{8,}|\d+/g, '#').slice(0, 80);
        reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
      }
    }
    await aws.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: dlqUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
  }
  return { count, withoutReason, reasons };
}

/** Every item of the log parses as a known event; builds counted by door. */
async function auditLog(aws: AwsClients, table: string): Promise<{ invalid: string[]; builds: Record<string, number> }> {
  const invalid: string[] = [];
  const builds: Record<string, number> = {};
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await aws.dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of out.Items ?? []) {
      if (!item.type) continue; // not an event (a stream's head, if the store keeps one)
      try {
        const event = parseEvent(eventFromItem(item));
        if (event.type === 'build.requested') builds[event.data.source.door] = (builds[event.data.source.door] ?? 0) + 1;
      } catch (error) {
        invalid.push(`${item.id?.S ?? '?'}: ${(error as Error).message}`);
      }
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return { invalid, builds };
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzFigures> {
  const { aws } = options;
  const t0 = Date.now();
  const say = (line: string) => options.progress?.(`${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s ${line}`);
  const random = prng(options.seed);
  const running: TestFleet = await startTestFleet(aws, 'fuzz');
  const crashed: string[] = [];
  const watch = () => {
    for (const s of running.fleet.services) s.child.once('exit', (code, signal) => crashed.push(`${s.name} exited (${signal ?? code})`));
  };
  watch();
  try {
    const where = await locate(aws, running.stack.prefix);
    const token = TEST_API_TOKEN;
    const base = running.fleet.url('build');
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-fuzz-'));

    say(`fleet up (stack ${running.stack.prefix}); schemathesis, negative mode, ${options.httpExamples} examples per operation and phase`);
    const st = await runSchemathesis(base, token, options, dir);
    say(`schemathesis: ${st.total} requests, ${JSON.stringify(st.statuses)}`);

    const statuses = { ...st.statuses };
    const serverErrors = [...st.serverErrors];
    let noAnswer = st.statuses['0'] ?? 0;
    let handWrittenAccepted = 0;
    const cases = handWrittenCases(token, random);
    for (const c of cases) {
      const status = await rawRequest(`${base}${c.path}`, c.method, c.headers, c.body);
      const label = status === CLOSED_WHILE_SENDING ? 'closed while sending' : String(status);
      statuses[label] = (statuses[label] ?? 0) + 1;
      if (c.method === 'POST' && c.path === '/builds' && status >= 200 && status < 300) handWrittenAccepted += 1;
      if (status === 0) noAnswer += 1;
      if (status === CLOSED_WHILE_SENDING && !(c.body && c.body.length > MAX_BODY_BYTES)) serverErrors.push(`${c.name}: closed while a body of ${c.body?.length ?? 0} bytes was sent`);
      if (status >= 500 || status === 0) serverErrors.push(`${c.name}: ${c.method} ${c.path} -> ${status}`);
    }
    say(`hand-written: ${cases.length} requests`);

    const intake = await where.queuePair(where.names.queues.intake);
    const uploads = await where.queuePair(where.names.queues.uploads);
    await publishBadIntake(aws, where, options.intake, random, (n) => n % 500 === 0 && say(`intake: published ${n}/${options.intake}`));
    const bucket = where.names.globalBucket;
    await uploadBad(aws, bucket, options.uploads, random, (n) => say(`uploads: put ${n}/${options.uploads}`));
    const intakeDl = await drainDeadLetters(aws, intake.dlqUrl, options.intake, say);
    const uploadsDl = await drainDeadLetters(aws, uploads.dlqUrl, options.uploads, say);
    for (const [kind, n] of [...intakeDl.reasons, ...uploadsDl.reasons].sort((a, b) => b[1] - a[1]).slice(0, 12)) say(`  ${n} × ${kind}`);

    const audit = await auditLog(aws, where.names.tables.events);
    return {
      sent: { schemathesis: st.total, handWritten: cases.length, intake: options.intake, uploads: options.uploads, total: st.total + cases.length + options.intake + options.uploads },
      statuses,
      serverErrors,
      noAnswer,
      // A copy: the fleet's own stop, below, ends every process.
      crashed: [...crashed],
      intakeDeadLettered: intakeDl.count,
      uploadsDeadLettered: uploadsDl.count,
      withoutReason: intakeDl.withoutReason + uploadsDl.withoutReason,
      invalidEvents: audit.invalid,
      builds: audit.builds,
      acceptedHttp: st.accepted + handWrittenAccepted,
    };
  } finally {
    await running.stop();
  }
}

export function printFigures(f: FuzzFigures, print: (line: string) => void = console.log): void {
  print(`sent:           ${f.sent.total} bad inputs (schemathesis ${f.sent.schemathesis}, hand-written ${f.sent.handWritten}, intake ${f.sent.intake}, uploads ${f.sent.uploads})`);
  print(`HTTP statuses:  ${Object.entries(f.statuses).sort().map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  print(`HTTP 5xx:       ${f.serverErrors.length}${f.serverErrors.length ? `\n  ${f.serverErrors.slice(0, 20).join('\n  ')}` : ''}`);
  print(`no answer:      ${f.noAnswer}`);
  print(`crashed:        ${f.crashed.length}${f.crashed.length ? ` (${f.crashed.join('; ')})` : ''}`);
  print(`dead-lettered:  intake ${f.intakeDeadLettered}/${f.sent.intake}, uploads ${f.uploadsDeadLettered}/${f.sent.uploads}, without a reason ${f.withoutReason}`);
  print(`invalid events: ${f.invalidEvents.length}${f.invalidEvents.length ? `\n  ${f.invalidEvents.slice(0, 10).join('\n  ')}` : ''}`);
  print(`builds:         ${JSON.stringify(f.builds)} (HTTP requests answered 2xx: ${f.acceptedHttp})`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      http: { type: 'string', default: '300' },
      intake: { type: 'string', default: '6000' },
      uploads: { type: 'string', default: '3000' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    },
  });
  const figures = await runFuzz({
    aws: testAwsClients(),
    httpExamples: Number(values.http),
    intake: Number(values.intake),
    uploads: Number(values.uploads),
    seed: Number(values.seed),
    progress: (line) => console.log(`[fuzz] ${line}`),
  });
  printFigures(figures);
  const ok = figures.serverErrors.length === 0 && figures.crashed.length === 0 && figures.withoutReason === 0 && figures.invalidEvents.length === 0 &&
    figures.intakeDeadLettered === figures.sent.intake && figures.uploadsDeadLettered === figures.sent.uploads &&
    (figures.builds.sns ?? 0) === 0 && (figures.builds.s3 ?? 0) === 0 && (figures.builds.http ?? 0) <= figures.acceptedHttp;
  console.log(ok ? 'fuzz: every requirement met' : 'fuzz: REQUIREMENTS NOT MET');
  process.exit(ok ? 0 : 1);
}
