/**
 * Deploys the project's one CloudFormation template (deploy/cloudformation/flotilla.json) under
 * a prefix, to real AWS or to the local emulator, and waits for it by polling with a deadline.
 * The committed template has every region; `regions` deploys the same template rendered for fewer
 * (deploy/render.ts), so a test pays only for the regions it uses. A template over CloudFormation's
 * inline limit goes through S3 (TemplateURL), in a bucket of the prefix's own.
 * On the emulator it then works around two of MiniStack's CloudFormation gaps (docs/local-aws.md):
 * it applies every queue's RedrivePolicy with SetQueueAttributes, because MiniStack drops that
 * property, and it registers each runner task definition again with its secrets spelled as the ECS
 * API spells them (applyRunnerSecrets).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  UpdateStackCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type Secret,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  PutObjectCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from './aws.ts';
import { FlotillaError } from './errors.ts';
import { locate } from './locate.ts';
import { chooseRegions, dlqOf, REDRIVE_MAX_RECEIVE_COUNT, REGIONS, resourceNames, RUNNER_CONTAINER_NAME, RUNNER_SECRETS } from './resources.ts';

export const DEFAULT_TEMPLATE_PATH = fileURLToPath(new URL('../../../deploy/cloudformation/flotilla.json', import.meta.url));

/** CloudFormation's limit on an inline TemplateBody; larger templates must go through S3 (TemplateURL). */
export const MAX_TEMPLATE_BODY_BYTES = 51_200;
/** CloudFormation's limit on a template it reads from S3 (TemplateURL). */
export const MAX_TEMPLATE_URL_BYTES = 1_048_576;

/** The stack's Outputs by key (e.g. EventsTopicArn, BuildQueueUrl); every key the template declares is present. */
export type StackOutputs = Readonly<Record<string, string>>;

export class StackDeployError extends FlotillaError {
  readonly retryable = false;
}

export interface DeployStackOptions {
  clients: AwsClients;
  prefix: string;
  target: 'local' | 'aws';
  /** A template file other than the committed one (its regions must then be `regions`, default all). */
  templatePath?: string;
  /** The logical regions the stack gets (default: all of deploy/regions.json). */
  regions?: readonly string[];
  parameters?: Record<string, string>;
  timeoutMs?: number;
}

export const stackName = (prefix: string): string => `${prefix}-stack`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function describe(clients: AwsClients, name: string): Promise<Stack | undefined> {
  try {
    const out = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: name }));
    return out.Stacks?.[0];
  } catch (error) {
    if ((error as Error).message?.includes('does not exist')) return undefined;
    throw error;
  }
}

async function failureReasons(clients: AwsClients, name: string): Promise<string[]> {
  try {
    const out = await clients.cloudformation.send(new DescribeStackEventsCommand({ StackName: name }));
    return (out.StackEvents ?? [])
      .filter((e) => e.ResourceStatus?.endsWith('FAILED') && e.ResourceStatusReason)
      .map((e) => `${e.LogicalResourceId}: ${e.ResourceStatusReason}`)
      .slice(0, 10);
  } catch {
    return [];
  }
}

async function waitForStack(clients: AwsClients, name: string, timeoutMs: number, gone = false): Promise<Stack | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stack = await describe(clients, name);
    const status = stack?.StackStatus ?? 'DELETE_COMPLETE';
    if (gone && status === 'DELETE_COMPLETE') return undefined;
    if (!gone && (status === 'CREATE_COMPLETE' || status === 'UPDATE_COMPLETE')) return stack;
    if (status.endsWith('FAILED') || status.includes('ROLLBACK_COMPLETE') || (!gone && status === 'DELETE_COMPLETE')) {
      const reasons = await failureReasons(clients, name);
      throw new StackDeployError(`stack ${name} ended ${status}: ${reasons.join('; ') || stack?.StackStatusReason || 'no reason given'}`, { stack: name, status, reasons });
    }
    if (Date.now() > deadline) throw new StackDeployError(`stack ${name} still ${status} after ${timeoutMs} ms`, { stack: name, status });
    await sleep(250);
  }
}

