/**
 * The chaos run and the AWS outage run (issue 8, items 2 and 3).
 *
 * A stack of its own in the emulator, every service as a child process (scripts/fleet.ts), builds
 * submitted at a constant rate (load.ts, a submit-only script). Meanwhile every service is killed with SIGKILL:
 * most kills by the services themselves at named fault points (FLOTILLA_FAULTS, faults.ts), the
 * rest by this harness, and every dead service is started again. With `outage`, the services'
 * AWS endpoint is a loopback proxy (outage-proxy.ts) that is cut for `cutMs` in the middle of the
 * load. When the load stops every build is awaited, then the run counts what went wrong (see
 * load-tests/README.md for how each figure is counted) and returns the figures; `pnpm chaos`
 * prints them, tests/e2e/chaos.test.ts asserts the requirements on a smaller run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, type ExecutionListItem } from '@aws-sdk/client-sfn';
import { DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { buildStream, duplicateFacts } from '@flotilla/events';
import { CHECK_TIMEOUT_MS, createAwsClients, dlqOf, EventStore, listDeadLetterQueues, locate, readBuildEvents, type Locator } from '@flotilla/platform';
import { DEFAULT_TEST_REGIONS, deployTestStack, subscribeTestQueue, uniquePrefix } from '@flotilla/platform/testing';
import { ROOT, SERVICES, startFleet, waitHealthy, type Fleet, type ServiceName } from '../scripts/fleet.ts';
import { awaitBuilds, isTerminalView } from './await-builds.ts';
import { runScript, submitOnlyScript, type ScriptRun } from './load.ts';
import { startOutageProxy, type CutMode, type OutageProxy } from './outage-proxy.ts';
import { vegetaBinary } from './vegeta.ts';

export interface ChaosOptions {
  endpoint: string;
  /** Builds per second, and for how long. */
  rate: number;
  durationS: number;
  /** The harness kills one service every this many ms (when the fault points are not ahead). */
  killEveryMs: number;
  /** Kills each service must get, fault or harness. */
  minKillsPerService: number;
  outage?: CutMode | undefined;
  cutMs: number;
  regions: string[];
  hostsPerRegion: number;
  /**
   * After the load stops, builds are awaited until this long passes with none ending (or
   * SETTLE_CAP_MS in all); the ones still open then are lost.
   */
  settleMs: number;
  faults: Record<ServiceName, string>;
  /**
   * A (re)started service's fault points fire only once it has run this long, which paces the
   * fault kills by time instead of by traffic (0: armed from the start). The full run needs it:
   * at 5 builds/s to 5 regions the per-message probabilities alone kill a service every 2 s.
   */
  faultsAfterMs: number;
  vegeta?: string | undefined;
  /** The API's bearer token, given to the build service and sent by the load; a random one when unset. */
  token?: string | undefined;
  progress: (line: string) => void;
}

/** Fault probabilities per service, tuned so fault kills outnumber the harness's (README). */
export const DEFAULT_FAULTS: Record<ServiceName, string> = {
  build: 'consumer.before-delete=0.006',
  replication: 'consumer.before-delete=0.08',
  'region-sync': 'consumer.before-delete=0.08',
  orchestrator: 'consumer.before-delete=0.03,stream.before-checkpoint=0.1,execution.after-start=0.04',
};

export interface ServiceKills {
  fault: number;
  harness: number;
  /** Exits neither a fault point nor the harness caused. */
  crashes: number;
  /** Restarts that failed (exited before listening) and were tried again. */
  failedStarts: number;
}

