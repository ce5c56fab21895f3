import { CreateStackCommand, DeleteStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsClients } from '../../src/aws.ts';
import { containersLabelled, docker, removeContainersLabelled, type Container } from '../../src/testing/docker.ts';
import { LOCAL_IMAGES } from '../../src/testing/local-images.ts';
import { expectThat, gap, pollUntil, row, type NameFor, type Row } from '../rows.ts';

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
      await secretsFromCloudFormation(aws, name),
    ];
  } finally {
    await ecs.send(new DeleteServiceCommand({ cluster, service, force: true })).catch(() => undefined);
    await ecs.send(new DeleteClusterCommand({ cluster })).catch(() => undefined);
    if (taskDefinitionArn) await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: taskDefinitionArn })).catch(() => undefined);
    // A failed run leaves no container behind, whatever the emulator did with it.
    if (clusterLabel) await removeContainersLabelled(clusterLabel).catch(() => undefined);
  }
}

/**
 * The load-test runners get the API token through their task definition's `secrets` (issue 10).
 * MiniStack's CloudFormation camel-cases a container definition's keys but not those inside
 * `Secrets`, and its ECS reads only `name` and `valueFrom`: the secret never reaches the container.
 */
function secretsFromCloudFormation(aws: AwsClients, name: NameFor): Promise<Row> {
  const { ecs, cloudformation: cfn } = aws;
  const stackName = name('secrets-stack');
  const cluster = name('secrets-cluster');
  const family = name('secrets-task');
  const secretName = name('secret');
  const value = `conformance-${stackName}`;
  const variable = 'CONFORMANCE_SECRET';
  const template = {
    Resources: {
      Secret: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: secretName, SecretString: value } },
      Cluster: { Type: 'AWS::ECS::Cluster', Properties: { ClusterName: cluster } },
      Task: {
        Type: 'AWS::ECS::TaskDefinition',
        Properties: {
          Family: family,
          NetworkMode: 'host',
          ContainerDefinitions: [{ Name: 'runner', Image: IMAGE, Essential: true, Command: COMMAND, Memory: 64, Secrets: [{ Name: variable, ValueFrom: { Ref: 'Secret' } }] }],
        },
      },
    },
    Outputs: { SecretRef: { Value: { Ref: 'Secret' } } },
  };
  /** Runs one task of `taskDefinition` and returns the variable as its container got it (undefined: not set), then stops it. */
  const secretInContainer = async (taskDefinition: string): Promise<string | undefined> => {
    const task = (await ecs.send(new RunTaskCommand({ cluster, taskDefinition }))).tasks?.[0];
    expectThat(task?.taskArn && task.lastStatus === 'RUNNING', `RunTask of ${taskDefinition}: ${task?.lastStatus ?? 'no task'} ${task?.stoppedReason ?? ''}`);
    const [container] = await pollUntil(
      async () => {
        const found = await containersLabelled({ 'com.amazonaws.ecs.task-arn': task.taskArn ?? '' });
        return found.length > 0 ? found : undefined;
      },
      DEADLINE_MS,
      `the container of ${task.taskArn}`,
    );
    const env = JSON.parse(await docker('inspect', '--format', '{{json .Config.Env}}', container?.ID ?? '')) as string[];
    await ecs.send(new StopTaskCommand({ cluster, task: task.taskArn }));
    return env.find((line) => line.startsWith(`${variable}=`))?.slice(variable.length + 1);
  };
  return gap(
    'ECS',
    'a task definition from CloudFormation passes its container Secrets on unread (and Ref of a secret gives its name, not its ARN)',
    "after a local deploy, deployStack registers each runner task definition again with its secrets as the ECS API spells them (name, valueFrom a secret ARN) and points the runner's service at it (applyRunnerSecrets in packages/platform/src/stack.ts)",
    async () => {
      try {
        await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template) }));
        const stack = await pollUntil(
          async () => {
            const found = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
            return found?.StackStatus === 'CREATE_COMPLETE' ? found : undefined;
          },
          DEADLINE_MS,
          'the stack',
        );
        const ref = stack.Outputs?.find((o) => o.OutputKey === 'SecretRef')?.OutputValue;
        expectThat(ref === secretName, `Ref of the secret is ${ref}: the emulator gives the ARN now, as AWS does`);
        const created = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family }))).taskDefinition;
        const fromStack = await secretInContainer(created?.taskDefinitionArn ?? '');
        expectThat(fromStack === undefined, `the container of the stack's task definition got ${variable}: the gap is gone, drop the workaround`);
        const { Account } = await aws.sts.send(new GetCallerIdentityCommand({}));
        const registered = await ecs.send(
          new RegisterTaskDefinitionCommand({
            family,
            networkMode: 'host',
            containerDefinitions: [
              { ...created?.containerDefinitions?.[0], secrets: [{ name: variable, valueFrom: `arn:aws:secretsmanager:${aws.settings.region}:${Account ?? ''}:secret:${secretName}` }] },
            ],
          }),
        );
        const fixed = await secretInContainer(registered.taskDefinition?.taskDefinitionArn ?? '');
        expectThat(fixed === value, `the container of the re-registered task definition got ${variable}=${fixed ?? '(unset)'}, not the secret's value`);
        return "the stack's task definition (Secrets: Name, ValueFrom) started a container without the variable; Ref of the secret answered its name; the same definition registered again with secrets name and valueFrom (a partial secret ARN) started a container with the secret's value";
      } finally {
        await cfn.send(new DeleteStackCommand({ StackName: stackName })).catch(() => undefined);
        await removeContainersLabelled({ 'com.amazonaws.ecs.task-definition-family': family }).catch(() => undefined);
      }
    },
  );
}
