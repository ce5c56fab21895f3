import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultsSchema } from '../src/faults.ts';

describe('fault points', () => {
  it('parses points and probabilities, and names the points when one is wrong', () => {
    expect(faultsSchema.parse('consumer.before-delete=0.5, stream.before-checkpoint=1')).toEqual(
      new Map([['consumer.before-delete', 0.5], ['stream.before-checkpoint', 1]]),
    );
    expect(faultsSchema.parse(undefined).size).toBe(0);
    const bad = faultsSchema.safeParse('consumer.before-delet=0.5');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toContain('execution.after-start');
    expect(faultsSchema.safeParse('consumer.before-delete=0').success).toBe(false);
    expect(faultsSchema.safeParse('consumer.before-delete=1.5').success).toBe(false);
  });

  it('an armed point kills the process with SIGKILL after saying so; an unarmed one returns', () => {
    const script = (armed: string) => `
      import { armFaults, faultPoint, faultsSchema } from ${JSON.stringify(new URL('../src/faults.ts', import.meta.url).pathname)};
      armFaults(faultsSchema.parse(${JSON.stringify(armed)}));
      faultPoint('consumer.before-delete');
      console.log('survived');`;
    const killed = spawnSync(process.execPath, ['--input-type=module', '-e', script('consumer.before-delete=1')], { encoding: 'utf8' });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toMatch(/^flotilla-fault consumer\.before-delete pid=\d+$/m);
    expect(killed.stdout).not.toContain('survived');
    const spared = spawnSync(process.execPath, ['--input-type=module', '-e', script('stream.before-checkpoint=1')], { encoding: 'utf8' });
    expect(spared.status).toBe(0);
    expect(spared.stdout).toContain('survived');
  });

  it('fires only inside its window: not before AFTER_MS of uptime, never once the stop file exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faults-'));
    const stopFile = join(dir, 'stop');
    const run = (window: { afterMs?: number; stopFile?: string }) =>
      spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `
      import { writeFileSync } from 'node:fs';
      import { armFaults, faultPoint, faultsSchema } from ${JSON.stringify(new URL('../src/faults.ts', import.meta.url).pathname)};
      armFaults(faultsSchema.parse('consumer.before-delete=1'), ${JSON.stringify(window)});
      faultPoint('consumer.before-delete');
      console.log('survived once');
      faultPoint('consumer.before-delete');
      console.log('survived twice');`,
        ],
        { encoding: 'utf8' },
      );
    try {
      // Too young: spared. (The test's own process has run far less than an hour.)
      const young = run({ afterMs: 3_600_000 });
      expect(young.status).toBe(0);
      expect(young.stdout).toContain('survived twice');
      // Old enough, no stop file yet: the first point kills.
      const armed = run({ afterMs: 0, stopFile });
      expect(armed.signal).toBe('SIGKILL');
      expect(armed.stdout).not.toContain('survived once');
      // The stop file exists: disarmed for good.
      writeFileSync(stopFile, '');
      const stopped = run({ stopFile });
      expect(stopped.status).toBe(0);
      expect(stopped.stdout).toContain('survived twice');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