export interface ChaosFigures {
  mode: 'chaos' | CutMode;
  prefix: string;
  /** Requests the load made, by HTTP status (0: no answer), and how many the API accepted (202). */
  load: { requests: number; codes: Record<string, number>; accepted: number };
  submitted: number;
  terminal: number;
  succeeded: number;
  failed: { buildId: string; reason: string }[];
  lost: string[];
  /** Each lost build's events so far, by type: where it stopped. */
  lostDetail: string[];
  duplicateEvents: { buildId: string; fact: string; times: number }[];
  duplicateEffects: { executions: { buildId: string; executions: number }[]; hostRecords: { buildId: string; region: string; detail: string }[]; alerts: { buildId: string; alerts: number }[] };
  dlq: Record<string, number>;
  /** Up to 5 dead-lettered messages per DLQ: the queue and the reason attached. */
  dlqReasons: string[];
  replayDifferences: number;
  replayDetail: unknown[];
  kills: Record<ServiceName, ServiceKills>;
  faultPoints: Record<string, number>;
  /**
   * /ready while the endpoint was cut, per service: how many probes answered 503, 200, or nothing
   * (the service was down: killed, or restarting into the outage, which it cannot start in).
   * A probe in the cut's first CHECK_TIMEOUT_MS is not counted: a check may still be finishing.
   */
  ready: { route: boolean; duringCut: Record<string, { unready: number; ready: number; down: number }>; readyAfter: boolean } | undefined;
  seconds: number;
  /** From the end of the load to the moment the last build was seen terminal (or the awaiting gave up). */
  drainSeconds: number;
  /** From the first replay to the last: how long the live projections took to catch up with the log (or to stop moving). */
  replaySeconds: number;
}

