/**
 * `docker compose up` for real: the fleet of docker-compose.host.yml (the images scripts/images.sh
 * builds on this machine, host networking on loopback, every port moved off the native fleet's and
 * the shared emulator's), run by Debian's docker-compose (v1). The services prove they run in
 * containers (compose's labels, and /health naming the container's host), one build through HTTP
 * and one through `awslocal sns publish` reach SUCCESS, and `down` leaves no container behind. How
 * long each step took is printed at the end.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients, locate } from '@flotilla/platform';
import { containersLabelled, docker, dockerHost, ensureLocalImages, eventually, sampleBuildRequest } from '@flotilla/platform/testing';
import { portVariable } from '../../deploy/compose.ts';
import { ROOT, SERVICES } from '../../scripts/fleet.ts';
import { freePort } from '../support/private-emulator.ts';
import { apiFetch, TEST_API_TOKEN } from '../support/test-fleet.ts';

const run = promisify(execFile);
const project = `flotilla-e2e-${Date.now().toString(36)}`;
const ports: Record<string, number> = {};
const timings: Array<[string, number]> = [];
let env: NodeJS.ProcessEnv;
let downDone = false;

async function timed<T>(step: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings.push([step, performance.now() - started]);
  }
}

const compose = (args: string[]) =>
  run('docker-compose', ['-f', join(ROOT, 'docker-compose.host.yml'), '-p', project, ...args], { env, cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
const url = (service: string, path: string) => `http://127.0.0.1:${ports[service]}${path}`;

/** This project's containers, running or not, as `<service> <state>`. */
async function containers(): Promise<string[]> {
  const found = await containersLabelled({ 'com.docker.compose.project': project });
  return found.map((c) => `${c.Names.replace(`${project}_`, '').replace(/_\d+$/, '')} ${c.State}`).sort();
}

beforeAll(async () => {
  env = { ...process.env, DOCKER_HOST: await dockerHost(), FLOTILLA_API_TOKEN: TEST_API_TOKEN };
  await timed('images (scripts/images.sh)', () => ensureLocalImages('all'));
  for (const name of ['aws', ...SERVICES.map((s) => s.name)]) ports[name] = await freePort();
  for (const [name, port] of Object.entries(ports)) env[portVariable(name)] = String(port);
  // up -d returns once every container is started, the deploy step having completed first.
  await timed('docker-compose up', () => compose(['up', '-d']));
  await timed('every service healthy', () =>
    Promise.all(SERVICES.map(({ name }) => eventually(async () => ((await fetch(url(name, '/health'))).ok ? true : undefined), { timeoutMs: 60_000, description: `${name} healthy` }))),
  );
}, 600_000);

afterAll(async () => {
  if (!env) return;
  // The fleet's logs, for reading after a failure.
  mkdirSync(join(ROOT, '.reports'), { recursive: true });
  const logs = await compose(['logs', '--no-color']).catch((error: unknown) => ({ stdout: String(error) }));
  writeFileSync(join(ROOT, '.reports', `${project}.log`), logs.stdout);
  if (!downDone) await compose(['down', '--remove-orphans', '--timeout', '30']).catch(() => undefined);
  console.log(`compose fleet ${project}, step times:\n${timings.map(([step, ms]) => `  ${step}: ${(ms / 1000).toFixed(1)} s`).join('\n')}`);
}, 120_000);

describe('docker-compose.host.yml runs the whole fleet', () => {
  it('runs the emulator and every service in a container of its own; the deploy step ran to completion', async () => {
    const expected = ['aws running', 'deploy exited', ...SERVICES.map(({ name }) => `${name} running`)].sort();
    expect(await containers()).toEqual(expected);
    expect(await docker('inspect', '--format', '{{.State.ExitCode}}', `${project}_deploy_1`)).toBe('0');
  });

  it('answers /health from inside each container (its own hostname, not the machine\'s)', async () => {
    for (const { name } of SERVICES) {
      const body = (await (await fetch(url(name, '/health'))).json()) as { service: string; hostname: string; status: string };
      expect(body).toMatchObject({ service: name, hostname: `flotilla-${name}`, status: 'ok' });
      expect(body.hostname).not.toBe(hostname());
    }
  });

  it('serves the console the image built at / of the build service', async () => {
    const page = await fetch(url('build', '/'));
    expect(page.status).toBe(200);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(asset).toBeDefined();
    expect((await fetch(url('build', asset ?? ''))).status).toBe(200);
  });

  it('takes one build through HTTP and one through `awslocal sns publish`, both to SUCCESS', async () => {
    const request = () => sampleBuildRequest({ regions: ['us-east-1', 'eu-west-1'], hostsPerRegion: 20 });
    const posted = await apiFetch(url('build', '/builds'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${project}-http` },
      body: JSON.stringify(request()),
    });
    expect(posted.status).toBe(202);
    const { buildId: httpBuild } = (await posted.json()) as { buildId: string };

    const endpoint = `http://127.0.0.1:${ports.aws}`;
    const aws = createAwsClients({ region: 'us-east-1', endpoint });
    const where = await locate(aws, 'flotilla');
    aws.destroy();
    const requestId = `${project}-sns`;
    await run(join(ROOT, '.tools/venv/bin/awslocal'), ['sns', 'publish', '--topic-arn', where.topicArn(where.names.topics.intake), '--message', JSON.stringify({ type: 'build.requested', requestId, ...request() })], {
      env: { ...env, AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    });
    const snsBuild = await eventually(async () => {
      const { builds } = (await (await apiFetch(url('build', `/builds?door=sns&key=${requestId}`))).json()) as { builds: Array<{ buildId: string }> };
      return builds[0]?.buildId;
    }, { timeoutMs: 60_000, description: 'the SNS build in the list' });

    await timed('two builds to SUCCESS', () =>
      Promise.all(
        [httpBuild, snsBuild].map((id) =>
          eventually(async () => {
            const view = (await (await apiFetch(url('build', `/builds/${id}`))).json()) as { status: string };
            expect(view.status).not.toBe('FAILED');
            return view.status === 'SUCCESS' ? true : undefined;
          }, { timeoutMs: 180_000, description: `build ${id} SUCCESS` }),
        ),
      ),
    );
  });

  it('`docker-compose down` stops and removes every container of the fleet', async () => {
    await timed('docker-compose down', () => compose(['down', '--remove-orphans', '--timeout', '30']));
    downDone = true;
    expect(await containers()).toEqual([]);
  });
});
