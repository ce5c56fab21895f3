/**
 * The fleet as the run command starts it: every service as deploy/services.ts starts it against a
 * freshly deployed stack answers GET /health (liveness) and GET /ready (dependencies), and SIGTERM stops each one cleanly.
 */
import { hostname, networkInterfaces } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployTestStack, testAwsClients, testEnv, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { SERVICES, startFleet, type Fleet } from '../../scripts/fleet.ts';
import { TEST_API_TOKEN } from '../support/test-fleet.ts';

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
    apiToken: TEST_API_TOKEN,
    ports: 'ephemeral',
  });
  expect(fleet.services.map((s) => s.name).sort()).toEqual(SERVICES.map((s) => s.name).sort());

  for (const service of fleet.services) {
    const res = await fetch(`${service.url}/health`);
    expect(res.status, service.name).toBe(200);
    const health = (await res.json()) as { checks: Record<string, string> };
    expect(health).toMatchObject({ service: service.name, hostname: hostname(), status: 'ok' });
    // Liveness: one check per consumer, each alive.
    expect(Object.keys(health.checks).length, service.name).toBeGreaterThan(0);
    expect(new Set(Object.values(health.checks)), service.name).toEqual(new Set(['ok']));
    const ready = await fetch(`${service.url}/ready`);
    expect(ready.status, service.name).toBe(200);
    expect(await ready.json()).toEqual({ service: service.name, hostname: hostname(), status: 'ok', checks: { eventsTable: 'ok', idempotencyTable: 'ok' } });
  }

  // Loopback only (HOST's default): an address of this machine that others could reach gets no answer.
  const external = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address;
  expect(external, 'a non-loopback IPv4 address to probe').toBeDefined();
  for (const service of fleet.services) {
    const port = new URL(service.url).port;
    await expect(fetch(`http://${external}:${port}/health`, { signal: AbortSignal.timeout(2_000) }), service.name).rejects.toThrow();
  }

  const exits = fleet.services.map((s) => new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code))));
  await fleet.stop(10_000);
  expect(await Promise.all(exits)).toEqual(fleet.services.map(() => 0));
  for (const s of fleet.services) expect(s.child.exitCode, s.name).toBe(0);
});

it('a service whose stack is missing fails to start, saying why, and exits 1', async () => {
  const lines: string[] = [];
  const started = startFleet({
    prefix: uniquePrefix('no-stack'),
    env: { AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL, AWS_REGION: testEnv.AWS_REGION, LOG_LEVEL: 'info' },
    apiToken: TEST_API_TOKEN,
    ports: 'ephemeral',
    onLog: (service, line) => lines.push(`${service} ${line}`),
  });
  await expect(started).rejects.toThrow(/exited with 1 before listening/);
  // Each service names what it could not find, in a fatal log line.
  for (const { name } of SERVICES) {
    const fatal = lines.find((l) => l.startsWith(`${name} `) && l.includes('"level":60'));
    expect(fatal, name).toMatch(/failed to start: .*(queue|Queue|table|Table|exist)/);
  }
});