/** The await after the load never runs longer than this, progress or not. */
const SETTLE_CAP_MS = 30 * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
  const started = Date.now();
  const mode = options.outage ?? 'chaos';
  const aws = createAwsClients({ region: 'us-east-1', endpoint: options.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const say = options.progress;
  const endpoint = new URL(options.endpoint);
  say(`${mode}: deploying a stack`);
  const stack = await deployTestStack(aws, uniquePrefix(`chaos-${mode}`), { regions: options.regions });
  const where = await locate(aws, stack.prefix);
  const store = new EventStore(aws.dynamodb, where.names.tables.events);
  const vegeta = await vegetaBinary(options.vegeta);
  const token = options.token ?? randomBytes(24).toString('base64url');
  const auth: Record<string, string> = { authorization: `Bearer ${token}` };
  let proxy: OutageProxy | undefined;
  let fleet: Fleet | undefined;
  let alertsQueueUrl: string | undefined;
  const logs: string[] = [];
  // Created when the load stops: every service's fault points are disarmed from then on.
  const faultsStopFile = join(mkdtempSync(join(tmpdir(), 'flotilla-chaos-')), 'faults-stop');
  /** Every process spawned, restarts included, so none outlives the run whatever state it is in. */
  const children: ChildProcess[] = [];
  const kills: Record<ServiceName, ServiceKills> = {};
  const killsOf = (name: ServiceName): ServiceKills => (kills[name] ??= { fault: 0, harness: 0, crashes: 0, failedStarts: 0 });
  for (const s of SERVICES) killsOf(s.name);
  const faultPoints: Record<string, number> = {};
  /** Set per service when a flotilla-fault line arrives, read when its process exits. */
  const faulted = new Set<ServiceName>();
  const killedByHarness = new Set<ServiceName>();
  const restarting = new Set<ServiceName>();
  let stopping = false;
  // Interrupted (Ctrl-C, a test runner's timeout), the run takes its services down with it rather
  // than leaving them running against the stack; the stack itself is left, and named.
  const interrupted = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    process.stderr.write(`${mode}: interrupted by ${signal}; the services are stopped, the stack ${stack.prefix} is left in the emulator\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // The alerts topic's messages, counted per build at the end.
    alertsQueueUrl = await subscribeTestQueue(aws, where.topicArn(where.names.topics.alerts), `${stack.prefix}-chaos-alerts`);

    if (options.outage) proxy = await startOutageProxy({ host: endpoint.hostname, port: Number(endpoint.port || 80) });
    const serviceEndpoint = proxy?.url ?? options.endpoint;
    say(`${mode}: starting the fleet (stack ${stack.prefix}, AWS at ${serviceEndpoint})`);
    const startArmed = async () => startFleet({
      prefix: stack.prefix,
      // The services run on this process's Node, whatever PATH finds later: a restart must not pick
      // another Node when the shared .tools is being reinstalled meanwhile (it happened).
      env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, AWS_ENDPOINT_URL: serviceEndpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', LOG_LEVEL: 'info' },
      apiToken: token,
      overrides: Object.fromEntries(
        SERVICES.map((s) => [s.name, { FLOTILLA_FAULTS: options.faults[s.name] ?? '', FLOTILLA_FAULTS_AFTER_MS: String(options.faultsAfterMs), FLOTILLA_FAULTS_STOP_FILE: faultsStopFile }]),
      ),
      // Fixed for the run (a restarted service comes back on its port, so the load's URL holds), from
      // a base found free now rather than 8080, which the run command owns.
      ports: { base: await freePortBase(SERVICES.length) },
      onSpawn: (_name, child) => children.push(child),
      onLog: (service, line) => {
        logs.push(`${service} ${line}`);
        const fault = /^flotilla-fault (\S+) pid=/.exec(line);
        if (fault?.[1]) {
          faulted.add(service);
          faultPoints[`${service} ${fault[1]}`] = (faultPoints[`${service} ${fault[1]}`] ?? 0) + 1;
        }
      },
    });
    // An armed service can hit a fault point while it starts (catch-up work before it listens);
    // startFleet then stops every service it started and rejects, and the start is simply tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        fleet = await startArmed();
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        faulted.clear();
        say(`${mode}: the fleet did not start (${error instanceof Error ? error.message : String(error)}); again`);
      }
    }
    if (!fleet) throw new Error('the fleet did not start');
    await waitHealthy(fleet);
    const running: Fleet = fleet;

    // Every exit is classified and the service started again, until the run stops.
    const supervise = (name: ServiceName) => {
      const child = running.services.find((s) => s.name === name)?.child;
      child?.once('exit', () => {
        if (stopping) return;
        if (faulted.delete(name)) killsOf(name).fault++;
        else if (killedByHarness.delete(name)) killsOf(name).harness++;
        else killsOf(name).crashes++;
        restarting.add(name);
        void (async () => {
          for (let attempt = 1; attempt <= 30 && !stopping; attempt++) {
            try {
              await running.startService(name);
              restarting.delete(name);
              supervise(name);
              return;
            } catch {
              // Died before listening: a fault point during the start, or AWS unreachable.
              if (faulted.delete(name)) killsOf(name).fault++;
              killsOf(name).failedStarts++;
              await sleep(1_000);
            }
          }
        })();
      });
    };
    for (const s of SERVICES) supervise(s.name);

    const readyRoute = (await fetch(`${running.url('build')}/ready`).catch(() => undefined))?.status !== 404;
    const duringCut: Record<string, { unready: number; ready: number; down: number }> = Object.fromEntries(SERVICES.map((s) => [s.name, { unready: 0, ready: 0, down: 0 }]));
    const cutStart = options.durationS * 500 - options.cutMs / 2;
    const cutEnd = cutStart + options.cutMs;

    // The harness's kills: the service with the fewest kills so far, only while the fault points
    // are ahead (so at least half the kills land inside a handler), and never near the cut (a
    // restart during an outage is the outage test's business, not the kill schedule's).
    const loadStarted = Date.now();
    const killer = setInterval(() => {
      const t = Date.now() - loadStarted;
      if (options.outage && t > cutStart - 3_000 && t < cutEnd + 3_000) return;
      const total = (n: ServiceName) => killsOf(n).fault + killsOf(n).harness;
      const faultsSoFar = SERVICES.reduce((sum, s) => sum + killsOf(s.name).fault, 0);
      const harnessSoFar = SERVICES.reduce((sum, s) => sum + killsOf(s.name).harness, 0);
      if (harnessSoFar + 1 > faultsSoFar) return;
      const candidates = SERVICES.map((s) => s.name).filter((n) => !restarting.has(n) && total(n) < options.minKillsPerService);
      const name = candidates.sort((a, b) => total(a) - total(b))[0];
      if (!name) return;
      const child = running.services.find((s) => s.name === name)?.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      killedByHarness.add(name);
      child.kill('SIGKILL');
    }, options.killEveryMs);

    // The outage: cut in the middle of the load, /ready watched while it lasts.
    const outage = (async () => {
      if (!proxy || !options.outage) return;
      await sleep(cutStart);
      say(`${mode}: cutting the AWS endpoint (${options.outage}) for ${options.cutMs / 1000} s`);
      await proxy.cut(options.outage);
      const until = Date.now() + options.cutMs;
      await sleep(CHECK_TIMEOUT_MS);
      while (Date.now() < until) {
        await Promise.all(
          running.services.map(async (s) => {
            const res = await fetch(`${s.url}/ready`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS + 1_000) }).catch(() => undefined);
            const tally = duringCut[s.name];
            if (!tally) return;
            if (res?.status === 503) tally.unready++;
            else if (res?.status === 200) tally.ready++;
            else tally.down++;
          }),
        );
        await sleep(Math.min(1_000, Math.max(0, until - Date.now())));
      }
      await proxy.restore();
      say(`${mode}: AWS endpoint restored`);
    })();

    const progress = setInterval(() => {
      const k = SERVICES.map((s) => `${s.name} ${killsOf(s.name).fault}f+${killsOf(s.name).harness}h`).join(', ');
      say(`${mode}: ${Math.round((Date.now() - loadStarted) / 1000)} s of ${options.durationS} s load; kills: ${k}`);
    }, 5_000);

    say(`${mode}: ${options.rate} builds/s for ${options.durationS} s`);
    let load: ScriptRun;
    try {
      load = await runScript(submitOnlyScript(mode, options.rate, options.durationS, { regions: options.regions, hostsPerRegion: options.hostsPerRegion }), {
        target: running.url('build'),
        token,
        vegeta,
        repo: stack.prefix,
        onSpawn: (child) => children.push(child),
      });
    } finally {
      writeFileSync(faultsStopFile, '');
      clearInterval(killer);
      clearInterval(progress);
      await outage;
    }
    const loadEnded = Date.now();
    say(`${mode}: load done (${load.summary.requests} requests, ${load.buildIds.length} accepted); awaiting every build`);
    // Everything dead is up again before the awaiting starts.
    const upDeadline = Date.now() + 60_000;
    while (restarting.size > 0 && Date.now() < upDeadline) await sleep(250);
    const readyAfter = readyRoute
      ? await (async () => {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            const answers = await Promise.all(running.services.map((s) => fetch(`${s.url}/ready`).then((r) => r.status).catch(() => 0)));
            if (answers.every((c) => c === 200)) return true;
            await sleep(500);
          }
          return false;
        })()
      : false;

    const api = (path: string) => fetch(`${running.url('build')}${path}`, { headers: auth, signal: AbortSignal.timeout(10_000) });
    // Builds of this run the API answered for after the client gave up (a timeout in the cut) are
    // in the build list under the run's repo: they are awaited too.
    const listed = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      const res = await api(`/builds?repo=${stack.prefix}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      if (!res.ok) break;
      const body = (await res.json()) as { builds: { buildId: string }[]; nextCursor?: string };
      for (const b of body.builds) listed.add(b.buildId);
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    const all = [...new Set([...load.buildIds, ...listed])];
    const { views, open: lost, lastEndSeenAt: lastEnded } = await awaitBuilds({
      apiUrl: running.url('build'),
      token,
      ids: all,
      settleMs: options.settleMs,
      capMs: SETTLE_CAP_MS,
      progress: (ended, total) => say(`${mode}: ${ended} of ${total} builds ended`),
    });
    const ended = all.filter((id) => isTerminalView(views.get(id)));
    const lostDetail = await Promise.all(lost.slice(0, 10).map(async (id) => `${id}: ${(await readBuildEvents(store, buildStream(id)).catch(() => [])).map((e) => e.type).join(' → ') || '(no stream)'}`));

    say(`${mode}: counting duplicates`);
    const duplicateEvents: ChaosFigures['duplicateEvents'] = [];
    const hostRecords: ChaosFigures['duplicateEffects']['hostRecords'] = [];
    const failed: ChaosFigures['failed'] = [];
    for (const buildId of all) {
      const events = await readBuildEvents(store, buildStream(buildId));
      for (const d of duplicateFacts(events)) duplicateEvents.push({ buildId, ...d });
      for (const e of events) {
        if (e.type === 'build.failed' && views.get(buildId)?.status === 'FAILED') failed.push({ buildId, reason: e.data.reason });
        if (e.type === 'region.synced' || e.type === 'region.sync_failed') {
          const detail = await compareHostRecords(aws, where, buildId, e.data);
          if (detail) hostRecords.push({ buildId, region: e.data.region, detail });
        }
      }
    }
    const executions = await executionsPerBuild(aws, where, all);
    const alerts = await alertsPerBuild(aws, alertsQueueUrl);
    const dlq = await dlqDepths(aws, where);
    const dlqReasons = Object.values(dlq).some((n) => n > 0)
      ? (await listDeadLetterQueues(aws.sqs, stack.prefix, { sampleSize: 5 })).flatMap((q) => q.samples.map((m) => `${q.name}: ${m.failureName ?? '?'}: ${m.failureReason ?? '(no reason)'}`))
      : [];

    say(`${mode}: replaying the log`);
    const replayStarted = Date.now();
    const replay = await replayUntilQuiet(stack.prefix, options.endpoint, options.settleMs, say);
    stopping = true;
    return {
      mode,
      prefix: stack.prefix,
      load: { requests: load.summary.requests, codes: load.summary.statuses, accepted: load.buildIds.length },
      submitted: all.length,
      terminal: ended.length,
      succeeded: ended.filter((id) => views.get(id)?.status === 'SUCCESS').length,
      failed,
      lost,
      lostDetail,
      duplicateEvents,
      duplicateEffects: {
        executions: [...executions].filter(([, n]) => n > 1).map(([buildId, n]) => ({ buildId, executions: n })),
        hostRecords,
        alerts: [...alerts].filter(([, n]) => n > 1).map(([buildId, n]) => ({ buildId, alerts: n })),
      },
      dlq,
      dlqReasons,
      replayDifferences: replay.differences.length,
      replayDetail: replay.differences.slice(0, 20),
      kills,
      faultPoints,
      ready: options.outage ? { route: readyRoute, duringCut, readyAfter } : undefined,
      seconds: (Date.now() - started) / 1000,
      drainSeconds: (lastEnded - loadEnded) / 1000,
      replaySeconds: (Date.now() - replayStarted) / 1000,
    };
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    stopping = true;
    await fleet?.stop(5_000);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await proxy?.close();
    rmSync(dirname(faultsStopFile), { recursive: true, force: true });
    mkdirSync(join(ROOT, '.reports'), { recursive: true });
    writeFileSync(join(ROOT, '.reports', `chaos-${stack.prefix}.log`), logs.join('\n'));
    if (alertsQueueUrl) await aws.sqs.send(new DeleteQueueCommand({ QueueUrl: alertsQueueUrl })).catch(() => undefined);
    await stack.destroy();
    aws.destroy();
  }
}

/** A base port with `count` free ports after it on 127.0.0.1, tried at random (bounded). */
async function freePortBase(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen({ host: '127.0.0.1', port, exclusive: true }, () => probe.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const all = await Promise.all(Array.from({ length: count }, (_, i) => free(base + i)));
    if (all.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1`);
}

/** The host records of one build and region against the counts its sync event states. */
async function compareHostRecords(
  aws: ReturnType<typeof createAwsClients>,
  where: Locator,
  buildId: string,
  stated: { region: string; hosts: number; synced: number; failed: number },
): Promise<string | undefined> {
  const byStatus: Record<string, number> = {};
  let startKey: Record<string, AttributeValue> | undefined;
  let total = 0;
  for (let page = 0; page < 10_000; page++) {
    const out = await aws.dynamodb.send(
      new QueryCommand({
        TableName: where.names.tables.hosts,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `build#${buildId}#region#${stated.region}` } },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) {
      const status = String(unmarshall(item).status);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      total++;
    }
    startKey = out.LastEvaluatedKey;
    if (!startKey) break;
  }
  const synced = byStatus.synced ?? 0;
  if (total === stated.hosts && synced === stated.synced && total - synced === stated.failed) return undefined;
  return `event says ${stated.hosts} hosts (${stated.synced} synced, ${stated.failed} failed); records say ${total} (${JSON.stringify(byStatus)})`;
}

async function executionsPerBuild(aws: ReturnType<typeof createAwsClients>, where: Locator, buildIds: string[]): Promise<Map<string, number>> {
  const listed: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const out = await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: where.stateMachineArn(), maxResults: 1000, ...(nextToken ? { nextToken } : {}) }));
    listed.push(...(out.executions ?? []));
    nextToken = out.nextToken;
    if (!nextToken) break;
  }
  const per = new Map<string, number>();
  for (const id of buildIds) per.set(id, listed.filter((e) => e.name?.endsWith(id)).length);
  return per;
}

