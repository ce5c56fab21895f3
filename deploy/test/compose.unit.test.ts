/**
 * The two compose files (deploy/compose.ts renders them; the render check keeps the committed ones
 * fresh) as docker-compose 1.29 reads them: `config` needs no engine. docker-compose.host.yml is
 * also run for real by tests/e2e/compose.test.ts; docker-compose.yml needs a registry, so here it
 * is checked for what users rely on: the published images, the bridge network, service names.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_PATHS, portVariable, renderCompose, type ComposeMode } from '../compose.ts';
import { LOCAL_IMAGES, pinnedEmulatorVersion } from '@flotilla/platform/testing';
import fleet from '../services.json' with { type: 'json' };

interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  network_mode?: string;
  ports?: string[];
  hostname?: string;
  environment: Record<string, string>;
  depends_on: Record<string, { condition: string }>;
}

/** The file as docker-compose resolves it, with the given environment for its variables. */
const TOKEN = 'compose-unit-test-token-0123456789';

function resolved(mode: ComposeMode, env: Record<string, string> = {}): Record<string, Service> {
  const out = execFileSync('docker-compose', ['-f', COMPOSE_PATHS[mode], 'config'], { encoding: 'utf8', env: { ...process.env, FLOTILLA_API_TOKEN: TOKEN, ...env } });
  return (parse(out) as { services: Record<string, Service> }).services;
}

describe.each(['bridge', 'host'] as const)('the %s compose file', (mode) => {
  it('is valid for docker-compose (`docker-compose config -q` exits 0)', () => {
    const run = spawnSync('docker-compose', ['-f', COMPOSE_PATHS[mode], 'config', '-q'], { encoding: 'utf8', env: { ...process.env, FLOTILLA_API_TOKEN: TOKEN } });
    expect(run.error, "docker-compose is not installed (scripts/test.sh installs Debian's)").toBeUndefined();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('refuses to start without FLOTILLA_API_TOKEN, naming it; gives it to the build service and to the deploy step (the stack\'s secret, for the runners) only', () => {
    const { FLOTILLA_API_TOKEN: _unset, ...without } = process.env;
    const run = spawnSync('docker-compose', ['-f', COMPOSE_PATHS[mode], 'config', '-q'], { encoding: 'utf8', env: without });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('FLOTILLA_API_TOKEN');
    const services = resolved(mode);
    for (const { name } of fleet.services) expect(services[name]?.environment.FLOTILLA_API_TOKEN, name).toBe(name === 'build' ? TOKEN : undefined);
    expect(services.deploy?.environment.FLOTILLA_API_TOKEN).toBe(TOKEN);
  }, 20_000); // two docker-compose runs, each a second or more

  it(`has every service listen on ${mode === 'bridge' ? "0.0.0.0 inside its container (compose publishes that interface)" : "the host's loopback"}`, () => {
    const services = resolved(mode);
    for (const { name } of fleet.services) expect(services[name]?.environment.HOST, name).toBe(mode === 'bridge' ? '0.0.0.0' : '127.0.0.1');
  });

  it('defines the emulator, the deploy step, and every service of the fleet started after it', () => {
    const services = resolved(mode);
    expect(Object.keys(services).sort()).toEqual(['aws', 'deploy', ...fleet.services.map((s) => s.name)].sort());
    expect(services.deploy?.command).toEqual(['node', 'scripts/deploy.ts', '--target', 'local', '--prefix', 'flotilla']);
    expect(services.deploy?.depends_on).toEqual({ aws: { condition: 'service_healthy' } });
    for (const { name } of fleet.services) {
      // region-sync with its heap bound (issue 9), as the run command and ECS start it.
      const flags = name === 'region-sync' ? ['--max-old-space-size=192', '--max-semi-space-size=4'] : [];
      expect(services[name]?.command, name).toEqual(['node', ...flags, `services/${name}/src/main.ts`]);
      expect(services[name]?.depends_on, name).toEqual({ deploy: { condition: 'service_completed_successfully' } });
      expect(services[name]?.hostname, name).toBe(`flotilla-${name}`);
    }
  });

  it('is exactly what deploy/compose.ts renders', () => {
    expect(readFileSync(COMPOSE_PATHS[mode], 'utf8')).toBe(renderCompose(mode));
  });
});

describe('docker-compose.yml, for users with a registry', () => {
  const services = resolved('bridge');

  it('runs the published emulator image at the pinned version and builds the services from the Dockerfile', () => {
    expect(services.aws?.image).toBe(`ministackorg/ministack:${pinnedEmulatorVersion()}`);
    for (const name of ['deploy', ...fleet.services.map((s) => s.name)]) expect(services[name]?.build?.context, name).toBe(dirname(COMPOSE_PATHS.bridge));
  });

  it('keeps the bridge network: services reach the emulator by name and publish their ports on 127.0.0.1', () => {
    for (const { name, port } of fleet.services) {
      expect(services[name]?.network_mode, name).toBeUndefined();
      expect(services[name]?.environment.AWS_ENDPOINT_URL, name).toBe('http://aws:4566');
      expect(services[name]?.environment.PORT, name).toBe(String(port));
      expect(services[name]?.ports, name).toEqual([`127.0.0.1:${port}:${port}/tcp`]);
    }
  });
});

describe('docker-compose.host.yml, for a machine without a registry', () => {
  it('runs only the local images, in host networking, pulling and building nothing', () => {
    const services = resolved('host');
    expect(services.aws?.image).toBe(`flotilla-local/ministack:${pinnedEmulatorVersion()}`);
    for (const [name, service] of Object.entries(services)) {
      expect(service.network_mode, name).toBe('host');
      expect(service.build, name).toBeUndefined();
      if (name !== 'aws') expect(service.image, name).toBe(LOCAL_IMAGES.app);
    }
  });

  it('moves every port with its variable, the emulator bound to loopback', () => {
    const moved = Object.fromEntries(['aws', ...fleet.services.map((s) => s.name)].map((name, i) => [portVariable(name), String(20_000 + i)]));
    const services = resolved('host', moved);
    expect(services.aws?.environment).toMatchObject({ GATEWAY_PORT: moved.FLOTILLA_AWS_PORT, BIND_HOST: '127.0.0.1' });
    for (const { name } of fleet.services) {
      expect(services[name]?.environment.PORT, name).toBe(moved[portVariable(name)]);
      expect(services[name]?.environment.AWS_ENDPOINT_URL, name).toBe(`http://127.0.0.1:${moved.FLOTILLA_AWS_PORT}`);
    }
  });
});
