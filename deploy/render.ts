/**
 * Renders deploy/cloudformation/flotilla.json, the one template for AWS and for the local
 * emulator, from the names in packages/platform/src/resources.ts and the regions in
 * deploy/regions.json. CloudFormation has no loop over a list (and MiniStack has no
 * Fn::ForEach), so per-region resources are rendered here and the result is committed; a test
 * fails when the committed file differs from a fresh render.
 *
 * The committed template has every region. A deploy that wants fewer (a test using two regions)
 * renders the same template for a subset: `renderTemplate(regions)`, via deployStack's `regions`.
 * A region is all or nothing: its sync queue and DLQ, its bucket, its load-test runner service,
 * the grants and outputs naming them. (Not a template parameter: CloudFormation would need one
 * condition per region, woven through every policy and output. The full template is over the
 * 51,200-byte inline limit; deployStack sends it through S3.)
 *
 * It also writes the two compose files from deploy/compose.ts.
 *
 *   node deploy/render.ts          write the template and the compose files
 *   node deploy/render.ts --check  exit 1 when a committed one is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BUILD_LIST_INDEXES,
  chooseRegions,
  dlqOf,
  GLOBAL_ORDER_INDEX,
  names,
  REDRIVE_MAX_RECEIVE_COUNT,
  REGIONS,
  regionBucketSuffix,
  RUNNER_CONTAINER_NAME,
  RUNNER_SECRETS,
  runnerSuffix,
  syncQueueSuffix,
} from '../packages/platform/src/resources.ts';
import { LOCAL_IMAGES } from '../packages/platform/src/testing/local-images.ts';
import { COMPOSE_PATHS, renderCompose } from './compose.ts';
import { SERVICES, serviceNodeArgs } from './services.ts';
import { DEFINITION_SUBSTITUTIONS, deployStateMachineDefinition } from './state-machine.ts';

export const TEMPLATE_PATH = fileURLToPath(new URL('./cloudformation/flotilla.json', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Resources = Record<string, { Type: string; Condition?: string; DependsOn?: string | string[]; Properties?: Record<string, Json> }> & Record<string, Json>;

const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

const sub = (suffix: string): Json => ({ 'Fn::Sub': `\${Prefix}-${suffix}` });
const ref = (id: string): Json => ({ Ref: id });
const arnOf = (id: string): Json => ({ 'Fn::GetAtt': [id, 'Arn'] });
const ifAws = (then: Json, otherwise: Json = { Ref: 'AWS::NoValue' }): Json => ({ 'Fn::If': ['IsAws', then, otherwise] });
const pascal = (text: string): string => text.split(/[^A-Za-z0-9]+/).map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : '')).join('');

export const queueId = (suffix: string): string => `${pascal(suffix)}Queue`;
export const dlqId = (suffix: string): string => `${pascal(suffix)}Dlq`;
export const tableId = (suffix: string): string => `${pascal(suffix)}Table`;
export const regionBucketId = (region: string): string => `${pascal(regionBucketSuffix(region))}Bucket`;
export const taskRoleId = (service: string): string => `${pascal(service)}TaskRole`;
/** A secret by its name suffix: `ApiTokenSecret`. */
export const secretId = (suffix: string): string => `${pascal(suffix)}Secret`;
/** A region's runner: its service (`RunnerUsEast1Service`), task definition and task role share the stem. */
export const runnerId = (region: string): string => pascal(runnerSuffix(region));
/** The runner's ECS service name in the outputs (`RunnerUsEast1ServiceName`), as the other names are. */
export const runnerOutputKey = (region: string): string => `${runnerId(region)}ServiceName`;

/** Every queue suffix with a DLQ: the service queues and one sync queue per region. */
export const queueSuffixes = (regions: readonly string[] = REGIONS): string[] => [...Object.values(names.queues), ...regions.map(syncQueueSuffix)];

function queues(resources: Resources, regions: readonly string[]): void {
  for (const suffix of queueSuffixes(regions)) {
    resources[dlqId(suffix)] = {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: sub(dlqOf(suffix)), MessageRetentionPeriod: DLQ_RETENTION_SECONDS },
    };
    resources[queueId(suffix)] = {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: sub(suffix),
        VisibilityTimeout: 60,
        RedrivePolicy: { deadLetterTargetArn: arnOf(dlqId(suffix)), maxReceiveCount: REDRIVE_MAX_RECEIVE_COUNT },
      },
    };
  }
}

