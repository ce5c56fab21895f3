/**
 * The `flotilla` CLI end to end: the fleet runs as in pipeline.test.ts (its own stack, ephemeral
 * ports, failure injection for one region), and every command runs as a subprocess the way the
 * README shows it, configured only through the environment (FLOTILLA_API_URL, FLOTILLA_PREFIX,
 * AWS_ENDPOINT_URL). Assertions are on exit codes and stdout (parsed when --json).
 *
 * `flotilla replay` runs at size in replay.test.ts.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locate, type Locator } from '@flotilla/platform';
import { eventually, testAwsClients, type TestStack } from '@flotilla/platform/testing';
import { ROOT, type Fleet } from '../../scripts/fleet.ts';
import { apiFetch, CLI, fleetCliEnv, runCli, startTestFleet, TEST_API_TOKEN, type TestFleet } from '../support/test-fleet.ts';

const aws = testAwsClients();
const FAILING_REGION = 'eu-central-1';
const REGIONS = ['us-east-1', 'eu-west-1'];
const HOSTS = 50;
const REPO = `cli-${Date.now().toString(36)}`;

let stack: TestStack;
let fleet: Fleet;
let where: Locator;
let running: TestFleet;

beforeAll(async () => {
  running = await startTestFleet(aws, 'cli', { overrides: { replication: { FAIL_REPLICATION_REGIONS: FAILING_REGION } } });
  ({ stack, fleet } = running);
  where = await locate(aws, stack.prefix);
});

afterAll(async () => {
  await running?.stop();
  aws.destroy();
});

// ---------------------------------------------------------------------------------- helpers

const cliEnv = (extra: Record<string, string> = {}) => fleetCliEnv(fleet, stack.prefix, extra);

/** `node packages/cli/src/index.ts <args>` from the repo root (what `pnpm flotilla <args>` runs). */
const flotilla = (args: string[], env: Record<string, string> = {}, command?: { file: string; prefix: string[] }) => runCli(args, cliEnv(env), command);

