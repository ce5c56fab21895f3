/**
 * The load-test runner services of a deployed stack, run for real: the emulator's ECS starts each
 * task as a container on the Docker engine (host networking), so what the task definition says is
 * what a container gets. Scaled to 1, a region's runner runs the runner image on the host's network
 * with its region and the API token, the token resolved from the stack's Secrets Manager secret
 * (never in the task definition's plain environment); scaled to 0, ListTasks shows no RUNNING task
 * and no container of it is left: the teardown signal the orchestrator waits on (issue 10).
 *
 * The agent (load-tests/agent.ts) is not what is tested here: each task runs the deployed task
 * definition with only its command swapped for one that waits for SIGTERM, so the container's
 * life is the service's, whatever the agent would do without a test run to serve.
 */
import { randomBytes } from 'node:crypto';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames, RUNNER_CONTAINER_NAME, type ResourceNames } from '@flotilla/platform';
import {
  containersLabelled,
  deployedRunnerDefinition,
  deployTestStack,
  docker,
  ensureLocalImages,
  eventually,
  LOCAL_IMAGES,
  removeContainersLabelled,
  runnerDefinitionWithCommand,
  runnerLabels as runnerLabelsOf,
  runnerService,
  runningRunnerTasks,
  testAwsClients,
  uniquePrefix,
  WAIT_FOR_STOP,
  type TestStack,
} from '@flotilla/platform/testing';
import { runnerOutputKey } from '../render.ts';

const aws = testAwsClients();
const TOKEN = `runner-test-${randomBytes(16).toString('hex')}`;
const REGIONS = ['us-east-1', 'eu-west-1'] as const;
const DEADLINE_MS = 30_000;

let stack: TestStack;
let names: ResourceNames;
let clusterArn: string;

const runnerLabels = (region: string) => runnerLabelsOf(clusterArn, names, region);
const deployedDefinition = (region: string) => deployedRunnerDefinition(aws, names, region);
const runningTasks = (region: string) => runningRunnerTasks(aws, names, region);

interface Inspected {
  id: string;
  image: string;
  network: string;
  env: Record<string, string>;
  taskArn: string;
}

async function inspect(id: string): Promise<Inspected> {
  const [image, network, env, taskArn] = JSON.parse(
    await docker('inspect', '--format', '[{{json .Config.Image}},{{json .HostConfig.NetworkMode}},{{json .Config.Env}},{{json (index .Config.Labels "com.amazonaws.ecs.task-arn")}}]', id),
  ) as [string, string, string[], string];
  return { id, image, network, taskArn, env: Object.fromEntries(env.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])) };
}

beforeAll(async () => {
  // scripts/images.sh runner: cached by its source hash, so a no-op when the test command built it.
  await ensureLocalImages('runner');
  stack = await deployTestStack(aws, uniquePrefix('runner'), { regions: REGIONS, apiToken: TOKEN });
  names = resourceNames(stack.prefix);
  clusterArn = (await runnerService(aws, names, REGIONS[0])).clusterArn ?? '';
});

afterAll(async () => {
  // Whatever a failed test left running: the test command fails on a leftover container.
  for (const region of REGIONS) {
    await aws.ecs.send(new UpdateServiceCommand({ cluster: names.ecsCluster, service: names.runnerService(region), desiredCount: 0 })).catch(() => undefined);
    await removeContainersLabelled(runnerLabels(region));
  }
  await stack.destroy();
  aws.destroy();
});

describe('the runner services of a deployed stack', () => {
  it('wait at desiredCount 0 with the agent as their command, and keep the token out of the task definition', async () => {
    for (const region of REGIONS) {
      expect((await runnerService(aws, names, region)).desiredCount, region).toBe(0);
      expect(stack.outputs[runnerOutputKey(region)], region).toBe(names.runnerService(region));
      expect(await runningTasks(region), region).toEqual([]);
      const deployed = await deployedDefinition(region);
      const [container, ...others] = deployed.containerDefinitions ?? [];
      expect(others, region).toEqual([]);
      expect(container?.name, region).toBe(RUNNER_CONTAINER_NAME);
      expect(container?.image, region).toBe(LOCAL_IMAGES.runner);
      expect(container?.command, region).toEqual(['node', 'load-tests/agent.ts']);
      expect(deployed.networkMode, region).toBe('host');
      expect(container?.secrets?.map((s) => s.name), region).toEqual(['FLOTILLA_API_TOKEN']);
      expect(container?.environment?.map((e) => e.name), region).not.toContain('FLOTILLA_API_TOKEN');
      expect(JSON.stringify(deployed), region).not.toContain(TOKEN);
    }
  });

  it('run one container per region when scaled to 1: the runner image, host networking, its region, and the token from the secret', async () => {
    for (const region of REGIONS) {
      await aws.ecs.send(new UpdateServiceCommand({ cluster: names.ecsCluster, service: names.runnerService(region), taskDefinition: await runnerDefinitionWithCommand(aws, names, region, WAIT_FOR_STOP), desiredCount: 1 }));
    }
    for (const region of REGIONS) {
      const running = await eventually(
        async () => {
          const found = (await containersLabelled(runnerLabels(region))).filter((c) => c.State === 'running');
          return found.length === 1 ? found[0] : undefined;
        },
        { timeoutMs: DEADLINE_MS, description: `one running container of ${names.runnerService(region)}` },
      );
      const container = await inspect(running.ID);
      expect(container.image, region).toBe(LOCAL_IMAGES.runner);
      expect(container.network, region).toBe('host');
      expect(container.env, region).toMatchObject({
        FLOTILLA_API_TOKEN: TOKEN,
        FLOTILLA_RUNNER_REGION: region,
        FLOTILLA_PREFIX: stack.prefix,
        AWS_REGION: 'us-east-1',
        FLOTILLA_VEGETA: '/usr/local/bin/vegeta',
      });
      // The container is the service's one RUNNING task, and its image's load generator runs.
      expect(await runningTasks(region), region).toEqual([container.taskArn]);
      expect(await docker('exec', container.id, 'sh', '-c', '"$FLOTILLA_VEGETA" -version'), region).toMatch(/^Version:/m);
    }
  });

  it('stop when scaled to 0: ListTasks shows no RUNNING task and no container of it is left', async () => {
    for (const region of REGIONS) await aws.ecs.send(new UpdateServiceCommand({ cluster: names.ecsCluster, service: names.runnerService(region), desiredCount: 0 }));
    for (const region of REGIONS) {
      const gone = await eventually(
        async () => {
          const [tasks, containers] = await Promise.all([runningTasks(region), containersLabelled(runnerLabels(region))]);
          return tasks.length === 0 && containers.length === 0 ? { tasks, containers } : undefined;
        },
        { timeoutMs: DEADLINE_MS, description: `no RUNNING task and no container of ${names.runnerService(region)}` },
      );
      expect(gone, region).toEqual({ tasks: [], containers: [] });
    }
  });
});
