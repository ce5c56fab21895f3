import { CreateClusterCommand, CreateServiceCommand, DeleteClusterCommand, DeleteServiceCommand, DeregisterTaskDefinitionCommand, DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../../src/aws.ts';
import { containersLabelled, removeContainersLabelled, type Container } from '../../src/testing/docker.ts';
import { LOCAL_IMAGES } from '../../src/testing/local-images.ts';
import { expectThat, pollUntil, row, type NameFor, type Row } from '../rows.ts';

/** A local tag: no registry is reachable, so an image the engine lacks could never start. */
const IMAGE = LOCAL_IMAGES.base;
// sh traps TERM so the emulator's stop (SIGTERM, SIGKILL after 5 s) ends the task at once: a
// bare `sleep` as PID 1 ignores SIGTERM, and the emulator stops tasks inside the request.
const COMMAND = ['/bin/sh', '-c', "trap 'exit 0' TERM; sleep 300 & wait"];
const DEADLINE_MS = 30_000;

export async function ecsChecks(aws: AwsClients, name: NameFor): Promise<Row[]> {
  const { ecs } = aws;
  const cluster = name('cluster');
  const service = 'aggregator';
  let taskDefinitionArn: string | undefined;
  // The emulator labels each task container with its cluster's ARN; this run's cluster is its own.
  let clusterLabel: Record<string, string> | undefined;
  const running = async (label: Record<string, string>): Promise<Container[]> => (await containersLabelled(label)).filter((c) => c.State === 'running');
  const runningCount = async () => (await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }))).services?.[0]?.runningCount;
  try {
    return [
      await row('ECS', 'CreateService desiredCount 2 runs two containers; UpdateService desiredCount 0 stops them', async () => {
        const created = await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
        const clusterArn = created.cluster?.clusterArn;
        expectThat(clusterArn, 'no cluster ARN');
        const label = { ministack: 'ecs', 'com.amazonaws.ecs.cluster': clusterArn };
        clusterLabel = label;
        const task = await ecs.send(
          new RegisterTaskDefinitionCommand({
            family: name('task'),
            networkMode: 'host',
            containerDefinitions: [{ name: 'runner', image: IMAGE, essential: true, command: COMMAND, memory: 64 }],
          }),
        );
        taskDefinitionArn = task.taskDefinition?.taskDefinitionArn;
        expectThat(taskDefinitionArn, 'no task definition ARN');

        await ecs.send(new CreateServiceCommand({ cluster, serviceName: service, taskDefinition: taskDefinitionArn, desiredCount: 2 }));
        const up = await pollUntil(
          async () => {
            const containers = await running(label);
            return containers.length === 2 ? containers : undefined;
          },
          DEADLINE_MS,
          `exactly 2 running containers labelled ministack=ecs for ${clusterArn} (is the emulator started with DOCKER_HOST? scripts/emulator.sh gives it one)`,
        );
        expectThat(up.every((c) => c.Image === IMAGE), `containers run ${up.map((c) => c.Image).join(', ')}, not ${IMAGE}`);
        expectThat(up.every((c) => c.Networks === 'host'), `containers on networks ${up.map((c) => c.Networks).join(', ')}, not host`);
        const upCount = await runningCount();
        expectThat(upCount === 2, `DescribeServices runningCount ${upCount} with 2 containers running`);

        await ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: 0 }));
        await pollUntil(async () => ((await running(label)).length === 0 ? true : undefined), DEADLINE_MS, `no running container of ${clusterArn} after UpdateService desiredCount 0`);
        // The emulator removes a stopped task's container; one left behind would pile up per run.
        const left = await containersLabelled(label);
        expectThat(left.length === 0, `${left.length} stopped containers of ${clusterArn} left after UpdateService desiredCount 0 (${left.map((c) => c.State).join(', ')})`);
        const downCount = await runningCount();
        expectThat(downCount === 0, `DescribeServices runningCount ${downCount} with no container running`);
        return `after CreateService desiredCount 2, docker ps showed 2 running containers of ${IMAGE} (label ministack=ecs and the cluster's ARN, host networking) and DescribeServices runningCount 2; after UpdateService desiredCount 0, 0 containers of the cluster (running or stopped) and runningCount 0`;
      }),
    ];
  } finally {
    await ecs.send(new DeleteServiceCommand({ cluster, service, force: true })).catch(() => undefined);
    await ecs.send(new DeleteClusterCommand({ cluster })).catch(() => undefined);
    if (taskDefinitionArn) await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: taskDefinitionArn })).catch(() => undefined);
    // A failed run leaves no container behind, whatever the emulator did with it.
    if (clusterLabel) await removeContainersLabelled(clusterLabel).catch(() => undefined);
  }
}
