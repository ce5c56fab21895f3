import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  chooseRegions,
  ConfigError,
  dlqOf,
  GLOBAL_ORDER_INDEX,
  MAX_TEMPLATE_BODY_BYTES,
  MAX_TEMPLATE_URL_BYTES,
  names,
  REGIONS,
  REDRIVE_MAX_RECEIVE_COUNT,
  resourceNames,
  RUNNER_CONTAINER_NAME,
  RUNNER_SECRETS,
  runnerSecrets,
  runnerSuffix,
  templateBody,
} from '@flotilla/platform';
import { LOCAL_IMAGES } from '@flotilla/platform/testing';
import { dlqId, queueId, queueSuffixes, regionBucketId, renderedText, renderTemplate, runnerId, runnerOutputKey, secretId, tableId, taskRoleId, TEMPLATE_PATH } from '../render.ts';

interface Resource {
  Type: string;
  Condition?: string;
  Properties: {
    QueueName?: unknown;
    RedrivePolicy?: unknown;
    Endpoint?: unknown;
    StreamSpecification?: unknown;
    GlobalSecondaryIndexes?: unknown[];
    NotificationConfiguration?: { QueueConfigurations: Array<{ Queue: unknown; Filter: { S3Key: { Rules: unknown } } }> };
    Policies?: Array<{ PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> } }>;
  };
}
const template = renderTemplate() as unknown as {
  Resources: Record<string, Resource>;
  Parameters: Record<string, { Default?: unknown }>;
  Outputs: Record<string, { Value: unknown }>;
};
const resource = (id: string): Resource => {
  const r = template.Resources[id];
  if (!r) throw new Error(`no resource ${id}`);
  return r;
};

describe('the committed template', () => {
  it('equals a fresh render (run `pnpm render` after changing regions or resources)', () => {
    expect(readFileSync(TEMPLATE_PATH, 'utf8') === renderedText(), 'deploy/cloudformation/flotilla.json is stale: run `pnpm render`').toBe(true);
  });
});

