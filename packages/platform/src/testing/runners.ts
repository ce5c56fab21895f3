/**
 * A deployed stack's load-test runner services, as tests look at them: the task definition a
 * service runs, the same definition with another command (a runner that waits for its stop and
 * never reports, standing in for a region that hangs), its RUNNING tasks, and the labels the
 * emulator's ECS puts on each task's container.
 */
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ListTasksCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, type TaskDefinition } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../aws.ts';
import type { ResourceNames } from '../resources.ts';

/** Waits for the emulator's stop (SIGTERM) and does nothing else; the image's own command would be the agent. */
export const WAIT_FOR_STOP = ['node', '-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 60_000)"];

export async function runnerService(aws: AwsClients, names: ResourceNames, region: string) {
  const service = (await aws.ecs.send(new DescribeServicesCommand({ cluster: names.ecsCluster, services: [names.runnerService(region)] }))).services?.[0];
  if (!service) throw new Error(`no service ${names.runnerService(region)}`);
  return service;
}

export async function deployedRunnerDefinition(aws: AwsClients, names: ResourceNames, region: string): Promise<TaskDefinition> {
  const service = await runnerService(aws, names, region);
  const definition = (await aws.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition ?? '' }))).taskDefinition;
  if (!definition) throw new Error(`no task definition for ${names.runnerService(region)}`);
  return definition;
}

/** Registers the deployed definition again, its container's command the only difference; returns its ARN. */
export async function runnerDefinitionWithCommand(aws: AwsClients, names: ResourceNames, region: string, command: string[]): Promise<string> {
  const deployed = await deployedRunnerDefinition(aws, names, region);
  const registered = await aws.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: deployed.family,
      networkMode: deployed.networkMode,
      requiresCompatibilities: deployed.requiresCompatibilities,
      cpu: deployed.cpu,
      memory: deployed.memory,
      containerDefinitions: (deployed.containerDefinitions ?? []).map((c) => ({ ...c, command })),
    }),
  );
  return registered.taskDefinition?.taskDefinitionArn ?? '';
}

/** Points the region's runner service at a definition whose container runs `command` (its desired count unchanged). */
export async function runRunnersWithCommand(aws: AwsClients, names: ResourceNames, region: string, command: string[]): Promise<void> {
  const taskDefinition = await runnerDefinitionWithCommand(aws, names, region, command);
  await aws.ecs.send(new UpdateServiceCommand({ cluster: names.ecsCluster, service: names.runnerService(region), taskDefinition }));
}

export const runningRunnerTasks = async (aws: AwsClients, names: ResourceNames, region: string): Promise<string[]> =>
  (await aws.ecs.send(new ListTasksCommand({ cluster: names.ecsCluster, serviceName: names.runnerService(region), desiredStatus: 'RUNNING' }))).taskArns ?? [];

/** The labels the emulator's ECS puts on each task container of a runner service's family. */
export const runnerLabels = (clusterArn: string, names: ResourceNames, region: string) => ({
  'com.amazonaws.ecs.cluster': clusterArn,
  'com.amazonaws.ecs.task-definition-family': names.runnerService(region),
});
