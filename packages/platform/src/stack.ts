/**
 * Deploys the project's one CloudFormation template (deploy/cloudformation/flotilla.json) under
 * a prefix, to real AWS or to the local emulator, and waits for it by polling with a deadline.
 * The committed template has every region; `regions` deploys the same template rendered for fewer
 * (deploy/render.ts), so a test pays only for the regions it uses.
 * On the emulator it then applies every queue's RedrivePolicy with SetQueueAttributes, because
 * MiniStack's CloudFormation drops that property (docs/local-aws.md).
 */
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
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from './aws.ts';
import { FlotillaError } from './errors.ts';
import { locate } from './locate.ts';
import { chooseRegions, dlqOf, REDRIVE_MAX_RECEIVE_COUNT, REGIONS, resourceNames } from './resources.ts';

export const DEFAULT_TEMPLATE_PATH = fileURLToPath(new URL('../../../deploy/cloudformation/flotilla.json', import.meta.url));

/** CloudFormation's limit on an inline TemplateBody; larger templates must go through S3 (TemplateURL). */
export const MAX_TEMPLATE_BODY_BYTES = 51_200;

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

/** The template as sent: minified (the committed file is pretty-printed for review), within the inline limit. */
export function templateBody(text: string, path = 'template'): { body: string; outputKeys: string[] } {
  const template = JSON.parse(text) as { Outputs?: Record<string, unknown> };
  const body = JSON.stringify(template);
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_TEMPLATE_BODY_BYTES) {
    throw new StackDeployError(`${path} is ${bytes} bytes minified, over CloudFormation's ${MAX_TEMPLATE_BODY_BYTES}-byte TemplateBody limit; upload it to S3 and deploy with TemplateURL`, { path, bytes });
  }
  return { body, outputKeys: Object.keys(template.Outputs ?? {}) };
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
  const { body: TemplateBody, outputKeys } = templateBody(await templateText(path, options.templatePath === undefined ? regions : undefined), path);
  const Parameters = Object.entries({ Prefix: prefix, Target: target, ...options.parameters }).map(
    ([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }),
  );
  let existing = await describe(clients, name);
  if (existing?.StackStatus === 'ROLLBACK_COMPLETE') {
    // A stack whose creation failed cannot be updated, only deleted and created again.
    await deleteStack({ clients, prefix, timeoutMs });
    existing = undefined;
  }
  let stack: Stack | undefined;
  if (existing && existing.StackStatus !== 'DELETE_COMPLETE') {
    let unchanged = false;
    try {
      await clients.cloudformation.send(new UpdateStackCommand({ StackName: name, TemplateBody, Parameters, Capabilities: ['CAPABILITY_IAM'] }));
    } catch (error) {
      if (!(error as Error).message?.includes('No updates are to be performed')) throw error;
      unchanged = true;
    }
    // Nothing to change: the stack stands as it is, even in UPDATE_ROLLBACK_COMPLETE (a usable state).
    stack = unchanged && existing.StackStatus === 'UPDATE_ROLLBACK_COMPLETE' ? existing : await waitForStack(clients, name, timeoutMs);
  } else {
    await clients.cloudformation.send(new CreateStackCommand({ StackName: name, TemplateBody, Parameters, Capabilities: ['CAPABILITY_IAM'] }));
    stack = await waitForStack(clients, name, timeoutMs);
  }
  if (target === 'local') await applyRedrivePolicies(clients, prefix, regions);
  return outputsOf(stack, outputKeys, name);
}

export async function deleteStack(options: { clients: AwsClients; prefix: string; timeoutMs?: number }): Promise<void> {
  const name = stackName(options.prefix);
  await options.clients.cloudformation.send(new DeleteStackCommand({ StackName: name }));
  await waitForStack(options.clients, name, options.timeoutMs ?? 120_000, true);
}