describe('the rendered template', () => {
  it('has one sync queue with its DLQ and one bucket per region in deploy/regions.json', () => {
    // At least 12, so a build to every region runs more regional tasks than the Map's MaxConcurrency of 10.
    expect(REGIONS.length).toBeGreaterThanOrEqual(12);
    expect(REGIONS.slice(0, 5)).toEqual(['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2']);
    for (const region of REGIONS) {
      expect(resource(queueId(`sync-${region}`)).Properties.QueueName).toEqual({ 'Fn::Sub': `\${Prefix}-sync-${region}` });
      expect(resource(dlqId(`sync-${region}`)).Properties.QueueName).toEqual({ 'Fn::Sub': `\${Prefix}-${dlqOf(`sync-${region}`)}` });
      expect(resource(regionBucketId(region)).Properties.NotificationConfiguration).toBeUndefined();
    }
    const syncQueues = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SQS::Queue' && JSON.stringify(r.Properties.QueueName).includes('-sync-') && !JSON.stringify(r.Properties.QueueName).includes('-dlq'));
    expect(syncQueues).toHaveLength(REGIONS.length);
  });

  it('gives every queue a DLQ through a RedrivePolicy with the count the emulator workaround re-applies', () => {
    for (const suffix of Object.values(names.queues)) {
      expect(resource(queueId(suffix)).Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(suffix), 'Arn'] }, maxReceiveCount: REDRIVE_MAX_RECEIVE_COUNT });
    }
  });

  it('notifies the uploads queue only for incoming/*.zip in the global bucket', () => {
    const [config, ...others] = resource('GlobalBucket').Properties.NotificationConfiguration?.QueueConfigurations ?? [];
    expect(others).toHaveLength(0);
    expect(config?.Queue).toEqual({ 'Fn::GetAtt': [queueId(names.queues.uploads), 'Arn'] });
    expect(config?.Filter.S3Key.Rules).toEqual([
      { Name: 'prefix', Value: 'incoming/' },
      { Name: 'suffix', Value: '.zip' },
    ]);
  });

  it('streams the events table with new images and indexes it for global order', () => {
    const events = resource(tableId(names.tables.events)).Properties;
    expect(events.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    expect(events.GlobalSecondaryIndexes?.[0]).toMatchObject({
      IndexName: GLOBAL_ORDER_INDEX,
      KeySchema: [
        { AttributeName: 'bucket', KeyType: 'HASH' },
        { AttributeName: 'id', KeyType: 'RANGE' },
      ],
    });
    expect(resource(tableId(names.tables.hosts)).Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('feeds each region sync queue from nothing but the state machine (no SNS subscription)', () => {
    const subscriptions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SNS::Subscription');
    for (const s of subscriptions) expect(JSON.stringify(s.Properties.Endpoint)).not.toContain('Sync');
  });

  it('leaves IAM out of the emulator deploy and keeps ECS in both: the four services and a runner per region', () => {
    for (const r of Object.values(template.Resources).filter((x) => x.Type === 'AWS::IAM::Role')) expect(r.Condition).toBe('IsAws');
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::ECS::Service' && !r.Condition)).toHaveLength(4 + REGIONS.length);
  });

  // states:SendTask* name no resource (a task token is not an ARN): IAM grants them only on "*".
  // tests/iam checks every action against IAM's own list of such actions.
  it('grants task roles no wildcard action, and a "*" resource only to the task-token answers', () => {
    const roles = Object.entries(template.Resources).filter(([id, r]) => r.Type === 'AWS::IAM::Role' && id.endsWith('TaskRole'));
    expect(roles).toHaveLength(4 + REGIONS.length);
    for (const [id, role] of roles) {
      for (const statement of role.Properties.Policies?.flatMap((p) => p.PolicyDocument.Statement) ?? []) {
        expect([statement.Action].flat().filter((a) => a.includes('*')), id).toEqual([]);
        if ([statement.Resource].flat().includes('*')) expect([statement.Action].flat(), id).toEqual(['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat']);
      }
    }
  });

  it('outputs every topic ARN, queue and DLQ URL, table name, stream ARN, bucket name and the cluster name', () => {
    const keys = Object.keys(template.Outputs);
    for (const topic of Object.values(names.topics)) expect(keys).toContain(`${topic[0]!.toUpperCase()}${topic.slice(1)}TopicArn`);
    for (const suffix of queueSuffixes()) expect(keys).toEqual(expect.arrayContaining([`${queueId(suffix)}Url`, `${dlqId(suffix)}Url`]));
    for (const table of Object.values(names.tables)) expect(keys).toContain(`${tableId(table)}Name`);
    for (const region of REGIONS) expect(keys).toContain(`${regionBucketId(region)}Name`);
    expect(keys).toEqual(expect.arrayContaining(['EventsTableStreamArn', 'HostsTableStreamArn', 'GlobalBucketName', 'ClusterName']));
    for (const region of REGIONS) expect(template.Outputs[runnerOutputKey(region)]?.Value, region).toEqual({ 'Fn::GetAtt': [`${runnerId(region)}Service`, 'Name'] });
  });

  // Over 51,200 bytes CloudFormation takes a template only from S3, up to 1 MB: deployStack uploads
  // the full template (every region's runner pushed it over) and sends a small render inline.
  it('is sent through S3 (TemplateURL) within its 1 MB limit, and a two-region render inline, as deployStack decides', () => {
    const full = templateBody(renderedText());
    expect(Buffer.byteLength(full.body)).toBeGreaterThan(MAX_TEMPLATE_BODY_BYTES);
    expect(Buffer.byteLength(full.body)).toBeLessThanOrEqual(MAX_TEMPLATE_URL_BYTES);
    expect(full.viaS3).toBe(true);
    expect(full.outputKeys).toEqual(Object.keys(template.Outputs));
    const small = templateBody(renderedText(['us-east-1', 'eu-west-1']));
    expect(Buffer.byteLength(small.body)).toBeLessThanOrEqual(MAX_TEMPLATE_BODY_BYTES);
    expect(small.viaS3).toBe(false);
    expect(() => templateBody(JSON.stringify({ Description: 'x'.repeat(MAX_TEMPLATE_URL_BYTES) }))).toThrow(/over CloudFormation's 1048576-byte limit for a template in S3/);
  });

  it('renders for a subset of the regions: only their queues, buckets, outputs and grants, nothing of the others', () => {
    const chosen = ['eu-west-1', 'us-east-1'];
    const subset = renderTemplate(chosen) as unknown as typeof template;
    const text = JSON.stringify(subset);
    for (const region of REGIONS) {
      const has = chosen.includes(region);
      expect(Object.keys(subset.Resources).includes(queueId(`sync-${region}`)), region).toBe(has);
      expect(Object.keys(subset.Resources).includes(regionBucketId(region)), region).toBe(has);
      expect(Object.keys(subset.Outputs).includes(`${regionBucketId(region)}Name`), region).toBe(has);
      expect(text.includes(`region-${region}`), region).toBe(has);
    }
    // Everything not regional is the same as in the full template.
    const regional = (id: string) =>
      REGIONS.some((r) => id.includes(queueId(`sync-${r}`).replace(/Queue$/, '')) || id.includes(regionBucketId(r).replace(/Bucket$/, '')) || id.startsWith(runnerId(r)));
    for (const region of REGIONS) expect(Object.keys(subset.Resources).includes(`${runnerId(region)}Service`), region).toBe(chosen.includes(region));
    expect(Object.keys(subset.Resources).filter((id) => !regional(id))).toEqual(Object.keys(template.Resources).filter((id) => !regional(id)));
  });

  it('refuses a choice of regions that is empty, unknown or repeated, and orders a good one as deploy/regions.json does', () => {
    expect(() => renderTemplate([])).toThrow(ConfigError);
    expect(() => renderTemplate(['us-east-1', 'mars-1'])).toThrow(/mars-1 is not in deploy\/regions.json/);
    expect(() => chooseRegions(['us-east-1', 'us-east-1'])).toThrow(/us-east-1 named twice/);
    expect(chooseRegions(['sa-east-1', 'us-east-1'])).toEqual(['us-east-1', 'sa-east-1']);
  });

  it('defaults the Prefix to flotilla so README commands name resources as written', () => {
    expect(template.Parameters.Prefix?.Default).toBe('flotilla');
  });
});

/** The V8 bound that keeps region-sync's memory flat at 100,000 hosts (issue 9), wherever it runs. */
const REGION_SYNC_HEAP_BOUND = ['--max-old-space-size=192', '--max-semi-space-size=4'];

type Container = { Name: string; Image: unknown; Command: string[]; Environment: Array<{ Name: string; Value: unknown }>; Secrets?: Array<{ Name: string; ValueFrom: unknown }>; PortMappings?: unknown };
const env = (c: Container) => Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value]));
const isRunner = (id: string) => REGIONS.some((r) => id === `${runnerId(r)}TaskDefinition`);
const containersOf = (filter: (id: string) => boolean) =>
  Object.entries(template.Resources)
    .filter(([id, r]) => r.Type === 'AWS::ECS::TaskDefinition' && filter(id))
    .flatMap(([, r]) => (r.Properties as unknown as { ContainerDefinitions: Container[] }).ContainerDefinitions);