async function json<T = Record<string, unknown>>(args: string[], env?: Record<string, string>): Promise<T> {
  const run = await flotilla([...args, '--json'], env);
  expect(run.code, `flotilla ${args.join(' ')} failed: ${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as T;
}

const submitArgs = (overrides: { version?: string; regions?: string[]; key?: string } = {}) => [
  'builds',
  'submit',
  '--repo',
  REPO,
  '--env',
  'prod',
  '--version',
  overrides.version ?? `1.${Math.floor(Math.random() * 1e6)}.0`,
  '--branch',
  'main',
  '--commit',
  'abc1234',
  '--regions',
  (overrides.regions ?? REGIONS).join(','),
  '--hosts',
  String(HOSTS),
  ...(overrides.key ? ['--key', overrides.key] : []),
];

async function submit(overrides: Parameters<typeof submitArgs>[0] = {}): Promise<string> {
  const run = await flotilla(submitArgs(overrides));
  expect(run.code, run.stderr).toBe(0);
  const id = run.stdout.trim();
  expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  return id;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

const UNKNOWN_BUILD = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
let succeeded = '';
let failed = '';

// ---------------------------------------------------------------------------------- tests

describe('help and usage', () => {
  it('prints help for the root and for each group, exit 0, as `pnpm flotilla` runs it', async () => {
    const root = await flotilla(['--help'], {}, { file: 'pnpm', prefix: ['--silent', 'flotilla'] });
    expect(root.code).toBe(0);
    for (const group of ['builds', 'events', 'dlq', 'why', 'testruns', 'services']) expect(root.stdout).toContain(group);
    const builds = await flotilla(['builds', '--help']);
    expect(builds.code).toBe(0);
    for (const command of ['submit', 'list', 'get', 'watch', 'cancel']) expect(builds.stdout).toContain(command);
    const services = await flotilla(['services', '--help']);
    expect(services.code).toBe(0);
    for (const command of ['create', 'get', 'watch']) expect(services.stdout).toContain(command);
    const submitHelp = await flotilla(['builds', 'submit', '--help']);
    expect(submitHelp.code).toBe(0);
    expect(submitHelp.stdout).toContain('--key');
  });

  it('a missing required flag is a usage error: usage and exit 1', async () => {
    const run = await flotilla(['builds', 'submit', '--repo', REPO]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Missing required argument: --env');
  });
});

describe('builds', () => {
  it('submit prints the build id; the same --key finds the same build', async () => {
    const key = `cli-key-${Date.now()}`;
    const firstArgs = submitArgs({ key });
    const first = await json<{ buildId: string; duplicate: boolean; key: string }>(firstArgs);
    expect(first).toMatchObject({ duplicate: false, key, status: 'PENDING' });
    const again = await json<{ buildId: string; duplicate: boolean }>(firstArgs);
    expect([again.buildId, again.duplicate]).toEqual([first.buildId, true]);
    succeeded = first.buildId;
  });

  it('submit refuses a bad value with the field named, exit 1', async () => {
    const run = await flotilla([...submitArgs(), '--commit', 'NOT-HEX']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/commit/);
    expect(run.stdout).toBe('');
  });

  it('watch shows plain progress lines when stdout is not a terminal, and exits 0 on SUCCESS', async () => {
    const run = await flotilla(['builds', 'watch', succeeded, '--interval', '250']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    for (const region of REGIONS) expect(lines).toContain(`progress: ${region}: ${HOSTS}/${HOSTS} hosts (100%) synced`);
    expect(lines.at(-1)).toMatch(new RegExp(`^SUCCESS: build ${succeeded} \\(${REPO} .* to prod\\) finished in `));
    expect(run.stdout).not.toMatch(/\x1b\[/); // no terminal redraws in a pipe
  });

  it('watch exits 1 on FAILED, naming the failed region', async () => {
    failed = await submit({ regions: ['us-east-1', FAILING_REGION] });
    const run = await flotilla(['builds', 'watch', failed, '--interval', '250']);
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^FAILED: build ${failed} .*${FAILING_REGION}`));
  });

  it('get prints the view; --json is exactly the API view', async () => {
    const view = await json<{ buildId: string; status: string; regions: Record<string, { progress: { synced: number } }> }>(['builds', 'get', succeeded]);
    expect(view.buildId).toBe(succeeded);
    expect(view.status).toBe('SUCCESS');
    expect(Object.keys(view.regions).sort()).toEqual([...REGIONS].sort());
    const api = (await (await apiFetch(`${fleet.url('build')}/builds/${succeeded}`)).json()) as Record<string, unknown>;
    expect(view).toEqual(api);
    const human = await flotilla(['builds', 'get', succeeded]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`build ${succeeded}: SUCCESS`);
  });

  it('get of an unknown build says so and exits 1; a malformed id names the problem', async () => {
    const unknown = await flotilla(['builds', 'get', UNKNOWN_BUILD]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`no build ${UNKNOWN_BUILD}`);
    expect(unknown.stdout).toBe('');
    const watch = await flotilla(['builds', 'watch', UNKNOWN_BUILD]);
    expect(watch.code).toBe(1);
    const malformed = await flotilla(['builds', 'get', 'nope']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/id: must be a ULID/);
  });
});

describe('why', () => {
  it('answers a finished build with its outcome and reason', async () => {
    const ok = await flotilla(['why', succeeded]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^SUCCESS: build /);
    const bad = await json<{ status: string; reason: string; failedRegions: Array<{ region: string }> }>(['why', failed]);
    expect(bad.status).toBe('FAILED');
    expect(bad.reason.length).toBeGreaterThan(0);
    expect(bad.failedRegions.map((r) => r.region)).toContain(FAILING_REGION);
  });

  it('says what a stuck build waits on: its stage, last event, execution state and queue depths', async () => {
    await fleet.stopService('region-sync', 5_000);
    let stuck = '';
    try {
      stuck = await submit({ regions: ['us-east-1'] });
      const answer = await eventually(
        async () => {
          const a = await json<{
            stage: string;
            lastEvent?: { type: string };
            execution?: { status: string; currentState?: { name: string } };
            queues: Array<{ name: string; depth: { visible: number } }>;
          }>(['why', stuck]);
          return a.stage === 'sync' && a.queues[0]?.depth.visible === 1 ? a : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, description: 'the build waiting in the sync stage' },
      );
      expect(answer.lastEvent?.type).toBe('region.replicated');
      expect(answer.execution?.status).toBe('RUNNING');
      // AWS records the Map iteration's own task state (SyncRegion); the emulator only the Map state (Sync).
      expect(['Sync', 'SyncRegion']).toContain(answer.execution?.currentState?.name);
      expect(answer.queues.map((q) => q.name)).toEqual([`${stack.prefix}-sync-us-east-1`]);
      const human = await flotilla(['why', stuck]);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain(`build ${stuck} is IN_PROGRESS, in stage sync: waiting for region sync of us-east-1`);
      expect(human.stdout).toMatch(/last event: region\.replicated \(v\d+\) at .*, .* ago/);
      expect(human.stdout).toContain(`${stack.prefix}-sync-us-east-1`);
    } finally {
      await fleet.startService('region-sync');
    }
    const done = await flotilla(['builds', 'watch', stuck, '--json', '--interval', '250']);
    expect(done.code).toBe(0);
    expect((JSON.parse(done.stdout) as { status: string }).status).toBe('SUCCESS');
  });
});