/** Queue names that have a DLQ: the service queues and the sync queue of each of the stack's regions. */
export function queuesWithDlq(prefix: string, regions: readonly string[] = REGIONS): string[] {
  const n = resourceNames(prefix);
  return [...Object.values(n.queues), ...regions.map((r) => n.syncQueue(r))];
}

/** Applies each queue's RedrivePolicy (idempotent); the emulator's CloudFormation drops it. */
export async function applyRedrivePolicies(clients: AwsClients, prefix: string, regions: readonly string[] = REGIONS): Promise<void> {
  const locator = await locate(clients, prefix);
  await Promise.all(
    queuesWithDlq(prefix, regions).map(async (queue) => {
      const [url, dlqUrl] = await Promise.all([locator.queueUrl(queue), locator.queueUrl(dlqOf(queue))]);
      const dlq = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
      const policy = JSON.stringify({ deadLetterTargetArn: dlq.Attributes?.QueueArn, maxReceiveCount: REDRIVE_MAX_RECEIVE_COUNT });
      await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy: policy } }));
    }),
  );
}

/** The template as sent: minified (the committed file is pretty-printed for review). */
export interface TemplateToSend {
  body: string;
  outputKeys: string[];
  /** Over MAX_TEMPLATE_BODY_BYTES: CloudFormation takes it only from S3 (TemplateURL). */
  viaS3: boolean;
}

/** Minifies the template and says how CloudFormation must get it; over even the TemplateURL limit it cannot be deployed. */
export function templateBody(text: string, path = 'template'): TemplateToSend {
  const template = JSON.parse(text) as { Outputs?: Record<string, unknown> };
  const body = JSON.stringify(template);
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_TEMPLATE_URL_BYTES) {
    throw new StackDeployError(`${path} is ${bytes} bytes minified, over CloudFormation's ${MAX_TEMPLATE_URL_BYTES}-byte limit for a template in S3`, { path, bytes });
  }
  return { body, outputKeys: Object.keys(template.Outputs ?? {}), viaS3: bytes > MAX_TEMPLATE_BODY_BYTES };
}

/**
 * Where CloudFormation reads an object of `bucket`: the emulator serves buckets by path under its
 * endpoint; AWS by virtual host, in the clients' region.
 */
export function templateUrl(clients: AwsClients, bucket: string, key: string): string {
  const { endpoint, region } = clients.settings;
  return endpoint ? `${endpoint.replace(/\/+$/, '')}/${bucket}/${key}` : `https://${bucket}.s3.${region}.amazonaws.com/${key}`;
}

/**
 * Puts the template in the prefix's templates bucket (made when missing) under its content hash,
 * so a redeploy of the same template writes the same key, and returns its TemplateURL.
 */
async function uploadTemplate(clients: AwsClients, prefix: string, body: string): Promise<string> {
  const bucket = resourceNames(prefix).templatesBucket;
  const region = clients.settings.region;
  try {
    // us-east-1 is S3's default location and refuses to be named as a constraint.
    const location = region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } };
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, ...location }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  const key = `${stackName(prefix)}/${createHash('sha256').update(body).digest('hex').slice(0, 16)}.json`;
  await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
  return templateUrl(clients, bucket, key);
}

/** Removes the prefix's templates bucket and what it holds; a prefix that never needed one has none. */
async function removeTemplates(clients: AwsClients, prefix: string): Promise<void> {
  const bucket = resourceNames(prefix).templatesBucket;
  try {
    for (;;) {
      const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length === 0) break;
      await clients.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof NoSuchBucket)) throw error;
  }
}

function outputsOf(stack: Stack | undefined, expected: string[], name: string): StackOutputs {
  const outputs = Object.fromEntries((stack?.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue !== undefined ? [[o.OutputKey, o.OutputValue]] : [])));
  const missing = expected.filter((key) => !(key in outputs));
  if (missing.length > 0) throw new StackDeployError(`stack ${name} is missing outputs the template declares: ${missing.join(', ')}`, { stack: name, missing });
  return outputs;
}