describe('the ECS task definitions (who may call)', () => {
  const containers = containersOf((id) => !isRunner(id));

  it('give the build service its API token from a NoEcho parameter that Target=aws must set, and no other service a token', () => {
    expect(containers).toHaveLength(4);
    for (const c of containers) expect(env(c).FLOTILLA_API_TOKEN, c.Name).toEqual(c.Name === 'build' ? { Ref: 'ApiToken' } : undefined);
    expect(template.Parameters.ApiToken).toMatchObject({ NoEcho: true, Default: '' });
    expect(JSON.stringify((template as unknown as { Rules: unknown }).Rules)).toContain('Target=aws needs an ApiToken');
  });

  it('have every service listen on the task interface (HOST=0.0.0.0), since the default is loopback', () => {
    for (const c of containers) expect(env(c).HOST, c.Name).toBe('0.0.0.0');
  });

  it("start region-sync with its heap bound, as the run command and the compose files do (issue 9), and the others with node's defaults", () => {
    for (const c of containers) {
      expect(c.Command, c.Name).toEqual(['node', ...(c.Name === 'region-sync' ? REGION_SYNC_HEAP_BOUND : []), `services/${c.Name}/src/main.ts`]);
    }
  });
});

describe('the load-test runners (seed 000)', () => {
  const region = 'eu-west-1';
  const definition = resource(`${runnerId(region)}TaskDefinition`).Properties as unknown as Record<string, unknown> & { ContainerDefinitions: Container[] };
  const [container, ...others] = definition.ContainerDefinitions;

  it('are one ECS service per region in the stack\'s cluster, named in resources.ts, at desiredCount 0 until a run scales them', () => {
    for (const r of REGIONS) {
      const service = resource(`${runnerId(r)}Service`).Properties as unknown as Record<string, unknown>;
      expect(service, r).toMatchObject({ ServiceName: { 'Fn::Sub': `\${Prefix}-${runnerSuffix(r)}` }, Cluster: { Ref: 'Cluster' }, TaskDefinition: { Ref: `${runnerId(r)}TaskDefinition` }, DesiredCount: 0 });
      expect(resourceNames('p').runnerService(r)).toBe(`p-runner-${r}`);
    }
    expect(definition.Family).toEqual({ 'Fn::Sub': `\${Prefix}-runner-${region}` });
  });

  it('run the runner image with the agent, host networking on the emulator (awsvpc on Fargate), and no fixed port', () => {
    expect(others).toEqual([]);
    expect(container?.Name).toBe(RUNNER_CONTAINER_NAME);
    expect(container?.Image).toEqual({ Ref: 'RunnerImage' });
    expect(template.Parameters.RunnerImage?.Default).toBe(LOCAL_IMAGES.runner);
    expect(container?.Command).toEqual(['node', 'load-tests/agent.ts']);
    expect(definition.NetworkMode).toEqual({ 'Fn::If': ['IsAws', 'awsvpc', 'host'] });
    expect(definition.RequiresCompatibilities).toEqual({ 'Fn::If': ['IsAws', ['FARGATE'], ['EC2']] });
    expect(container?.PortMappings).toBeUndefined();
    expect(env(container!)).toEqual({ FLOTILLA_PREFIX: { Ref: 'Prefix' }, FLOTILLA_RUNNER_REGION: region, AWS_REGION: { Ref: 'AWS::Region' }, LOG_LEVEL: 'info' });
  });

  it('get the API token from Secrets Manager through `secrets`, never plain environment, and only the execution role may read it', () => {
    const secret = resource(secretId(names.apiTokenSecret));
    expect(secret.Type).toBe('AWS::SecretsManager::Secret');
    expect(secret.Properties).toMatchObject({ Name: { 'Fn::Sub': '${Prefix}-api-token' }, SecretString: { Ref: 'ApiToken' } });
    for (const c of containersOf(isRunner)) {
      expect(c.Secrets).toEqual([{ Name: 'FLOTILLA_API_TOKEN', ValueFrom: { Ref: secretId(names.apiTokenSecret) } }]);
      expect(env(c).FLOTILLA_API_TOKEN).toBeUndefined();
    }
    expect(Object.keys(RUNNER_SECRETS)).toEqual(['FLOTILLA_API_TOKEN']);
    expect(definition.ExecutionRoleArn).toEqual({ 'Fn::If': ['IsAws', { 'Fn::GetAtt': ['ExecutionRole', 'Arn'] }, { Ref: 'AWS::NoValue' }] });
    const statements = resource('ExecutionRole').Properties.Policies?.flatMap((p) => p.PolicyDocument.Statement);
    expect(statements).toEqual([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secretId(names.apiTokenSecret) } }]);
    // No task role names the secret: the token reaches a runner only as ECS injects it.
    const taskRoles = Object.entries(template.Resources).filter(([id]) => id.endsWith('TaskRole'));
    for (const [id, role] of taskRoles) expect(JSON.stringify(role), id).not.toContain('secretsmanager');
  });

  it('are given, on the emulator, the same secrets by the deploy workaround as the template names', () => {
    const secrets = runnerSecrets('p', { partition: 'aws', region: 'us-east-1', accountId: '000000000000' });
    expect(secrets).toEqual([{ name: 'FLOTILLA_API_TOKEN', valueFrom: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:p-api-token' }]);
    expect(secrets.map((s) => s.name)).toEqual(container?.Secrets?.map((s) => s.Name));
  });

  it('each have a task role of their own region: read its test-run objects, publish to intake, nothing else', () => {
    const role = resource(taskRoleId(runnerSuffix(region)));
    expect(role.Condition).toBe('IsAws');
    expect(definition.TaskRoleArn).toEqual({ 'Fn::If': ['IsAws', { 'Fn::GetAtt': [taskRoleId(runnerSuffix(region)), 'Arn'] }, { Ref: 'AWS::NoValue' }] });
    expect(role.Properties.Policies?.flatMap((p) => p.PolicyDocument.Statement)).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [{ 'Fn::Sub': `arn:\${AWS::Partition}:s3:::\${Prefix}-region-${region}/testruns/*` }] },
      { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'IntakeTopic' } },
    ]);
  });
});
