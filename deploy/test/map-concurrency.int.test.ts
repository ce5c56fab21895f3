/**
 * The deploy Map's MaxConcurrency (deploy/state-machine.ts) as the emulator runs it: one execution
 * of the deployed state machine to all 12 regions, with this test as every worker. Each regional
 * task is held at least HOLD_MS, and until no other task of its stage has arrived for QUIET_MS (on
 * a busy machine the emulator may take a while to let out a whole wave: releasing on time alone
 * could end the first task before the tenth arrives). Both rules are blind to how many are held,
 * so they cannot make the count come out at 10. The test records, per stage, how many tasks it
 * holds at the same moment. A task counts from its
 * receipt until just before its answer (so the next one the Map lets out, only after that answer,
 * can never be counted alongside it). If the Map let all 12 out at once, the peak would be 12.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DescribeExecutionCommand, SendTaskSuccessCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { locate, REGIONS, type Locator } from '@flotilla/platform';
import { deployTestStack, eventually, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { deployStateMachineDefinition } from '../state-machine.ts';

/** How long each regional task is held: the work a worker would do (the issue asks for at least 2 s). */
const HOLD_MS = 2_000;
/** ... and until its stage has been quiet this long: the wave the Map let out has all arrived. */
const QUIET_MS = 1_000;

const aws = testAwsClients();
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('map-conc'), { regions: REGIONS });
  where = await locate(aws, stack.prefix);
});
afterAll(async () => {
  await stack?.destroy();
  aws.destroy();
});

const taskSchema = z.object({ taskToken: z.string().min(1), input: z.object({ region: z.string().optional() }).loose() });

type Stage = 'build' | 'replicate' | 'sync';
interface Held {
  stage: Stage;
  region: string | undefined;
  from: number;
  to: number;
}

/** The most intervals of one stage open at the same instant. */
function peakOverlap(held: Held[], stage: Stage): number {
  const edges = held.filter((h) => h.stage === stage).flatMap((h) => [{ at: h.from, step: 1 }, { at: h.to, step: -1 }]);
  // An end and a start at the same instant do not overlap.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let open = 0;
  let peak = 0;
  for (const edge of edges) {
    open += edge.step;
    peak = Math.max(peak, open);
  }
  return peak;
}

it('lets at most 10 regional tasks (the Map MaxConcurrency) be outstanding at once, and reaches 10, with 12 regions', { timeout: 60_000 }, async () => {
  const declared = Object.values(deployStateMachineDefinition().States).filter((s): s is { Type: 'Map'; MaxConcurrency: number } => s.Type === 'Map');
  expect(declared.map((s) => s.MaxConcurrency)).toEqual([10, 10]);
  expect(REGIONS.length).toBeGreaterThan(10);

  const held: Held[] = [];
  const pending: Array<Promise<void>> = [];
  let stopped = false;
  const lastArrival: Record<Stage, number> = { build: 0, replicate: 0, sync: 0 };
  const work = async (stage: Stage, queueUrl: string, body: string, receipt: string) => {
    const { taskToken, input } = taskSchema.parse(JSON.parse(body));
    const from = performance.now();
    lastArrival[stage] = from;
    // The work a regional worker does; the build task is answered at once.
    if (stage !== 'build') {
      await eventually(() => Promise.resolve(performance.now() - from >= HOLD_MS && performance.now() - lastArrival[stage] >= QUIET_MS ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 50,
        description: `${stage} task for ${input.region} to be held ${HOLD_MS} ms, its stage quiet ${QUIET_MS} ms`,
      });
    }
    held.push({ stage, region: input.region, from, to: performance.now() });
    const output = stage === 'build' ? { bucket: 'b', key: 'k', sha256: '0'.repeat(64) } : { region: input.region };
    await aws.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }));
  };
  const poll = async (stage: Stage, queueUrl: string) => {
    while (!stopped) {
      const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const message of out.Messages ?? []) pending.push(work(stage, queueUrl, message.Body ?? '', message.ReceiptHandle ?? ''));
    }
  };

  const syncQueueUrls = await Promise.all(REGIONS.map((region) => where.queueUrl(where.names.syncQueue(region))));
  const pollers = [
    poll('build', await where.queueUrl(where.names.queues.build)),
    poll('replicate', await where.queueUrl(where.names.queues.replication)),
    ...syncQueueUrls.map((url) => poll('sync', url)),
  ];
  try {
    const buildId = `map-concurrency-${Date.now()}`;
    const { executionArn } = await aws.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: where.stateMachineArn(),
        name: buildId,
        input: JSON.stringify({
          buildId,
          stream: `build-${buildId}`,
          correlationId: buildId,
          repo: 'map',
          env: 'test',
          version: '1.0.0',
          branch: 'main',
          commit: 'abc1234',
          hostsPerRegion: 1,
          regions: REGIONS.map((region, i) => ({ region, syncQueueUrl: syncQueueUrls[i] })),
        }),
      }),
    );
    const status = await eventually(
      async () => {
        const out = await aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
        return out.status === 'RUNNING' ? undefined : out.status;
      },
      { timeoutMs: 45_000, intervalMs: 250, description: 'the execution to end' },
    );
    expect(status).toBe('SUCCEEDED');
  } finally {
    stopped = true;
    await Promise.all(pollers);
    await Promise.all(pending);
  }

  for (const stage of ['replicate', 'sync'] as const) {
    const regions = held.filter((h) => h.stage === stage).map((h) => h.region);
    expect(regions.sort(), stage).toEqual([...REGIONS].sort());
    expect(peakOverlap(held, stage), `${stage}: tasks held at once`).toBe(10);
  }
  expect(held.filter((h) => h.stage === 'build')).toHaveLength(1);
});
