/** The template deployed to the emulator, checked through the AWS APIs: every region, as the run command deploys it, and a test's subset. */
import { DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeClustersCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { GetBucketNotificationConfigurationCommand, GetObjectCommand, ListObjectsV2Command, NoSuchBucket } from '@aws-sdk/client-s3';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { GetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteStack,
  deployStack,
  dlqOf,
  GLOBAL_ORDER_INDEX,
  locate,
  MAX_TEMPLATE_BODY_BYTES,
  queuesWithDlq,
  REGIONS,
  REDRIVE_MAX_RECEIVE_COUNT,
  resourceNames,
  StackDeployError,
  stackName,
  type Locator,
} from '@flotilla/platform';
import { deployTestStack, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import fleet from '../services.json' with { type: 'json' };

const aws = testAwsClients();
let stack: TestStack;
let where: Locator;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('stack'), { regions: REGIONS });
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
    expect(await where.regions()).toEqual(REGIONS);
    const queues = queuesWithDlq(stack.prefix, stack.regions);
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
    const clusters = await aws.ecs.send(new DescribeClustersCommand({ clusters: [where.names.ecsCluster] }));
    expect(clusters.clusters?.map((c) => c.clusterName)).toEqual([where.names.ecsCluster]);
    expect(stack.outputs.ClusterName).toBe(where.names.ecsCluster);
    const services = await aws.ecs.send(new DescribeServicesCommand({ cluster: where.names.ecsCluster, services: fleet.services.map((s) => `${stack.prefix}-${s.name}`) }));
    expect(services.services?.map((s) => s.serviceName).sort()).toEqual(fleet.services.map((s) => `${stack.prefix}-${s.name}`).sort());
  });

  it('outputs the names services look up, equal to resources.ts', () => {
    expect(stack.outputs.EventsTableName).toBe(where.names.tables.events);
    expect(stack.outputs.FileCopiesTableName).toBe(where.names.tables.fileCopies);
    expect(stack.outputs.GlobalBucketName).toBe(where.names.globalBucket);
    for (const region of REGIONS) expect(Object.values(stack.outputs)).toContain(where.names.regionBucket(region));
    expect(stack.outputs.EventsTopicArn).toBe(where.topicArn(where.names.topics.events));
    expect(stack.outputs.EventsTableStreamArn).toMatch(/^arn:aws:dynamodb:.+:table\/.+-events\/stream\//);
  });

  it('deploys again as a no-op success that keeps the data', async () => {
    // MiniStack answers an unchanged UpdateStack with a real update (UPDATE_COMPLETE), where AWS
    // says "No updates are to be performed"; either way nothing may be replaced.
    const key = { stream: { S: 'redeploy-probe' }, version: { N: '1' } };
    await aws.dynamodb.send(new PutItemCommand({ TableName: where.names.tables.events, Item: key }));
    const outputs = await deployStack({ clients: aws, prefix: stack.prefix, target: 'local', regions: stack.regions });
    expect(outputs).toEqual(stack.outputs);
    const kept = await aws.dynamodb.send(new GetItemCommand({ TableName: where.names.tables.events, Key: key, ConsistentRead: true }));
    expect(kept.Item).toEqual(key);
    const build = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: await where.queueUrl(where.names.queues.build), AttributeNames: ['RedrivePolicy'] }));
    expect(build.Attributes?.RedrivePolicy).toContain(dlqOf(where.names.queues.build));
  });
});

describe('a stack deployed for two of the regions', () => {
  it('has only their sync queues (redrive applied) and buckets, and services find exactly those', async () => {
    const chosen = ['eu-west-1', 'us-east-1'];
    const small = await deployTestStack(aws, uniquePrefix('stack-two'), { regions: chosen });
    try {
      expect(small.regions).toEqual(['us-east-1', 'eu-west-1']);
      const here = await locate(aws, small.prefix);
      expect(await here.regions()).toEqual(['us-east-1', 'eu-west-1']);
      for (const region of REGIONS) {
        const has = chosen.includes(region);
        expect(Object.values(small.outputs).includes(here.names.regionBucket(region)), region).toBe(has);
        const lookUp = aws.sqs.send(new GetQueueUrlCommand({ QueueName: here.names.syncQueue(region) }));
        if (has) expect((await lookUp).QueueUrl, region).toContain(here.names.syncQueue(region));
        else await expect(lookUp, region).rejects.toBeInstanceOf(QueueDoesNotExist);
      }
      for (const queue of queuesWithDlq(small.prefix, small.regions)) {
        const out = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: await here.queueUrl(queue), AttributeNames: ['RedrivePolicy'] }));
        expect(JSON.parse(out.Attributes?.RedrivePolicy ?? '{}'), queue).toMatchObject({ maxReceiveCount: REDRIVE_MAX_RECEIVE_COUNT });
      }
    } finally {
      await small.destroy();
    }
  });
});

describe('a template over the inline limit', () => {
  const templateKeys = async (prefix: string) => (await aws.s3.send(new ListObjectsV2Command({ Bucket: resourceNames(prefix).templatesBucket }))).Contents?.map((o) => o.Key) ?? [];

  it("goes through the prefix's templates bucket (TemplateURL), which deleting the stack removes; a small one is sent inline", async () => {
    // The stack of this file has every region: over 51,200 bytes, so it was uploaded.
    const [key, ...others] = await templateKeys(stack.prefix);
    expect(others).toEqual([]);
    expect(key).toMatch(new RegExp(`^${stackName(stack.prefix)}/[0-9a-f]{16}\\.json$`));
    const uploaded = await (await aws.s3.send(new GetObjectCommand({ Bucket: resourceNames(stack.prefix).templatesBucket, Key: key }))).Body?.transformToString();
    expect(Buffer.byteLength(uploaded ?? '')).toBeGreaterThan(MAX_TEMPLATE_BODY_BYTES);
    expect(Object.keys((JSON.parse(uploaded ?? '{}') as { Outputs: object }).Outputs).sort()).toEqual(Object.keys(stack.outputs).sort());

    const big = await deployTestStack(aws, uniquePrefix('stack-big'), { regions: REGIONS });
    expect(await templateKeys(big.prefix)).toHaveLength(1);
    await big.destroy();
    await expect(templateKeys(big.prefix)).rejects.toBeInstanceOf(NoSuchBucket);

    const one = await deployTestStack(aws, uniquePrefix('stack-one'), { regions: ['us-east-1'] });
    try {
      await expect(templateKeys(one.prefix)).rejects.toBeInstanceOf(NoSuchBucket);
    } finally {
      await one.destroy();
    }
  });
});

describe('a stack that cannot be created', () => {
  it('fails with the failed resource and its reason from the stack events', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-stack-'));
    const templatePath = join(dir, 'broken.json');
    const prefix = uniquePrefix('broken');
    await writeFile(
      templatePath,
      JSON.stringify({
        Parameters: { Prefix: { Type: 'String' }, Target: { Type: 'String' } },
        Resources: {
          First: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': '${Prefix}-first' } } },
          Broken: { Type: 'AWS::Flotilla::Unsupported', DependsOn: 'First', Properties: {} },
        },
      }),
    );
    try {
      const failure = await deployStack({ clients: aws, prefix, target: 'local', templatePath, timeoutMs: 30_000 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(StackDeployError);
      expect((failure as Error).message).toMatch(/ROLLBACK_COMPLETE: .*Broken: .*AWS::Flotilla::Unsupported/);
    } finally {
      await deleteStack({ clients: aws, prefix });
      await rm(dir, { recursive: true, force: true });
    }
  });
});
