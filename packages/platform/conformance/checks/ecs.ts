import { CreateClusterCommand, CreateServiceCommand, DeleteClusterCommand, DeleteServiceCommand, DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../../src/aws.ts';
import { expectThat, row, type NameFor, type Row } from '../rows.ts';

export async function ecsChecks(aws: AwsClients, name: NameFor): Promise<Row[]> {
  const { ecs } = aws;
  const cluster = name('cluster');
  const service = 'aggregator';
  try {
    return [
      await row('ECS', 'CreateCluster, RegisterTaskDefinition, CreateService, UpdateService desiredCount, DescribeServices', async () => {
        await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
        const task = await ecs.send(
          new RegisterTaskDefinitionCommand({
            family: name('task'),
            requiresCompatibilities: ['FARGATE'],
            networkMode: 'awsvpc',
            cpu: '256',
            memory: '512',
            containerDefinitions: [{ name: 'app', image: 'flotilla:latest', essential: true }],
          }),
        );
        const arn = task.taskDefinition?.taskDefinitionArn;
        expectThat(arn, 'no task definition ARN');
        await ecs.send(new CreateServiceCommand({ cluster, serviceName: service, taskDefinition: arn, desiredCount: 2 }));
        const before = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
        expectThat(before.services?.[0]?.desiredCount === 2, `desiredCount ${before.services?.[0]?.desiredCount} after create`);
        await ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: 0 }));
        const after = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
        expectThat(after.services?.[0]?.desiredCount === 0, `desiredCount ${after.services?.[0]?.desiredCount} after update`);
        return 'a service created with desiredCount 2 reads back 0 after UpdateService desiredCount=0 (recorded; no containers run)';
      }),
    ];
  } finally {
    await ecs.send(new DeleteServiceCommand({ cluster, service, force: true })).catch(() => undefined);
    await ecs.send(new DeleteClusterCommand({ cluster })).catch(() => undefined);
  }
}