function topics(resources: Resources): void {
  for (const suffix of Object.values(names.topics)) {
    resources[`${pascal(suffix)}Topic`] = { Type: 'AWS::SNS::Topic', Properties: { TopicName: sub(suffix) } };
  }
  const subscribe = (topic: string, queueSuffix: string) => {
    const queue = queueId(queueSuffix);
    resources[`${pascal(topic)}To${queue}`] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: ref(`${pascal(topic)}Topic`), Protocol: 'sqs', Endpoint: arnOf(queue), RawMessageDelivery: true },
    };
    resources[`${queue}Policy`] = {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [ref(queue)],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: arnOf(queue),
              Condition: { ArnEquals: { 'aws:SourceArn': ref(`${pascal(topic)}Topic`) } },
            },
          ],
        },
      },
    };
  };
  subscribe(names.topics.intake, names.queues.intake);
  subscribe(names.topics.events, names.queues.projections);
}

function tables(resources: Resources): void {
  const table = (suffix: string, keys: Array<[string, 'HASH' | 'RANGE', 'S' | 'N']>, extra: Record<string, Json> = {}) => {
    const attributes = new Map(keys.map(([name, , type]) => [name, type]));
    const indexes = (extra.GlobalSecondaryIndexes ?? []) as Array<{ KeySchema: Array<{ AttributeName: string }> }>;
    for (const index of indexes) for (const k of index.KeySchema) attributes.set(k.AttributeName, 'S');
    resources[tableId(suffix)] = {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: sub(suffix),
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
        KeySchema: keys.map(([AttributeName, KeyType]) => ({ AttributeName, KeyType })),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        ...extra,
      },
    };
  };
  const pkSk: Array<[string, 'HASH' | 'RANGE', 'S' | 'N']> = [
    ['pk', 'HASH', 'S'],
    ['sk', 'RANGE', 'S'],
  ];
  table(
    names.tables.events,
    [
      ['stream', 'HASH', 'S'],
      ['version', 'RANGE', 'N'],
    ],
    {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      GlobalSecondaryIndexes: [
        {
          IndexName: GLOBAL_ORDER_INDEX,
          KeySchema: [
            { AttributeName: 'bucket', KeyType: 'HASH' },
            { AttributeName: 'id', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    },
  );
  table(names.tables.projections, pkSk);
  table(names.tables.builds, [['buildId', 'HASH', 'S']], {
    GlobalSecondaryIndexes: Object.entries(BUILD_LIST_INDEXES).map(([partition, IndexName]) => ({
      IndexName,
      KeySchema: [
        { AttributeName: partition, KeyType: 'HASH' },
        { AttributeName: 'buildId', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  });
  table(names.tables.checkpoints, pkSk);
  table(names.tables.idempotency, [['pk', 'HASH', 'S']], { TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } });
  // Up to 100,000 host records per region per build: region-sync's host write sets expiresAt
  // (HOST_RECORD_TTL_SECONDS), and the counters ignore the REMOVE records expiry streams (review L8).
  table(names.tables.hosts, pkSk, { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' }, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } });
  table(names.tables.fileCopies, pkSk);
}

function buckets(resources: Resources, regions: readonly string[]): void {
  const uploads = queueId(names.queues.uploads);
  const privateBucket = { PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true } };
  resources[`${uploads}Policy`] = {
    Type: 'AWS::SQS::QueuePolicy',
    Properties: {
      Queues: [ref(uploads)],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: arnOf(uploads),
            Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::Sub': `arn:\${AWS::Partition}:s3:::\${Prefix}-${names.buckets.global}` } } },
          },
        ],
      },
    },
  };
  resources.GlobalBucket = {
    Type: 'AWS::S3::Bucket',
    DependsOn: `${uploads}Policy`,
    Properties: {
      BucketName: sub(names.buckets.global),
      ...privateBucket,
      // Only prebuilt uploads notify; workers write under artifacts/, so they never trigger intake.
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Event: 's3:ObjectCreated:*',
            Queue: arnOf(uploads),
            Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'incoming/' }, { Name: 'suffix', Value: '.zip' }] } },
          },
        ],
      },
    },
  };
  for (const region of regions) {
    resources[regionBucketId(region)] = { Type: 'AWS::S3::Bucket', Properties: { BucketName: sub(regionBucketSuffix(region)), ...privateBucket } };
  }
}