/**
 * The committed template, or, for a subset of the regions, the same template rendered for them.
 * The renderer is imported only then: services load this module, and never render.
 */
async function templateText(path: string, regions: readonly string[] | undefined): Promise<string> {
  if (regions === undefined || regions.length === REGIONS.length) return readFile(path, 'utf8');
  const { renderedText } = await import('../../../deploy/render.ts');
  return renderedText(regions);
}

/** Creates or updates the stack and returns its outputs. An update with nothing to change is a success. */
export async function deployStack(options: DeployStackOptions): Promise<StackOutputs> {
  const { clients, prefix, target, timeoutMs = 180_000 } = options;
  const name = stackName(prefix);
  const path = options.templatePath ?? DEFAULT_TEMPLATE_PATH;
  const regions = chooseRegions(options.regions);
  const { body, outputKeys, viaS3 } = templateBody(await templateText(path, options.templatePath === undefined ? regions : undefined), path);
  const Parameters = Object.entries({ Prefix: prefix, Target: target, ...options.parameters }).map(
    ([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }),
  );
  let existing = await describe(clients, name);
  if (existing?.StackStatus === 'ROLLBACK_COMPLETE') {
    // A stack whose creation failed cannot be updated, only deleted and created again.
    await deleteStack({ clients, prefix, timeoutMs });
    existing = undefined;
  }
  const template = viaS3 ? { TemplateURL: await uploadTemplate(clients, prefix, body) } : { TemplateBody: body };
  let stack: Stack | undefined;
  if (existing && existing.StackStatus !== 'DELETE_COMPLETE') {
    let unchanged = false;
    try {
      await clients.cloudformation.send(new UpdateStackCommand({ StackName: name, ...template, Parameters, Capabilities: ['CAPABILITY_IAM'] }));
    } catch (error) {
      if (!(error as Error).message?.includes('No updates are to be performed')) throw error;
      unchanged = true;
    }
    // Nothing to change: the stack stands as it is, even in UPDATE_ROLLBACK_COMPLETE (a usable state).
    stack = unchanged && existing.StackStatus === 'UPDATE_ROLLBACK_COMPLETE' ? existing : await waitForStack(clients, name, timeoutMs);
  } else {
    await clients.cloudformation.send(new CreateStackCommand({ StackName: name, ...template, Parameters, Capabilities: ['CAPABILITY_IAM'] }));
    stack = await waitForStack(clients, name, timeoutMs);
  }
  if (target === 'local') {
    await applyRedrivePolicies(clients, prefix, regions);
    // Only the committed template (or its regional render) has runner services.
    if (options.templatePath === undefined) await applyRunnerSecrets(clients, prefix, regions);
  }
  return outputsOf(stack, outputKeys, name);
}

/** Deletes the stack and waits until it is gone, then the bucket a large template went through. */
export async function deleteStack(options: { clients: AwsClients; prefix: string; timeoutMs?: number }): Promise<void> {
  const name = stackName(options.prefix);
  await options.clients.cloudformation.send(new DeleteStackCommand({ StackName: name }));
  await waitForStack(options.clients, name, options.timeoutMs ?? 120_000, true);
  await removeTemplates(options.clients, options.prefix);
}

/** The secrets a runner container must have, as the ECS API spells them, for the stack's account and region. */
export function runnerSecrets(prefix: string, account: { partition: string; region: string; accountId: string }): Secret[] {
  const names = resourceNames(prefix);
  // A partial ARN (no random suffix): Secrets Manager and the emulator both resolve it by name.
  return Object.entries(RUNNER_SECRETS).map(([name, suffix]) => ({
    name,
    valueFrom: `arn:${account.partition}:secretsmanager:${account.region}:${account.accountId}:secret:${names.prefix}-${suffix}`,
  }));
}

const sameSecrets = (a: readonly Secret[] | undefined, b: readonly Secret[]) =>
  JSON.stringify((a ?? []).map((s) => [s.name, s.valueFrom]).sort()) === JSON.stringify(b.map((s) => [s.name, s.valueFrom]).sort());

