/**
 * The fleet as the run command starts it: every service from its own start script against a
 * freshly deployed stack answers GET /health, and SIGTERM stops each one cleanly.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployTestStack, testAwsClients, testEnv, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { SERVICES, startFleet, type Fleet } from '../../scripts/fleet.ts';

const aws = testAwsClients();
let stack: TestStack;
let fleet: Fleet | undefined;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('fleet'));
});
afterAll(async () => {
  await fleet?.stop(2_000);
  await stack.destroy();
  aws.destroy();
});

it('starts every service, each answers GET /health, and each exits 0 on SIGTERM', async () => {
  fleet = await startFleet({
    prefix: stack.prefix,
    env: { AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL, AWS_REGION: testEnv.AWS_REGION, LOG_LEVEL: 'info' },
    ports: 'ephemeral',
  });
  expect(fleet.services.map((s) => s.name).sort()).toEqual(SERVICES.map((s) => s.name).sort());

  for (const service of fleet.services) {
    const res = await fetch(`${service.url}/health`);
    expect(res.status, service.name).toBe(200);
    expect(await res.json()).toEqual({ service: service.name, status: 'ok', checks: { eventsTable: 'ok' } });
  }

  const exits = fleet.services.map((s) => new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code))));
  await fleet.stop(10_000);
  expect(await Promise.all(exits)).toEqual(fleet.services.map(() => 0));
  for (const s of fleet.services) expect(s.child.exitCode, s.name).toBe(0);
});

it('a service whose stack is missing reports unhealthy, naming the failed check', async () => {
  const orphan = await startFleet({
    prefix: uniquePrefix('no-stack'),
    env: { AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL, AWS_REGION: testEnv.AWS_REGION, LOG_LEVEL: 'info' },
    ports: 'ephemeral',
  });
  try {
    const res = await fetch(`${orphan.url('build')}/health`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: { eventsTable: string } };
    expect(body.status).toBe('unhealthy');
    expect(body.checks.eventsTable).not.toBe('ok');
  } finally {
    await orphan.stop(5_000);
  }
});