function stateMachine(resources: Resources, regions: readonly string[]): void {
  // The definition names queues as ${<logical id>}, which Fn::Sub resolves to their URLs. (A
  // variable map would do too, but MiniStack does not order resources by the Refs inside one: a
  // queue created after the state machine was substituted by its logical id.)
  const substitutions: Record<string, string> = {
    BuildQueueUrl: queueId(names.queues.build),
    ReplicationQueueUrl: queueId(names.queues.replication),
    OrchestratorQueueUrl: queueId(names.queues.orchestrator),
  };
  if (Object.keys(substitutions).join() !== DEFINITION_SUBSTITUTIONS.join()) throw new Error('state machine substitutions out of step with deploy/state-machine.ts');
  let definition = JSON.stringify(deployStateMachineDefinition());
  for (const [placeholder, logicalId] of Object.entries(substitutions)) definition = definition.replaceAll(`\${${placeholder}}`, `\${${logicalId}}`);
  const workerQueues = [names.queues.build, names.queues.replication, names.queues.orchestrator, ...regions.map(syncQueueSuffix)];
  resources.StateMachineRole = {
    Type: 'AWS::IAM::Role',
    Condition: 'IsAws',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [
        {
          PolicyName: 'send-tasks',
          PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: workerQueues.map((q) => arnOf(queueId(q))) }] },
        },
      ],
    },
  };
  resources.DeployStateMachine = {
    Type: 'AWS::StepFunctions::StateMachine',
    Properties: {
      StateMachineName: sub(names.stateMachine),
      DefinitionString: { 'Fn::Sub': definition },
      // The emulator needs a role ARN but never assumes it.
      RoleArn: ifAws(arnOf('StateMachineRole'), { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Prefix}-local-states' }),
    },
  };
}

