/**
 * docker-compose.yml cannot run here (no Docker engine), so it is validated by Debian's
 * docker-compose (`config` needs no engine) and checked against the project's single sources:
 * the emulator version in scripts/requirements.txt and the fleet in deploy/services.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import fleet from '../services.json' with { type: 'json' };

const root = fileURLToPath(new URL('../..', import.meta.url));
const compose = readFileSync(`${root}/docker-compose.yml`, 'utf8');

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (`docker-compose config -q` exits 0)', () => {
    const run = spawnSync('docker-compose', ['-f', `${root}/docker-compose.yml`, 'config', '-q'], { encoding: 'utf8' });
    expect(run.error, 'docker-compose is not installed (scripts/test.sh installs Debian\'s)').toBeUndefined();
    expect(run.status, run.stderr).toBe(0);
  });

  it('defines the emulator, the deploy init container and every service of the fleet', () => {
    const resolved = execFileSync('docker-compose', ['-f', `${root}/docker-compose.yml`, 'config'], { encoding: 'utf8' });
    for (const { name } of fleet.services) expect(resolved).toMatch(new RegExp(`^  ${name}:$`, 'm'));
    expect(resolved).toMatch(/^  deploy:$/m);
  });

  it('runs the emulator image at the version pinned for the native emulator', () => {
    const pinned = /^ministack==(\S+)$/m.exec(readFileSync(`${root}/scripts/requirements.txt`, 'utf8'))?.[1];
    expect(pinned).toBeDefined();
    expect(compose).toContain(`image: ministackorg/ministack:${pinned}`);
  });

  it('starts every service of the fleet on its port, after the stack is deployed', () => {
    for (const { name, port } of fleet.services) {
      const block = compose.slice(compose.indexOf(`\n  ${name}:\n`));
      expect(block, name).toContain(`command: ["node", "services/${name}/src/main.ts"]`);
      expect(block, name).toContain(`"127.0.0.1:${port}:${port}"`);
      expect(block.slice(0, block.indexOf('condition: service_completed_successfully')), name).toContain('deploy:');
    }
  });
});
