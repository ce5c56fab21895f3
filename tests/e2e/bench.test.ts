/**
 * `pnpm bench` at small sizes (issue 9 item 5): the command runs end to end against the emulator
 * and prints every row, each with our figure, the baseline's and their ratio, and the builds, one
 * that runs and one that cannot. No speed is asserted: on a shared machine the figures are noise
 * at these sizes; the full-size command is `pnpm bench` (README, "Benchmarks").
 */
import { spawn } from 'node:child_process';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { testAwsClients, testEnv } from '@flotilla/platform/testing';
import { describe, expect, it } from 'vitest';
import { parseBuildSpecs, planBuilds } from '../../load-tests/bench-builds.ts';
import { ROOT } from '../../scripts/fleet.ts';

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['load-tests/bench.ts', ...args], { cwd: ROOT, env: { ...process.env, AWS_ENDPOINT_URL: testEnv.AWS_ENDPOINT_URL } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const NUMBER = String.raw`(\d[\d,]*(?:\.\d+)?)`;
const COMPARISONS = [
  'host-record writes (batchPut, as region-sync)',
  'consumer pipeline (consume: parse, idempotency, handler)',
  'single-event appends (EventStore.append)',
  'group appends of 2 events (EventStore.append)',
  "replay's global read of 60 events (EventStore.readAll)",
];

describe('pnpm bench', () => {
  it('prints every hot path with our figure, the baseline, the ratio and the target, and the builds, and deletes what it made', async () => {
    const { code, stdout, stderr } = await runBench([
      '--rounds', '1', '--host-items', '100', '--messages', '30', '--appends', '20', '--groups', '4', '--group-size', '2',
      '--replay-events', '60', '--builds', '1x5,6x5,99x100000',
    ]);
    expect(code, stderr.slice(-3_000)).toBe(0);
    for (const what of COMPARISONS) {
      const escaped = what.replace(/[()'.]/g, (c) => `\\${c}`);
      const line = new RegExp(String.raw`^${escaped}\s+${NUMBER} \S+\s+${NUMBER} \S+\s+.+?\s+${NUMBER}×\s+≥ \d\.\d (met|MISSED)$`, 'm').exec(stdout);
      expect(line, `row for ${what} in:\n${stdout}`).not.toBeNull();
      const [ours, baseline, ratio] = [line?.[1], line?.[2], line?.[3]].map((n) => Number(n?.replace(/,/g, '')));
      expect(ours).toBeGreaterThan(0);
      expect(baseline).toBeGreaterThan(0);
      expect(ratio).toBeGreaterThan(0);
      // A missed target comes with why, from the measured calls.
      if (line?.[4] === 'MISSED') expect(stdout).toContain(`  ${what}:\n    ours: `);
    }
    expect(stdout).toMatch(new RegExp(String.raw`^1 × 5\s+SUCCESS\s+${NUMBER}\s+${NUMBER}\s+build \d+, replication \d+, region-sync \d+, orchestrator \d+`, 'm'));
    // More regions than a test stack's five: the bench's stack carries what its builds name.
    expect(stdout).toMatch(new RegExp(String.raw`^6 × 5\s+SUCCESS\s+${NUMBER}\s+${NUMBER}\s+build \d+, replication \d+, region-sync \d+, orchestrator \d+`, 'm'));
    expect(stdout).toMatch(/^99 × 100,000\s+not run\s+—\s+—\s+deploy\/regions\.json names \d+ regions, 99 needed/m);

    // Its stack, castore's table, the replay table and its queues are gone.
    const prefix = /on the stack (\S+) \(deleted\)/.exec(stdout)?.[1];
    expect(prefix).toMatch(/^t-bench-/);
    const aws = testAwsClients();
    const tables = (await aws.dynamodb.send(new ListTablesCommand({}))).TableNames ?? [];
    expect(tables.filter((t) => t.startsWith(`${prefix}-`))).toEqual([]);
    const queues = (await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `${prefix}-` }))).QueueUrls ?? [];
    expect(queues).toEqual([]);
    aws.destroy();
  }, 300_000);

  it('--help names every option and the micro benchmarks', async () => {
    const { code, stdout } = await runBench(['--help']);
    expect(code).toBe(0);
    for (const option of ['--rounds', '--host-items', '--messages', '--appends', '--groups', '--replay-events', '--builds', '--only', '--json']) expect(stdout).toContain(option);
    expect(stdout).toContain('pnpm bench:unit');
  });

  it('measures a size at the regions that exist when its regions do not, and says so; never a large one', () => {
    const regions = ['a', 'b', 'c', 'd', 'e'];
    const plan = planBuilds(parseBuildSpecs('1x1000, 3x1000,10x1000,10x100000'), regions);
    expect(plan.map((p) => ('notRun' in p ? `not run ${p.asked.regions}x${p.asked.hosts}` : `${p.run.regions}x${p.run.hosts}${p.note ? ' instead' : ''}`))).toEqual([
      '1x1000',
      '3x1000',
      'not run 10x1000',
      '5x1000 instead',
      'not run 10x100000',
    ]);
    expect(() => parseBuildSpecs('3 regions')).toThrow(/<regions>x<hosts>/);
  });
});