/** `actions` on the objects under `prefixes` in the stack's bucket of that suffix. */
const objects = (bucket: string, prefixes: string[], actions: string[]): Json => ({
  Effect: 'Allow',
  Action: actions,
  Resource: prefixes.map((p) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:s3:::\${Prefix}-${bucket}/${p}*` })),
});

/**
 * What each service may touch, for its task role on AWS (least privilege). Every grant here is
 * checked against the calls the services really make: tests/iam records them during the
 * end-to-end tests and evaluates each against these roles (the emulator enforces no IAM).
 */
function servicePermissions(service: string, regions: readonly string[]): Json[] {
  const table = (suffix: string) => arnOf(tableId(suffix));
  const tableAndIndexes = (suffix: string) => [table(suffix), { 'Fn::Sub': [`\${Arn}/index/*`, { Arn: table(suffix) }] }];
  // SendMessage too: a message whose work is still running elsewhere is sent again, delayed, to its
  // own queue (consumer.ts: the in-progress deferral of review H1).
  const consume = (suffixes: string[]) => ({
    Effect: 'Allow',
    Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes', 'sqs:SendMessage'],
    Resource: suffixes.map((s) => arnOf(queueId(s))),
  });
  const deadLetter = (suffixes: string[]) => ({ Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:GetQueueUrl'], Resource: suffixes.map((s) => arnOf(dlqId(s))) });
  const data = (suffixes: string[], actions: string[]) => ({ Effect: 'Allow', Action: actions.map((a) => `dynamodb:${a}`), Resource: suffixes.flatMap(tableAndIndexes) });
  // The log is append-only: conditional puts in a transaction with a head check, reads by stream
  // (and the global-order index). Nothing may rewrite or delete history, whatever else is granted.
  const appendToLog = data([names.tables.events], ['PutItem', 'ConditionCheckItem', 'Query', 'DescribeTable']);
  const logIsImmutable = {
    Effect: 'Deny',
    Action: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLUpdate', 'dynamodb:PartiQLDelete'],
    Resource: tableAndIndexes(names.tables.events),
  };
  // Keyed records (idempotency claims, checkpoints, counters, copy tracking): read, write, expire;
  // DescribeTable for GET /ready, which checks the idempotency table answers.
  const records = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'ConditionCheckItem', 'DescribeTable'];
  // ListStreams takes no resource ARN in IAM; the stream reader finds the stream through DescribeTable instead.
  const readStream = (suffix: string) => ({
    Effect: 'Allow',
    Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
    Resource: { 'Fn::GetAtt': [tableId(suffix), 'StreamArn'] },
  });
  // Task tokens name no resource: IAM grants these three only on "*" (a state machine ARN here
  // matches nothing, and every worker's answer would be AccessDenied on AWS).
  const answerTasks = { Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'], Resource: '*' };
  const globalObjects = (prefixes: string[], actions: string[]) => objects(names.buckets.global, prefixes, actions);
  // CopyObject copies the source's tags (TaggingDirective COPY), and an uploader may tag its upload:
  // without these a tagged upload fails with AccessDenied at the copy (review M8/L5).
  const copyFrom = ['s3:GetObject', 's3:GetObjectTagging'];
  const copyTo = ['s3:PutObject', 's3:PutObjectTagging'];
  const t = names.tables;
  const q = names.queues;
  const syncQueues = regions.map(syncQueueSuffix);
  // A service learns the stack's regions by asking for every known region's sync queue URL
  // (Locator.regions): a region the stack lacks must answer "no such queue", not AccessDenied.
  const findRegions = {
    Effect: 'Allow',
    Action: 'sqs:GetQueueUrl',
    Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:\${Prefix}-${syncQueueSuffix('*')}` },
  };
  // The deploy state machine's executions.
  const executions = { 'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${Prefix}-${names.stateMachine}:*` };
  switch (service) {
    case 'build':
      return [
        appendToLog,
        logIsImmutable,
        // Test-run leases (testrun-leases.ts) live in the checkpoints table.
        data([t.idempotency, t.checkpoints], records),
        // The projector: views and list rows, written by version.
        data([t.projections, t.builds], ['GetItem', 'PutItem', 'Query']),
        consume([q.build, q.projections]),
        deadLetter([q.build, q.projections]),
        // Uploads are only read (and copied from): a build task never creates an S3-door build.
        globalObjects(['incoming/'], copyFrom),
        globalObjects(['artifacts/'], ['s3:GetObject', ...copyTo]),
        answerTasks,
        findRegions,
        // GET /builds/:id/why: where a waiting build's execution is, and how deep its stage's queues are.
        { Effect: 'Allow', Action: ['states:DescribeExecution', 'states:GetExecutionHistory'], Resource: executions },
        {
          Effect: 'Allow',
          Action: ['sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
          Resource: [q.orchestrator, q.replication, ...syncQueues].flatMap((s) => [arnOf(queueId(s)), arnOf(dlqId(s))]),
        },
        // GitHub's webhooks, once verified, go on to the orchestrator through the intake topic.
        { Effect: 'Allow', Action: 'sns:Publish', Resource: ref(`${pascal(names.topics.intake)}Topic`) },
      ];
    case 'replication':
      return [
        appendToLog,
        logIsImmutable,
        data([t.idempotency, t.fileCopies], records),
        consume([q.replication]),
        deadLetter([q.replication]),
        globalObjects(['artifacts/'], copyFrom),
        ...regions.map((r) => objects(regionBucketSuffix(r), ['artifacts/'], ['s3:GetObject', ...copyTo])),
        answerTasks,
      ];
    case 'region-sync':
      return [
        appendToLog,
        logIsImmutable,
        data([t.idempotency, t.projections, t.checkpoints], records),
        // Host records: written in batches, read back by the recount and by the stream reader.
        data([t.hosts], ['BatchWriteItem', 'Query', 'DescribeTable']),
        // The recount after lost stream records walks recent builds through the list index.
        data([t.builds], ['Query']),
        readStream(t.hosts),
        consume(syncQueues),
        deadLetter(syncQueues),
        answerTasks,
        findRegions,
      ];
    case 'orchestrator':
      return [
        appendToLog,
        logIsImmutable,
        data([t.idempotency, t.checkpoints], records),
        // The reconciler walks builds in progress through the list index.
        data([t.builds], ['GetItem', 'Query']),
        readStream(t.events),
        consume([q.intake, q.uploads, q.orchestrator]),
        deadLetter([q.intake, q.uploads, q.orchestrator]),
        // It resolves each region's sync queue URL for the execution input; the state machine sends to them.
        findRegions,
        globalObjects(['incoming/'], ['s3:GetObject']),
        // Without ListBucket, HeadObject of a missing upload answers 403, not 404, and the handler's
        // "no longer exists" branch never runs on AWS (review L5). It reveals key names, not contents.
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:s3:::\${Prefix}-${names.buckets.global}` } },
        { Effect: 'Allow', Action: 'sns:Publish', Resource: [ref('EventsTopic'), ref('AlertsTopic')] },
        { Effect: 'Allow', Action: ['states:StartExecution'], Resource: ref('DeployStateMachine') },
        { Effect: 'Allow', Action: ['states:DescribeExecution', 'states:StopExecution'], Resource: executions },
        ...runTests(regions),
      ];
    default:
      throw new Error(`no permissions defined for service ${service}`);
  }
}

/** An ECS ARN of the stack's cluster (`cluster/<cluster>`) or in it (`service/<cluster>/<name>`, `task/<cluster>/*`). */
const inCluster = (kind: string, rest?: string): Json => ({
  'Fn::Sub': `arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:${kind}/\${Prefix}-${names.ecsCluster}${rest === undefined ? '' : `/${rest}`}`,
});
/** Where a test run's script and each region's assignment live in the region's bucket (packages/events testrun.ts). */
const TESTRUNS_PREFIX = 'testruns/';

/**
 * The orchestrator's part in a test run (seed 000): it writes each region's script and assignment,
 * scales the region's runner service, and tears it down once ListTasks shows no task running.
 */
function runTests(regions: readonly string[]): Json[] {
  return [
    ...regions.map((r) => objects(regionBucketSuffix(r), [TESTRUNS_PREFIX], ['s3:PutObject'])),
    { Effect: 'Allow', Action: ['ecs:UpdateService', 'ecs:DescribeServices'], Resource: regions.map((r) => inCluster('service', `\${Prefix}-${runnerSuffix(r)}`)) },
    // ListTasks is authorised on container instances, with the cluster as a condition key: both
    // name the stack's cluster, so no other cluster's tasks are listed.
    {
      Effect: 'Allow',
      Action: 'ecs:ListTasks',
      Resource: inCluster('container-instance', '*'),
      Condition: { ArnEquals: { 'ecs:cluster': inCluster('cluster') } },
    },
    { Effect: 'Allow', Action: 'ecs:DescribeTasks', Resource: inCluster('task', '*') },
  ];
}

/**
 * A region's runner task role: it reads its own region's test-run objects (the assignment and the
 * script) and reports ready and completed through the intake topic. Nothing else.
 */
function runnerPermissions(region: string): Json[] {
  return [objects(regionBucketSuffix(region), [TESTRUNS_PREFIX], ['s3:GetObject']), { Effect: 'Allow', Action: 'sns:Publish', Resource: ref(`${pascal(names.topics.intake)}Topic`) }];
}

const assumedByEcsTasks: Json = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] };

/**
 * One load-test runner service per region (seed 000), at desiredCount 0 until the orchestrator
 * scales it for a run. Host networking locally, where the emulator runs each task as a container
 * that must reach the emulator and the API on the host's loopback; on AWS Fargate, which knows only
 * awsvpc (host networking there would need EC2 container instances this stack does not have). The
 * API token comes from Secrets Manager through the task definition's `secrets`, so it is in no
 * plain environment and no DescribeTaskDefinition answer.
 */
function runners(resources: Resources, regions: readonly string[]): void {
  resources[secretId(names.apiTokenSecret)] = {
    Type: 'AWS::SecretsManager::Secret',
    Properties: { Name: sub(names.apiTokenSecret), Description: 'Bearer token of the Flotilla API (the ApiToken parameter), for the load-test runners', SecretString: ref('ApiToken') },
  };
  for (const region of regions) {
    const id = runnerId(region);
    resources[taskRoleId(runnerSuffix(region))] = {
      Type: 'AWS::IAM::Role',
      Condition: 'IsAws',
      Properties: {
        AssumeRolePolicyDocument: assumedByEcsTasks,
        Policies: [{ PolicyName: `${runnerSuffix(region)}-least-privilege`, PolicyDocument: { Version: '2012-10-17', Statement: runnerPermissions(region) } }],
      },
    };
    resources[`${id}TaskDefinition`] = {
      Type: 'AWS::ECS::TaskDefinition',
      Properties: {
        Family: sub(runnerSuffix(region)),
        // Fargate knows only awsvpc; host networking is an EC2 task's (the emulator's, locally).
        RequiresCompatibilities: ifAws(['FARGATE'], ['EC2']),
        NetworkMode: ifAws('awsvpc', 'host'),
        // vegeta at 200 virtual users a container (MAX_VUS_PER_CONTAINER).
        Cpu: '512',
        Memory: '1024',
        TaskRoleArn: ifAws(arnOf(taskRoleId(runnerSuffix(region)))),
        ExecutionRoleArn: ifAws(arnOf('ExecutionRole')),
        ContainerDefinitions: [
          {
            Name: RUNNER_CONTAINER_NAME,
            Image: ref('RunnerImage'),
            Essential: true,
            Command: ['node', 'load-tests/agent.ts'],
            Environment: [
              { Name: 'FLOTILLA_PREFIX', Value: ref('Prefix') },
              { Name: 'FLOTILLA_RUNNER_REGION', Value: region },
              { Name: 'AWS_REGION', Value: ref('AWS::Region') },
              { Name: 'LOG_LEVEL', Value: 'info' },
            ],
            Secrets: Object.entries(RUNNER_SECRETS).map(([Name, secret]) => ({ Name, ValueFrom: ref(secretId(secret)) })),
            StopTimeout: 30,
            LogConfiguration: ifAws({
              LogDriver: 'awslogs',
              Options: { 'awslogs-group': ref('LogGroup'), 'awslogs-region': ref('AWS::Region'), 'awslogs-stream-prefix': runnerSuffix(region) },
            }),
          },
        ],
      },
    };
    resources[`${id}Service`] = {
      Type: 'AWS::ECS::Service',
      Properties: {
        ServiceName: sub(runnerSuffix(region)),
        Cluster: ref('Cluster'),
        TaskDefinition: ref(`${id}TaskDefinition`),
        DesiredCount: 0,
        LaunchType: ifAws('FARGATE', 'EC2'),
        NetworkConfiguration: ifAws({ AwsvpcConfiguration: { Subnets: ref('Subnets'), SecurityGroups: [ref('SecurityGroup')], AssignPublicIp: 'DISABLED' } }),
      },
    };
  }
}

function ecs(resources: Resources, regions: readonly string[]): void {
  resources.Cluster = { Type: 'AWS::ECS::Cluster', Properties: { ClusterName: sub(names.ecsCluster) } };
  resources.LogGroup = { Type: 'AWS::Logs::LogGroup', Condition: 'IsAws', Properties: { LogGroupName: { 'Fn::Sub': '/flotilla/${Prefix}' }, RetentionInDays: 30 } };
  resources.ExecutionRole = {
    Type: 'AWS::IAM::Role',
    Condition: 'IsAws',
    Properties: {
      AssumeRolePolicyDocument: assumedByEcsTasks,
      ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy' }],
      // ECS itself reads the runners' secrets at task start, with this role.
      Policies: [{ PolicyName: 'read-api-token', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref(secretId(names.apiTokenSecret)) }] } }],
    },
  };
  for (const { name, port } of SERVICES) {
    const id = pascal(name);
    resources[taskRoleId(name)] = {
      Type: 'AWS::IAM::Role',
      Condition: 'IsAws',
      Properties: {
        AssumeRolePolicyDocument: assumedByEcsTasks,
        Policies: [{ PolicyName: `${name}-least-privilege`, PolicyDocument: { Version: '2012-10-17', Statement: servicePermissions(name, regions) } }],
      },
    };
    resources[`${id}TaskDefinition`] = {
      Type: 'AWS::ECS::TaskDefinition',
      Properties: {
        Family: sub(name),
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
        Cpu: '256',
        Memory: '512',
        TaskRoleArn: ifAws(arnOf(`${id}TaskRole`)),
        ExecutionRoleArn: ifAws(arnOf('ExecutionRole')),
        ContainerDefinitions: [
          {
            Name: name,
            Image: ref('ServiceImage'),
            Essential: true,
            Command: ['node', ...serviceNodeArgs(name)],
            PortMappings: [{ ContainerPort: port }],
            Environment: [
              { Name: 'FLOTILLA_PREFIX', Value: ref('Prefix') },
              { Name: 'AWS_REGION', Value: ref('AWS::Region') },
              { Name: 'PORT', Value: String(port) },
              // Other tasks in the VPC reach it through the task's own interface, not loopback.
              { Name: 'HOST', Value: '0.0.0.0' },
              { Name: 'LOG_LEVEL', Value: 'info' },
              ...(name === 'build'
                ? [
                    { Name: 'FLOTILLA_API_TOKEN', Value: ref('ApiToken') },
                    { Name: 'GITHUB_WEBHOOK_SECRET', Value: ref('GitHubWebhookSecret') },
                  ]
                : []),
              ...(name === 'orchestrator'
                ? [
                    { Name: 'GITHUB_API_URL', Value: ref('GitHubApiUrl') },
                    { Name: 'GITHUB_OWNER', Value: ref('GitHubOwner') },
                    { Name: 'GITHUB_TOKEN', Value: ref('GitHubToken') },
                  ]
                : []),
            ],
            HealthCheck: { Command: ['CMD-SHELL', `node -e "fetch('http://127.0.0.1:${port}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"`], Interval: 15, Retries: 3, Timeout: 5 },
            StopTimeout: 30,
            LogConfiguration: ifAws({
              LogDriver: 'awslogs',
              Options: { 'awslogs-group': ref('LogGroup'), 'awslogs-region': ref('AWS::Region'), 'awslogs-stream-prefix': name },
            }),
          },
        ],
      },
    };
    resources[`${id}Service`] = {
      Type: 'AWS::ECS::Service',
      Properties: {
        ServiceName: sub(name),
        Cluster: ref('Cluster'),
        TaskDefinition: ref(`${id}TaskDefinition`),
        // A literal: MiniStack's CloudFormation passes a Number parameter on as a string and fails on it.
        DesiredCount: 1,
        LaunchType: 'FARGATE',
        NetworkConfiguration: ifAws({ AwsvpcConfiguration: { Subnets: ref('Subnets'), SecurityGroups: [ref('SecurityGroup')], AssignPublicIp: 'DISABLED' } }),
      },
    };
  }
}