describe('dlq', () => {
  it('lists, redrives (back through the source queue) and purges a dead-lettered intake message', async () => {
    const requestId = `cli-bad-${Date.now()}`;
    await aws.sns.send(new PublishCommand({ TopicArn: where.topicArn(where.names.topics.intake), Message: JSON.stringify({ type: 'build.requested', requestId, repo: 'bad repo!' }) }));
    type Dlq = { name: string; source?: { name: string }; depth: { visible: number }; samples: Array<{ body: string; failureReason?: string; failureName?: string }> };
    const intakeDlq = `${stack.prefix}-intake-dlq`;
    const listed = await eventually(
      async () => {
        const [q] = await json<Dlq[]>(['dlq', 'list', '--queue', 'intake']);
        return q && q.depth.visible === 1 ? q : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'the invalid intake message in the DLQ' },
    );
    expect(listed.name).toBe(intakeDlq);
    expect(listed.source?.name).toBe(`${stack.prefix}-intake`);
    expect(listed.samples[0]?.body).toContain(requestId);
    expect(listed.samples[0]?.failureReason).toMatch(/repo/);

    const all = await flotilla(['dlq', 'list']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`${intakeDlq}\\s+1\\s`));
    expect(all.stdout).toContain(`${stack.prefix}-sync-us-east-1-dlq`);

    const redriven = await json<Array<{ dlq: string; source: string; moved: number }>>(['dlq', 'redrive', '--queue', 'intake']);
    expect(redriven).toEqual([expect.objectContaining({ dlq: intakeDlq, source: `${stack.prefix}-intake`, moved: 1 })]);
    // It went back to the intake queue, whose consumer refuses it again: it returns, with a fresh reason.
    await eventually(
      async () => {
        const [q] = await json<Dlq[]>(['dlq', 'list', '--queue', 'intake']);
        return q && q.depth.visible === 1 && q.samples[0]?.failureReason ? q : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'the redriven message dead-lettered again by the intake consumer' },
    );

    const refused = await flotilla(['dlq', 'purge', '--queue', 'intake']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--yes');
    const purged = await json<Array<{ dlq: string; purged: number }>>(['dlq', 'purge', '--queue', 'intake', '--yes']);
    expect(purged).toEqual([{ dlq: intakeDlq, purged: 1 }]);
    const [after] = await json<Dlq[]>(['dlq', 'list', '--queue', 'intake']);
    expect(after?.depth.visible).toBe(0);
  });

  it('an unknown queue name is an error listing the queues there are', async () => {
    const run = await flotilla(['dlq', 'redrive', '--queue', 'nope']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`no dead-letter queue matches nope; there are: `);
  });
});

