import { spawnSync } from 'node:child_process';
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
});