/** The template for `regions` (checked by chooseRegions; default every region, as committed). */
export function renderTemplate(regions: readonly string[] = REGIONS): Record<string, Json> {
  const chosen = chooseRegions(regions);
  const resources: Resources = {};
  queues(resources, chosen);
  topics(resources);
  tables(resources);
  buckets(resources, chosen);
  stateMachine(resources, chosen);
  ecs(resources, chosen);
  runners(resources, chosen);
  const outputs: Record<string, Json> = {
    StateMachineArn: { Value: ref('DeployStateMachine') },
    EventsTableStreamArn: { Value: { 'Fn::GetAtt': [tableId(names.tables.events), 'StreamArn'] } },
    HostsTableStreamArn: { Value: { 'Fn::GetAtt': [tableId(names.tables.hosts), 'StreamArn'] } },
    GlobalBucketName: { Value: ref('GlobalBucket') },
    ClusterName: { Value: ref('Cluster') },
  };
  for (const suffix of Object.values(names.topics)) outputs[`${pascal(suffix)}TopicArn`] = { Value: ref(`${pascal(suffix)}Topic`) };
  for (const suffix of queueSuffixes(chosen)) {
    outputs[`${queueId(suffix)}Url`] = { Value: ref(queueId(suffix)) };
    outputs[`${dlqId(suffix)}Url`] = { Value: ref(dlqId(suffix)) };
  }
  for (const suffix of Object.values(names.tables)) outputs[`${tableId(suffix)}Name`] = { Value: ref(tableId(suffix)) };
  for (const region of chosen) outputs[`${regionBucketId(region)}Name`] = { Value: ref(regionBucketId(region)) };
  for (const region of chosen) outputs[runnerOutputKey(region)] = { Value: { 'Fn::GetAtt': [`${runnerId(region)}Service`, 'Name'] } };
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: 'Flotilla: event-sourced deployment control plane. Rendered by deploy/render.ts from deploy/regions.json; do not edit by hand.',
    Parameters: {
      Prefix: { Type: 'String', Default: 'flotilla', AllowedPattern: '^[a-z][a-z0-9-]{1,30}[a-z0-9]$', Description: 'Every physical name derives from this' },
      Target: { Type: 'String', Default: 'aws', AllowedValues: ['aws', 'local'], Description: 'local: the emulator (no IAM, no networking)' },
      ServiceImage: { Type: 'String', Default: 'flotilla:latest', Description: 'Container image holding the repository (see Dockerfile)' },
      RunnerImage: { Type: 'String', Default: LOCAL_IMAGES.runner, Description: 'Load-test runner image: the service image plus vegeta (deploy/images/runner.Dockerfile)' },
      Subnets: { Type: 'CommaDelimitedList', Default: '', Description: 'Private subnets for the tasks (Target=aws)' },
      SecurityGroup: { Type: 'String', Default: '', Description: 'Security group for the tasks (Target=aws)' },
      ApiToken: {
        Type: 'String',
        NoEcho: true,
        Default: '',
        AllowedPattern: '^(|\\S{16,})$',
        Description: 'Bearer token the build API requires, also stored in Secrets Manager for the load-test runners (Target=aws; at least 16 characters without whitespace)',
      },
      GitHubApiUrl: { Type: 'String', Default: 'https://api.github.com', Description: "GitHub's API for onboarding (GraphQL at <url>/graphql)" },
      GitHubOwner: { Type: 'String', Default: 'flotilla-org', AllowedPattern: '^[A-Za-z0-9-]{1,39}$', Description: 'The organisation whose repositories onboarding changes' },
      GitHubToken: { Type: 'String', NoEcho: true, Default: '', Description: 'Token the orchestrator calls GitHub with for onboarding; empty: creations are recorded but wait' },
      GitHubWebhookSecret: {
        Type: 'String',
        NoEcho: true,
        Default: '',
        AllowedPattern: '^(|\\S{16,})$',
        Description: "The secret GitHub signs onboarding's webhooks with (POST /webhooks/github); empty: the route answers 401",
      },
    },
    Conditions: { IsAws: { 'Fn::Equals': [ref('Target'), 'aws'] } },
    Rules: {
      NetworkOnAws: {
        RuleCondition: { 'Fn::Equals': [ref('Target'), 'aws'] },
        Assertions: [
          { Assert: { 'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', ref('Subnets')] }, ''] }] }, AssertDescription: 'Target=aws needs Subnets' },
          { Assert: { 'Fn::Not': [{ 'Fn::Equals': [ref('SecurityGroup'), ''] }] }, AssertDescription: 'Target=aws needs a SecurityGroup' },
          { Assert: { 'Fn::Not': [{ 'Fn::Equals': [ref('ApiToken'), ''] }] }, AssertDescription: 'Target=aws needs an ApiToken for the build API' },
        ],
      },
    },
    Resources: resources,
    Outputs: outputs,
  };
}

export const renderedText = (regions: readonly string[] = REGIONS): string => `${JSON.stringify(renderTemplate(regions), null, 2)}\n`;

/** Every file this script renders, with its fresh text. */
export const renderedFiles = (): Array<{ path: string; text: string }> => [
  { path: TEMPLATE_PATH, text: renderedText() },
  { path: COMPOSE_PATHS.bridge, text: renderCompose('bridge') },
  { path: COMPOSE_PATHS.host, text: renderCompose('host') },
];

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const { path, text } of renderedFiles()) {
    const name = relative(process.cwd(), path);
    if (!check) {
      writeFileSync(path, text);
      console.log(`wrote ${name}`);
      continue;
    }
    let committed = '';
    try {
      committed = readFileSync(path, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (committed === text) {
      console.log(`${name} matches a fresh render`);
    } else {
      console.error(`${name} is stale: run \`pnpm render\` (node deploy/render.ts) and commit the result`);
      stale += 1;
    }
  }
  if (stale > 0) process.exit(1);
}