/** A region's runner service, the task definition it runs, and that definition's runner container. */
export async function runnerDefinition(clients: AwsClients, prefix: string, region: string): Promise<{ service: Service; definition: TaskDefinition; runner: ContainerDefinition }> {
  const names = resourceNames(prefix);
  const cluster = names.ecsCluster;
  const serviceName = names.runnerService(region);
  const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster, services: [serviceName] }))).services?.[0];
  if (!service?.taskDefinition) throw new StackDeployError(`stack ${stackName(prefix)} has no runner service ${serviceName} in ${cluster}`, { service: serviceName, cluster });
  const definition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }))).taskDefinition;
  const runner = definition?.containerDefinitions?.find((c) => c.name === RUNNER_CONTAINER_NAME);
  if (!definition || !runner) throw new StackDeployError(`runner task definition ${service.taskDefinition} has no container ${RUNNER_CONTAINER_NAME}`, { taskDefinition: service.taskDefinition });
  return { service, definition, runner };
}

/** Registers `definition` again with its runner container changed by `change` (the rest as it was); returns the new revision's ARN. */
export async function reviseRunnerDefinition(clients: AwsClients, definition: TaskDefinition, change: (runner: ContainerDefinition) => ContainerDefinition): Promise<string> {
  const containerDefinitions = (definition.containerDefinitions ?? []).map((c) => (c.name === RUNNER_CONTAINER_NAME ? change(c) : c));
  const registered = await clients.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: definition.family,
      containerDefinitions,
      ...(definition.networkMode ? { networkMode: definition.networkMode } : {}),
      ...(definition.requiresCompatibilities ? { requiresCompatibilities: definition.requiresCompatibilities } : {}),
      ...(definition.cpu ? { cpu: definition.cpu } : {}),
      ...(definition.memory ? { memory: definition.memory } : {}),
      ...(definition.taskRoleArn ? { taskRoleArn: definition.taskRoleArn } : {}),
      ...(definition.executionRoleArn ? { executionRoleArn: definition.executionRoleArn } : {}),
    }),
  );
  const arn = registered.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new StackDeployError(`registering ${definition.family} again returned no ARN`, { family: definition.family });
  return arn;
}

/**
 * Emulator only, a workaround for a MiniStack gap (docs/local-aws.md, "ECS secrets from
 * CloudFormation"): its CloudFormation camel-cases a container definition's keys (`Environment` to
 * `environment`, and the keys of each entry) but not the keys inside `Secrets`, and its ECS reads
 * only `name` and `valueFrom`; so a runner task started from the template's definition has no
 * FLOTILLA_API_TOKEN. (Its Ref of an AWS::SecretsManager::Secret also gives the name where AWS
 * gives the ARN, which ECS would read as an SSM parameter.) For each region's runner, this
 * registers the service's task definition again with the secrets spelled as the ECS API spells
 * them, valueFrom the secret's ARN, and points the service at that revision. A service already on
 * such a revision (a redeploy) is left alone, so a running task is not restarted for nothing.
 * Never called for AWS, where CloudFormation passes `Secrets` on as written.
 */
export async function applyRunnerSecrets(clients: AwsClients, prefix: string, regions: readonly string[]): Promise<void> {
  const locator = await locate(clients, prefix);
  const names = resourceNames(prefix);
  const secrets = runnerSecrets(prefix, { partition: locator.partition, region: clients.settings.region, accountId: locator.accountId });
  await Promise.all(
    regions.map(async (region) => {
      const { definition, runner } = await runnerDefinition(clients, prefix, region);
      if (sameSecrets(runner.secrets, secrets)) return;
      const taskDefinition = await reviseRunnerDefinition(clients, definition, (c) => ({ ...c, secrets }));
      await clients.ecs.send(new UpdateServiceCommand({ cluster: names.ecsCluster, service: names.runnerService(region), taskDefinition }));
    }),
  );
}
