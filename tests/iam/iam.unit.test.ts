/**
 * The task roles in the rendered template against recorded AWS calls (tests/iam/evaluate.ts).
 * fixtures/c1: the orchestrator's start-up look-ups (review C1). fixtures/pipeline: every distinct
 * call the four services made during tests/e2e/pipeline.test.ts, recorded with
 * FLOTILLA_TEST_AWS_CALLS. The test command also evaluates a fresh recording of the whole
 * end-to-end run after vitest (scripts/test.sh).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RecordedCall } from '../../packages/platform/src/aws-call-recorder.ts';
import { REGIONS, runnerSuffix } from '../../packages/platform/src/resources.ts';
import { renderTemplate, taskRoleId } from '../../deploy/render.ts';
import { describeVerdict, EMULATOR, evaluateCalls, needsOf, readRecordings, rolePolicies, wildcardProblems } from './evaluate.ts';

type Template = Parameters<typeof evaluateCalls>[1];
const fixture = (name: string) => readRecordings(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)));
const current = () => renderTemplate() as unknown as Template;
const call = (service: string, client: string, command: string, input: Record<string, unknown>): RecordedCall => ({ service, prefix: 't-iam-000001', client, command, input });
const P = 't-iam-000001';

/** The template with every mention of a sync queue taken out of the orchestrator's role: its policy before 9237e36. */
function withoutSyncQueuesForOrchestrator(template: Template): Template {
  const copy = structuredClone(template);
  const role = copy.Resources[taskRoleId('orchestrator')]!;
  const policies = role.Properties!.Policies as Array<{ PolicyDocument: { Statement: Array<{ Resource: unknown }> } }>;
  for (const policy of policies) {
    policy.PolicyDocument.Statement = policy.PolicyDocument.Statement.flatMap((statement) => {
      const resources = [statement.Resource].flat().filter((r) => !/"Sync|-sync-/.test(JSON.stringify(r)));
      return resources.length === 0 ? [] : [{ ...statement, Resource: resources }];
    });
  }
  return copy;
}

describe('C1: the orchestrator resolves every sync queue at start', () => {
  it('is denied GetQueueUrl on the sync queues by the policy as it was before the fix', async () => {
    const evaluation = await evaluateCalls(fixture('c1'), withoutSyncQueuesForOrchestrator(current()));
    expect(evaluation.denied.map(describeVerdict)).toEqual([
      'ImplicitlyDenied: orchestrator SQS.GetQueueUrl needs sqs:GetQueueUrl on arn:aws:sqs:us-east-1:000000000000:t-c1-000001-sync-us-east-1',
      'ImplicitlyDenied: orchestrator SQS.GetQueueUrl needs sqs:GetQueueUrl on arn:aws:sqs:us-east-1:000000000000:t-c1-000001-sync-eu-west-1',
    ]);
  });

  it('is allowed them by the current template', async () => {
    const evaluation = await evaluateCalls(fixture('c1'), current());
    expect(evaluation.denied.map(describeVerdict)).toEqual([]);
    expect(evaluation.verdicts.length).toBe(3);
  });
});

describe('every call the pipeline made', () => {
  it('is allowed by its service task role', async () => {
    const calls = fixture('pipeline');
    const evaluation = await evaluateCalls(calls, current());
    expect(evaluation.denied.map(describeVerdict)).toEqual([]);
    expect(new Set(calls.map((c) => c.service))).toEqual(new Set(['build', 'orchestrator', 'region-sync', 'replication']));
    expect(evaluation.verdicts.length).toBeGreaterThan(200);
  });
});

describe('the mapping from calls to actions', () => {
  it('splits a transaction into its item actions and reads streams on the stream ARN', () => {
    const tx = call('orchestrator', 'DynamoDB', 'TransactWriteItems', {
      TransactItems: [
        { kind: 'Put', TableName: `${P}-events` },
        { kind: 'ConditionCheck', TableName: `${P}-events` },
        { kind: 'Update', TableName: `${P}-checkpoints` },
      ],
    });
    expect(needsOf(tx).map((n) => n.action)).toEqual(['dynamodb:PutItem', 'dynamodb:ConditionCheckItem', 'dynamodb:UpdateItem']);
    const stream = `arn:aws:dynamodb:us-east-1:000000000000:table/${P}-events/stream/2026-01-01T00:00:00.000`;
    expect(needsOf(call('orchestrator', 'DynamoDBStreams', 'GetRecords', { StreamArn: stream }))).toEqual([{ action: 'dynamodb:GetRecords', resource: stream }]);
  });

  it('needs GetObject for HeadObject, both ends and their tags for CopyObject, and the single action for *Batch', () => {
    expect(needsOf(call('orchestrator', 'S3', 'HeadObject', { Bucket: 'b', Key: 'incoming/a.zip' })).map((n) => `${n.action} ${n.resource}`)).toEqual([
      's3:GetObject arn:aws:s3:::b/incoming/a.zip',
      's3:ListBucket arn:aws:s3:::b',
    ]);
    const copy = needsOf(call('build', 'S3', 'CopyObject', { Bucket: 'b', Key: 'artifacts/a.zip', CopySource: 'b/incoming/a%20b.zip' }));
    expect(copy.map((n) => `${n.action} ${n.resource}`)).toEqual([
      's3:GetObject arn:aws:s3:::b/incoming/a b.zip',
      's3:PutObject arn:aws:s3:::b/artifacts/a.zip',
      's3:GetObjectTagging arn:aws:s3:::b/incoming/a b.zip',
      's3:PutObjectTagging arn:aws:s3:::b/artifacts/a.zip',
    ]);
    expect(needsOf(call('build', 'SQS', 'DeleteMessageBatch', { QueueUrl: `http://127.0.0.1:4566/000000000000/${P}-build` }))).toEqual([
      { action: 'sqs:DeleteMessage', resource: `arn:aws:sqs:us-east-1:000000000000:${P}-build` },
    ]);
  });

  it('refuses a call it has no mapping for, naming it, and the evaluation counts it as not allowed', async () => {
    const unmapped = call('build', 'S3', 'DeleteBucket', { Bucket: 'b' });
    expect(() => needsOf(unmapped)).toThrow(/no IAM mapping for S3.DeleteBucket \(called by build\)/);
    const evaluation = await evaluateCalls([unmapped], current());
    expect(evaluation.denied.map(describeVerdict)).toEqual([expect.stringMatching(/^Unmapped: no IAM mapping for S3.DeleteBucket/)]);
  });
});

describe('least privilege (review M8, L5)', () => {
  const decide = async (service: string, client: string, command: string, input: Record<string, unknown>) =>
    (await evaluateCalls([call(service, client, command, input)], current())).verdicts.map((v) => v.decision);
  const services = ['build', 'orchestrator', 'region-sync', 'replication'];
  const events = `${P}-events`;

  it('lets every service append to the log and none rewrite or delete it', async () => {
    for (const service of services) {
      expect(await decide(service, 'DynamoDB', 'TransactWriteItems', { TransactItems: [{ kind: 'Put', TableName: events }, { kind: 'ConditionCheck', TableName: events }] })).toEqual(['Allowed', 'Allowed']);
      expect(await decide(service, 'DynamoDB', 'UpdateItem', { TableName: events })).toEqual(['ExplicitlyDenied']);
      expect(await decide(service, 'DynamoDB', 'DeleteItem', { TableName: events })).toEqual(['ExplicitlyDenied']);
      expect(await decide(service, 'DynamoDB', 'BatchWriteItem', { RequestItems: { [events]: ['PutRequest'] } })).toEqual(['ExplicitlyDenied']);
    }
  });

  it("lets build, orchestrator and region-sync find the stack's regions (GetQueueUrl on any sync queue), even in a stack deployed without some", async () => {
    const twoRegions = renderTemplate(['us-east-1', 'eu-west-1']) as unknown as Template;
    for (const service of ['build', 'orchestrator', 'region-sync']) {
      for (const region of ['us-east-1', 'sa-east-1']) {
        const lookUp = call(service, 'SQS', 'GetQueueUrl', { QueueName: `${P}-sync-${region}` });
        expect((await evaluateCalls([lookUp], twoRegions)).verdicts.map((v) => v.decision), `${service} ${region}`).toEqual(['Allowed']);
      }
    }
    // Only queue URLs: the absent region's queue grants nothing else (it is not in the policy at all).
    expect((await evaluateCalls([call('region-sync', 'SQS', 'ReceiveMessage', { QueueUrl: `http://127.0.0.1:4566/000000000000/${P}-sync-sa-east-1` })], twoRegions)).verdicts.map((v) => v.decision)).toEqual(['ImplicitlyDenied']);
    expect(await decide('replication', 'SQS', 'GetQueueUrl', { QueueName: `${P}-sync-us-east-1` })).toEqual(['ImplicitlyDenied']);
  });

  it('lets the build role only read uploads under incoming/', async () => {
    expect(await decide('build', 'S3', 'GetObject', { Bucket: `${P}-global`, Key: 'incoming/a/prod/1.zip' })).toEqual(['Allowed']);
    expect(await decide('build', 'S3', 'PutObject', { Bucket: `${P}-global`, Key: 'incoming/a/prod/1.zip' })).toEqual(['ImplicitlyDenied']);
  });

  it('lets the workers answer task tokens (granted only on "*")', async () => {
    for (const service of ['build', 'replication', 'region-sync']) {
      expect(await decide(service, 'SFN', 'SendTaskSuccess', {})).toEqual(['Allowed']);
      expect(await decide(service, 'SFN', 'SendTaskFailure', {})).toEqual(['Allowed']);
    }
    expect(await decide('orchestrator', 'SFN', 'SendTaskSuccess', {})).toEqual(['ImplicitlyDenied']);
  });

  it('lets a missing upload answer 404 (ListBucket) and tagged uploads be copied', async () => {
    expect(await decide('orchestrator', 'S3', 'HeadObject', { Bucket: `${P}-global`, Key: 'incoming/gone.zip' })).toEqual(['Allowed', 'Allowed']);
    expect(await decide('build', 'S3', 'CopyObject', { Bucket: `${P}-global`, Key: 'artifacts/a/prod/1/x.zip', CopySource: `${P}-global/incoming/a/prod/1.zip` })).toEqual(['Allowed', 'Allowed', 'Allowed', 'Allowed']);
    expect(await decide('replication', 'S3', 'CopyObject', { Bucket: `${P}-region-eu-west-1`, Key: 'artifacts/a/prod/1/x.zip', CopySource: `${P}-global/artifacts/a/prod/1/x.zip` })).toEqual(['Allowed', 'Allowed', 'Allowed', 'Allowed']);
  });

  it('names no "*" action, and no "*" resource where the action takes an ARN', async () => {
    expect(await wildcardProblems(current())).toEqual([]);
    const broad = structuredClone(current());
    const role = broad.Resources[taskRoleId('build')]!.Properties!.Policies as Array<{ PolicyDocument: { Statement: unknown[] } }>;
    role[0]!.PolicyDocument.Statement.push({ Effect: 'Allow', Action: ['s3:*', 'sqs:SendMessage'], Resource: '*' });
    expect(await wildcardProblems(broad)).toEqual([
      'BuildTaskRole/build-least-privilege: wildcard action s3:*',
      'BuildTaskRole/build-least-privilege: s3:* on "*", but it takes a resource ARN',
      'BuildTaskRole/build-least-privilege: sqs:SendMessage on "*", but it takes a resource ARN',
    ]);
  });
});

describe('test runs on ECS (seed 000)', () => {
  const decide = async (service: string, client: string, command: string, input: Record<string, unknown>, template = current()) =>
    (await evaluateCalls([call(service, client, command, input)], template)).verdicts.map((v) => v.decision);
  const cluster = `${P}-cluster`;
  const runner = (region: string) => `${P}-runner-${region}`;
  const task = (id: string) => `arn:aws:ecs:us-east-1:000000000000:task/${cluster}/${id}`;

  it('maps the ECS calls to the service, task and container-instance ARNs, with the cluster as ecs:cluster', () => {
    const context = { 'ecs:cluster': `arn:aws:ecs:us-east-1:000000000000:cluster/${cluster}` };
    expect(needsOf(call('orchestrator', 'ECS', 'UpdateService', { cluster, service: runner('us-east-1') }))).toEqual([
      { action: 'ecs:UpdateService', resource: `arn:aws:ecs:us-east-1:000000000000:service/${cluster}/${runner('us-east-1')}`, context },
    ]);
    expect(needsOf(call('orchestrator', 'ECS', 'ListTasks', { cluster: context['ecs:cluster'], serviceName: runner('us-east-1') }))).toEqual([
      { action: 'ecs:ListTasks', resource: `arn:aws:ecs:us-east-1:000000000000:container-instance/${cluster}/*`, context },
    ]);
    expect(needsOf(call('orchestrator', 'ECS', 'DescribeTasks', { cluster, tasks: ['abc', task('def')] })).map((n) => n.resource)).toEqual([task('abc'), task('def')]);
  });

  it('lets the orchestrator scale, describe and list the runner services of its own cluster, and nothing of another', async () => {
    for (const region of ['us-east-1', 'sa-east-1']) {
      expect(await decide('orchestrator', 'ECS', 'UpdateService', { cluster, service: runner(region) }), region).toEqual(['Allowed']);
      expect(await decide('orchestrator', 'ECS', 'DescribeServices', { cluster, services: [runner(region)] }), region).toEqual(['Allowed']);
    }
    expect(await decide('orchestrator', 'ECS', 'ListTasks', { cluster, serviceName: runner('us-east-1'), desiredStatus: 'RUNNING' })).toEqual(['Allowed']);
    expect(await decide('orchestrator', 'ECS', 'DescribeTasks', { cluster, tasks: ['0123abcd'] })).toEqual(['Allowed']);
    // A Flotilla service, or a runner of another stack's cluster, is not the orchestrator's to scale.
    expect(await decide('orchestrator', 'ECS', 'UpdateService', { cluster, service: `${P}-build` })).toEqual(['ImplicitlyDenied']);
    expect(await decide('orchestrator', 'ECS', 'UpdateService', { cluster: 'other-cluster', service: runner('us-east-1') })).toEqual(['ImplicitlyDenied']);
    expect(await decide('orchestrator', 'ECS', 'ListTasks', { cluster: 'other-cluster' })).toEqual(['ImplicitlyDenied']);
    expect(await decide('orchestrator', 'ECS', 'DescribeTasks', { cluster: 'other-cluster', tasks: ['0123abcd'] })).toEqual(['ImplicitlyDenied']);
    // Only the stack's regions: a two-region stack grants no runner of a third.
    const twoRegions = renderTemplate(['us-east-1', 'eu-west-1']) as unknown as Template;
    expect(await decide('orchestrator', 'ECS', 'UpdateService', { cluster, service: runner('sa-east-1') }, twoRegions)).toEqual(['ImplicitlyDenied']);
  });

  it("lets the orchestrator write test-run objects into each region's bucket, and only there", async () => {
    expect(await decide('orchestrator', 'S3', 'PutObject', { Bucket: `${P}-region-eu-west-1`, Key: 'testruns/current.json' })).toEqual(['Allowed']);
    expect(await decide('orchestrator', 'S3', 'PutObject', { Bucket: `${P}-region-eu-west-1`, Key: 'testruns/01J00000000000000000000000/script.json' })).toEqual(['Allowed']);
    expect(await decide('orchestrator', 'S3', 'PutObject', { Bucket: `${P}-region-eu-west-1`, Key: 'artifacts/a.zip' })).toEqual(['ImplicitlyDenied']);
  });

  it("lets a region's runner read its own region's test-run objects and publish to intake, and nothing else", async () => {
    const service = 'runner-eu-west-1';
    expect(await decide(service, 'S3', 'GetObject', { Bucket: `${P}-region-eu-west-1`, Key: 'testruns/current.json' })).toEqual(['Allowed']);
    expect(await decide(service, 'SNS', 'Publish', { TopicArn: `arn:aws:sns:us-east-1:000000000000:${P}-intake` })).toEqual(['Allowed']);
    expect(await decide(service, 'S3', 'GetObject', { Bucket: `${P}-region-us-east-1`, Key: 'testruns/current.json' })).toEqual(['ImplicitlyDenied']);
    expect(await decide(service, 'S3', 'GetObject', { Bucket: `${P}-region-eu-west-1`, Key: 'artifacts/a.zip' })).toEqual(['ImplicitlyDenied']);
    expect(await decide(service, 'S3', 'PutObject', { Bucket: `${P}-region-eu-west-1`, Key: 'testruns/current.json' })).toEqual(['ImplicitlyDenied']);
    expect(await decide(service, 'SNS', 'Publish', { TopicArn: `arn:aws:sns:us-east-1:000000000000:${P}-events` })).toEqual(['ImplicitlyDenied']);
    expect(await decide(service, 'ECS', 'UpdateService', { cluster, service: runner('eu-west-1') })).toEqual(['ImplicitlyDenied']);
  });
});

describe('the size of the task roles', () => {
  // IAM caps a role's inline policies at 10,240 characters together (whitespace aside), counted
  // after CloudFormation resolved them: the orchestrator's grew by a runner per region.
  it("keeps every role's inline policies under IAM's 10,240-character limit at the longest prefix and every region", () => {
    const longest = 'p'.repeat(32);
    const sizes = Object.fromEntries(
      ['build', 'orchestrator', 'region-sync', 'replication', ...REGIONS.map(runnerSuffix)].map((s) => [s, JSON.stringify(rolePolicies(current(), s, longest, EMULATOR)).length]),
    );
    for (const [name, size] of Object.entries(sizes)) expect(size, name).toBeLessThan(10_240);
    // The largest, and the one a region adds most to: every runner service and test-run bucket prefix.
    expect(Math.max(...Object.values(sizes))).toBe(sizes.orchestrator);
  });
});

describe('the hosts table (review L8)', () => {
  it('expires host records by their expiresAt attribute', () => {
    const hosts = current().Resources.HostsTable!.Properties!;
    expect(hosts.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });
});