describe('the API token', () => {
  it('--token wins over FLOTILLA_API_TOKEN; a refused token says where it came from and where one comes from, exit 1', async () => {
    const refused = await flotilla(['builds', 'list', '--token', 'not-the-token-0123456789']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the build API at ${fleet.url('build')} refused the token from --token (401)`);
    expect(refused.stderr).toMatch(/FLOTILLA_API_TOKEN.*\.run\/api-token/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    const byFlag = await flotilla(['builds', 'list', '--limit', '1', '--token', TEST_API_TOKEN], { FLOTILLA_API_TOKEN: 'not-the-token-0123456789' });
    expect(byFlag.code, byFlag.stderr).toBe(0);
  });
});

describe('when the API or the emulator is down', () => {
  it('says it cannot reach the API, exit 1, no stack trace', async () => {
    const run = await flotilla(['builds', 'get', succeeded], { FLOTILLA_API_URL: `http://127.0.0.1:${await freePort()}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: cannot reach the build API at http:\/\/127\.0\.0\.1:\d+ \(is \.\/scripts\/run\.sh running\?\)/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('says it cannot reach AWS, exit 1, no stack trace', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const run = await flotilla(['dlq', 'list'], { AWS_ENDPOINT_URL: endpoint });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: cannot reach AWS at ${endpoint}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

// ------------------------------------------------- against the contract: endpoints not yet served here

describe('builds list (GET /builds)', () => {
  it('lists this repo\'s builds newest first, as a table and as JSON, with a next-page hint', async () => {
    const page = await json<{ builds: Array<{ buildId: string; repo: string }>; nextCursor?: string }>(['builds', 'list', '--repo', REPO]);
    const ids = page.builds.map((b) => b.buildId);
    expect(ids).toContain(succeeded);
    expect(ids).toContain(failed);
    expect(ids.indexOf(failed)).toBeLessThan(ids.indexOf(succeeded));
    const failedOnly = await json<{ builds: Array<{ buildId: string; status: string }> }>(['builds', 'list', '--repo', REPO, '--status', 'FAILED']);
    expect(failedOnly.builds.map((b) => b.buildId)).toEqual([failed]);
    const table = await flotilla(['builds', 'list', '--repo', REPO, '--limit', '1']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+REPO\s+ENV\s+VERSION\s+STATUS\s+REQUESTED$/);
    expect(table.stderr).toMatch(/more: add --cursor \S+/);
  });
});

describe('builds get --at (GET /builds/:id?at=)', () => {
  it('shows the build as it was at a version and at a time', async () => {
    const atFirst = await json<{ status: string; lastVersion: number }>(['builds', 'get', succeeded, '--at', '1']);
    expect(atFirst).toMatchObject({ status: 'PENDING', lastVersion: 1 });
    const now = await json<{ requestedAt: string }>(['builds', 'get', succeeded]);
    const atRequest = await json<{ status: string }>(['builds', 'get', succeeded, '--at', now.requestedAt]);
    expect(atRequest.status).toBe('PENDING');
    const bad = await flotilla(['builds', 'get', succeeded, '--at', 'yesterday']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--at must be');
  });
});

describe('builds cancel (POST /builds/:id/cancel)', () => {
  it('cancels a build that has not finished, and refuses one that has', async () => {
    await fleet.stopService('region-sync', 5_000);
    try {
      const id = await submit({ regions: ['us-east-1'] });
      const answer = await json<{ buildId: string; status: string; reason: string }>(['builds', 'cancel', id]);
      expect(answer).toEqual({ buildId: id, status: 'FAILED', reason: 'cancelled' });
      const watch = await flotilla(['builds', 'watch', id, '--interval', '250']);
      expect(watch.code).toBe(1);
    } finally {
      await fleet.startService('region-sync');
    }
    const again = await flotilla(['builds', 'cancel', succeeded]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already|finished/);
  });
});

describe('events tail (GET /events)', () => {
  it('prints a build\'s events oldest first, filters by type, and --follow stops cleanly on Ctrl-C', async () => {
    const page = await json<{ events: Array<{ type: string; stream: string }>; next: string | null }>(['events', 'tail', '--build', succeeded, '--limit', '100']);
    expect(page.events[0]?.type).toBe('build.requested');
    expect(page.events.at(-1)?.type).toBe('build.succeeded');
    expect(page.events.every((e) => e.stream === `build-${succeeded}`)).toBe(true);
    const failures = await json<{ events: Array<{ type: string }> }>(['events', 'tail', '--type', 'build.failed']);
    expect(failures.events.length).toBeGreaterThan(0);
    expect(failures.events.every((e) => e.type === 'build.failed')).toBe(true);

    const child = spawn(process.execPath, [...CLI, 'events', 'tail', '--follow', '--build', succeeded, '--interval', '200'], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(() => Promise.resolve(out.includes('build.succeeded') ? true : undefined), { timeoutMs: 15_000, description: 'the followed events' });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out.split('\n').filter((l) => l.includes('build.requested'))).toHaveLength(1);
  });
});