/** Drains the run's alerts queue: alerts per build. Bounded: stops after two empty receives. */
async function alertsPerBuild(aws: ReturnType<typeof createAwsClients>, queueUrl: string): Promise<Map<string, number>> {
  const per = new Map<string, number>();
  let empty = 0;
  for (let i = 0; i < 1_000 && empty < 2; i++) {
    const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
    const messages = out.Messages ?? [];
    empty = messages.length === 0 ? empty + 1 : 0;
    for (const m of messages) {
      const parsed = JSON.parse(m.Body ?? '{}') as { buildId?: unknown };
      const buildId = typeof parsed.buildId === 'string' ? parsed.buildId : 'unknown';
      per.set(buildId, (per.get(buildId) ?? 0) + 1);
    }
  }
  return per;
}

/** Messages in every dead-letter queue of the stack (visible and in flight). */
async function dlqDepths(aws: ReturnType<typeof createAwsClients>, where: Locator): Promise<Record<string, number>> {
  const queues = [...Object.values(where.names.queues), ...(await where.regions()).map((r) => where.names.syncQueue(r))].map(dlqOf);
  const depths: Record<string, number> = {};
  for (const name of queues) {
    const url = await where.queueUrl(name);
    const a = (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes ?? {};
    depths[name] = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  return depths;
}

/**
 * `flotilla replay --json` (the CLI, as the README runs it). The live projections trail the log:
 * the relay publishes what the log's stream holds, and under load it runs minutes behind while the
 * builds themselves have ended. So replay is repeated while the differences keep shrinking, until
 * there are none, or `stallMs` pass without fewer, or SETTLE_CAP_MS in all; what remains then is
 * reported, as differences the projections did not make good.
 */
async function replayUntilQuiet(prefix: string, endpoint: string, stallMs: number, say: (line: string) => void): Promise<{ differences: unknown[] }> {
  const cap = Date.now() + SETTLE_CAP_MS;
  let fewest = Number.POSITIVE_INFINITY;
  let fewerAt = Date.now();
  for (;;) {
    // stdout goes to a file, not a pipe: a process that exits 1 right after a large write to a
    // pipe can lose the end of it, and replay exits 1 exactly when it has differences to report.
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-replay-'));
    const out = join(dir, 'report.json');
    const fd = openSync(out, 'w');
    let report: { differences: unknown[] };
    try {
      const child = spawn(process.execPath, ['packages/cli/src/index.ts', 'replay', '--json'], {
        cwd: ROOT,
        env: { ...process.env, AWS_ENDPOINT_URL: endpoint, FLOTILLA_PREFIX: prefix },
        stdio: ['ignore', fd, 'pipe'],
        timeout: 300_000,
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      const text = readFileSync(out, 'utf8');
      try {
        report = JSON.parse(text) as { differences: unknown[] };
      } catch {
        throw new Error(`flotilla replay exited ${code} with no report: ${stderr.slice(-500)}`);
      }
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
    if (report.differences.length < fewest) {
      fewest = report.differences.length;
      fewerAt = Date.now();
    }
    if (report.differences.length === 0 || Date.now() - fewerAt >= stallMs || Date.now() >= cap) return report;
    say(`replay: ${report.differences.length} differences; the projections are catching up, replaying again`);
    await sleep(5_000);
  }
}

const NO_KILLS: ServiceKills = { fault: 0, harness: 0, crashes: 0, failedStarts: 0 };
const killsIn = (f: ChaosFigures, name: ServiceName): ServiceKills => f.kills[name] ?? NO_KILLS;

/** The figures, as `pnpm chaos` prints them. */
export function formatFigures(f: ChaosFigures): string {
  const sum = (pick: (k: ServiceKills) => number) => SERVICES.reduce((n, s) => n + pick(killsIn(f, s.name)), 0);
  const dlqTotal = Object.values(f.dlq).reduce((a, b) => a + b, 0);
  const lines = [
    `${f.mode} run (stack ${f.prefix}, ${f.seconds.toFixed(0)} s)`,
    `  requests:          ${f.load.requests} (status ${JSON.stringify(f.load.codes)})`,
    `  submitted:         ${f.submitted} (accepted with 202: ${f.load.accepted})`,
    `  terminal:          ${f.terminal} (SUCCESS ${f.succeeded}, FAILED ${f.failed.length}); the last seen terminal ${f.drainSeconds.toFixed(0)} s after the load`,
    `  lost:              ${f.lost.length}`,
    `  duplicate events:  ${f.duplicateEvents.length}`,
    `  duplicate effects: ${f.duplicateEffects.executions.length + f.duplicateEffects.hostRecords.length + f.duplicateEffects.alerts.length} (executions ${f.duplicateEffects.executions.length}, host records ${f.duplicateEffects.hostRecords.length}, alerts ${f.duplicateEffects.alerts.length})`,
    `  DLQ messages:      ${dlqTotal}${dlqTotal ? ` ${JSON.stringify(Object.fromEntries(Object.entries(f.dlq).filter(([, n]) => n > 0)))}` : ''}`,
    ...f.dlqReasons.map((r) => `    ${r}`),
    `  replay:            ${f.replayDifferences} differences (the last of the replays over ${f.replaySeconds.toFixed(0)} s)`,
    `  kills:             ${sum((k) => k.fault + k.harness)} (at fault points ${sum((k) => k.fault)}, by the harness ${sum((k) => k.harness)}); crashes ${sum((k) => k.crashes)}; failed restarts ${sum((k) => k.failedStarts)}`,
    ...SERVICES.map((s) => `    ${s.name.padEnd(13)} ${JSON.stringify(killsIn(f, s.name))}`),
    `  fault points hit:  ${JSON.stringify(f.faultPoints)}`,
  ];
  if (f.ready) lines.push(`  /ready:            ${f.ready.route ? `during the cut (503/200/down): ${SERVICES.map((s) => { const t = f.ready?.duringCut[s.name]; return `${s.name} ${t?.unready ?? 0}/${t?.ready ?? 0}/${t?.down ?? 0}`; }).join(', ')}; all 200 after: ${f.ready.readyAfter}` : 'no /ready route on this build service'}`);
  for (const b of f.failed.slice(0, 10)) lines.push(`  FAILED ${b.buildId}: ${b.reason}`);
  for (const detail of f.lostDetail) lines.push(`  lost ${detail}`);
  for (const d of f.duplicateEvents.slice(0, 10)) lines.push(`  duplicate ${d.fact} x${d.times} in ${d.buildId}`);
  for (const d of f.duplicateEffects.hostRecords.slice(0, 10)) lines.push(`  host records ${d.buildId} ${d.region}: ${d.detail}`);
  for (const d of f.replayDetail.slice(0, 10)) lines.push(`  replay: ${JSON.stringify(d)}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      outage: { type: 'string' },
      rate: { type: 'string', default: '5' },
      duration: { type: 'string', default: '120' },
      'kill-every': { type: 'string', default: '3' },
      'fault-delay': { type: 'string', default: '15' },
      'min-kills': { type: 'string', default: '3' },
      'cut-seconds': { type: 'string', default: '10' },
      hosts: { type: 'string', default: '20' },
      regions: { type: 'string', default: DEFAULT_TEST_REGIONS.join(',') },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`pnpm chaos [--outage refused|silent] [--rate 5] [--duration 120] [--kill-every 3] [--min-kills 3]
           [--fault-delay 15] [--cut-seconds 10] [--hosts 20] [--regions a,b] [--json]
Runs the chaos run (or with --outage, the AWS outage run) against the emulator at AWS_ENDPOINT_URL
(default http://127.0.0.1:4566) on a stack of its own, prints the figures, exits 1 when a requirement fails.
--fault-delay: seconds a (re)started service runs before its fault points are armed (paces the kills).`);
    return;
  }
  const outage = values.outage;
  if (outage !== undefined && outage !== 'refused' && outage !== 'silent') throw new Error(`--outage must be refused or silent, not ${outage}`);
  const num = (name: string, text: string) => {
    const n = Number(text);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, not ${text}`);
    return n;
  };
  const nonNegative = (name: string, text: string) => {
    const n = Number(text);
    if (!(n >= 0)) throw new Error(`--${name} must be a number of at least 0, not ${text}`);
    return n;
  };
  const durationS = num('duration', values.duration);
  const figures = await runChaos({
    endpoint: process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566',
    rate: num('rate', values.rate),
    durationS,
    killEveryMs: num('kill-every', values['kill-every']) * 1000,
    minKillsPerService: num('min-kills', values['min-kills']),
    outage,
    cutMs: num('cut-seconds', values['cut-seconds']) * 1000,
    regions: values.regions.split(',').map((r) => r.trim()).filter(Boolean),
    hostsPerRegion: num('hosts', values.hosts),
    settleMs: 120_000,
    faults: DEFAULT_FAULTS,
    faultsAfterMs: nonNegative('fault-delay', values['fault-delay']) * 1000,
    vegeta: process.env.FLOTILLA_VEGETA,
    token: process.env.FLOTILLA_API_TOKEN,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(values.json ? JSON.stringify(figures, null, 2) : formatFigures(figures));
  const failures = requirementFailures(figures);
  if (failures.length > 0) {
    console.error(`requirements not met:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

/** The requirements of issue 8, as text per failure: what the test asserts and `pnpm chaos` exits 1 on. */
export function requirementFailures(f: ChaosFigures, minKillsPerService = 3): string[] {
  const out: string[] = [];
  const dlqTotal = Object.values(f.dlq).reduce((a, b) => a + b, 0);
  const faults = SERVICES.reduce((n, s) => n + killsIn(f, s.name).fault, 0);
  const harness = SERVICES.reduce((n, s) => n + killsIn(f, s.name).harness, 0);
  if (f.submitted === 0) out.push('no build was submitted');
  if (f.lost.length > 0) out.push(`${f.lost.length} builds lost`);
  if (f.duplicateEvents.length > 0) out.push(`${f.duplicateEvents.length} duplicate events`);
  const effects = f.duplicateEffects.executions.length + f.duplicateEffects.hostRecords.length + f.duplicateEffects.alerts.length;
  if (effects > 0) out.push(`${effects} duplicate effects`);
  if (dlqTotal > 0) out.push(`${dlqTotal} DLQ messages the run did not inject`);
  if (f.replayDifferences > 0) out.push(`${f.replayDifferences} replay differences`);
  for (const s of SERVICES) {
    const k = killsIn(f, s.name);
    if (k.crashes > 0) out.push(`${s.name} exited ${k.crashes} times on its own (crash)`);
    if (k.fault + k.harness < minKillsPerService) out.push(`${s.name} killed ${k.fault + k.harness} times, fewer than ${minKillsPerService}`);
  }
  if (faults < harness) out.push(`only ${faults} of ${faults + harness} kills at fault points (at least half required)`);
  if (f.mode === 'chaos' && f.failed.length > 0) out.push(`${f.failed.length} builds FAILED with nothing injected (first: ${f.failed[0]?.reason})`);
  if (f.ready) {
    if (!f.ready.route) out.push('/ready does not exist on the build service');
    else {
      const tallies = Object.entries(f.ready.duringCut);
      const saidReady = tallies.filter(([, t]) => t.ready > 0).map(([name]) => name);
      if (saidReady.length > 0) out.push(`/ready answered 200 during the cut on: ${saidReady.join(', ')}`);
      if (!tallies.some(([, t]) => t.unready > 0)) out.push('/ready never answered 503 during the cut');
      if (!f.ready.readyAfter) out.push('/ready did not answer 200 on every service after the cut');
    }
  }
  return out;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
