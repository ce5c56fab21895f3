/**
 * A deployed stack's load-test runner services, as tests look at them: the task definition a
 * service runs, the same definition with another command (a runner that waits for its stop and
 * never reports, standing in for a region that hangs), its RUNNING tasks, and the labels the
 * emulator's ECS puts on each task's container.
 */
import { ListTasksCommand, UpdateServiceCommand, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../aws.ts';
import type { ResourceNames } from '../resources.ts';
import { reviseRunnerDefinition, runnerDefinition } from '../stack.ts';

/** Waits for the emulator's stop (SIGTERM) and does nothing else; the image's own command would be the agent. */
export const WAIT_FOR_STOP = ['node', '-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 60_000)"];

export const runnerService = async (aws: AwsClients, names: ResourceNames, region: string): Promise<Service> => (await runnerDefinition(aws, names.prefix, region)).service;

export const deployedRunnerDefinition = async (aws: AwsClients, names: ResourceNames, region: string): Promise<TaskDefinition> => (await runnerDefinition(aws, names.prefix, region)).definition;

/** Registers the deployed definition again, its runner container's command the only difference; returns its ARN. */
export async function runnerDefinitionWithCommand(aws: AwsClients, names: ResourceNames, region: string, command: string[]): Promise<string> {
  return reviseRunnerDefinition(aws, await deployedRunnerDefinition(aws, names, region), (c) => ({ ...c, command }));
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
