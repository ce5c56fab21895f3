/** The template deployed to the emulator, checked through the AWS APIs, as the run command deploys it. */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { GetBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { GetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployStack, dlqOf, GLOBAL_ORDER_INDEX, locate, queuesWithDlq, REGIONS, REDRIVE_MAX_RECEIVE_COUNT, type Locator } from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import fleet from '../services.json' with { type: 'json' };

const aws = testAwsClients();
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('stack'));
  where = await locate(aws, stack.prefix);
});
afterAll(async () => {
  await stack.destroy();
  aws.destroy();
});

describe('the deployed stack', () => {
  it('has the intake, events and alerts topics', async () => {
    for (const topic of Object.values(where.names.topics)) {
      const out = await aws.sns.send(new GetTopicAttributesCommand({ TopicArn: where.topicArn(topic) }));
      expect(out.Attributes?.TopicArn).toBe(where.topicArn(topic));
    }
  });

  it('has every queue with its DLQ, the redrive policy applied', async () => {
    const queues = queuesWithDlq(stack.prefix);
    expect(queues).toHaveLength(Object.keys(where.names.queues).length + REGIONS.length);
    for (const queue of queues) {
      const dlq = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: await where.queueUrl(dlqOf(queue)), AttributeNames: ['QueueArn'] }));
      const out = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: await where.queueUrl(queue), AttributeNames: ['RedrivePolicy'] }));
      expect(JSON.parse(out.Attributes?.RedrivePolicy ?? '{}'), queue).toEqual({ deadLetterTargetArn: dlq.Attributes?.QueueArn, maxReceiveCount: REDRIVE_MAX_RECEIVE_COUNT });
    }
  });

  it('streams the events table (NEW_IMAGE) with its global-order index, and the hosts table with both images', async () => {
    const events = await aws.dynamodb.send(new DescribeTableCommand({ TableName: where.names.tables.events }));
    expect(events.Table?.StreamSpecification).toMatchObject({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(events.Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual([GLOBAL_ORDER_INDEX]);
    const hosts = await aws.dynamodb.send(new DescribeTableCommand({ TableName: where.names.tables.hosts }));
    expect(hosts.Table?.StreamSpecification).toMatchObject({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('notifies only for incoming/*.zip in the global bucket; regional buckets notify nothing', async () => {
    const global = await aws.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: where.names.globalBucket }));
    expect(global.QueueConfigurations).toHaveLength(1);
    const rules = global.QueueConfigurations?.[0]?.Filter?.Key?.FilterRules?.map((r) => [r.Name?.toLowerCase(), r.Value]);
    expect(rules).toEqual([
      ['prefix', 'incoming/'],
      ['suffix', '.zip'],
    ]);
    for (const region of REGIONS) {
      const out = await aws.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: where.names.regionBucket(region) }));
      expect(out.QueueConfigurations ?? [], region).toEqual([]);
    }
  });

  it('runs the deploy state machine and an ECS service per Flotilla service', async () => {
    const machine = await aws.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: where.stateMachineArn() }));
    expect((JSON.parse(machine.definition ?? '{}') as { StartAt?: string }).StartAt).toBe('Build');
    // Every static queue in the definition is a URL of this stack, never an unresolved logical id.
    const queueUrls = [...(machine.definition ?? '').matchAll(/"QueueUrl":\s*"([^"]+)"/g)].map((m) => m[1]);
    expect(queueUrls.length).toBeGreaterThanOrEqual(5);
    for (const url of queueUrls) expect(url).toMatch(new RegExp(`^https?://.+/${stack.prefix}-(build|replication|orchestrator)$`));
    const services = await aws.ecs.send(new DescribeServicesCommand({ cluster: where.names.ecsCluster, services: fleet.services.map((s) => `${stack.prefix}-${s.name}`) }));
    expect(services.services?.map((s) => s.serviceName).sort()).toEqual(fleet.services.map((s) => `${stack.prefix}-${s.name}`).sort());
  });

  it('deploys again as a no-op success', async () => {
    const outputs = await deployStack({ clients: aws, prefix: stack.prefix, target: 'local' });
    expect(outputs).toEqual(stack.outputs);
  });
});
