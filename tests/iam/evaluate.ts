/**
 * Who may call what: every AWS call the services made during a test run (recorded by
 * packages/platform/src/aws-call-recorder.ts into FLOTILLA_TEST_AWS_CALLS) is mapped to the IAM
 * actions it needs and evaluated against that service's task role in the rendered template, with
 * the template's intrinsics resolved to concrete ARNs for the recording's account, region and
 * prefix. The emulator enforces no IAM, so without this a missing grant shows only on AWS (review
 * C1). The evaluator is @cloud-copilot/iam-simulate, a dev dependency (AGPL-3.0) that never ships.
 *
 *   node tests/iam/evaluate.ts <recorded directory> [--template <flotilla.json>] [--require-calls]
 *
 * prints the calls, actions and decisions and exits 1 when any call is not Allowed, or when a
 * policy names a `*` action or a `*` resource for an action that takes an ARN.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isWildcardOnlyAction, runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { RecordedCall } from '../../packages/platform/src/aws-call-recorder.ts';
import { TEMPLATE_PATH, taskRoleId } from '../../deploy/render.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, Json> }> };
type Statement = { Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource: string | string[] };
type Policy = { Version: string; Statement: Statement[] };

/** The emulator's account and region; every recorded ARN carries them. */
export interface Environment {
  accountId: string;
  region: string;
  partition: string;
}
export const EMULATOR: Environment = { accountId: '000000000000', region: 'us-east-1', partition: 'aws' };

/** One IAM action on one resource that a recorded call needs. */
export interface Need {
  action: string;
  resource: string;
  /** Why the call needs it, when that is not obvious from the command. */
  why?: string;
  /** Condition keys the request carries (ECS names the cluster in `ecs:cluster`). */
  context?: Record<string, string>;
}

export interface Verdict {
  call: RecordedCall;
  need: Need;
  decision: string;
}

export class UnmappedCallError extends Error {
  override readonly name = 'UnmappedCallError';
  readonly call: RecordedCall;
  constructor(call: RecordedCall) {
    super(`no IAM mapping for ${call.client}.${call.command} (called by ${call.service}): add it to tests/iam/evaluate.ts`);
    this.call = call;
  }
}

export function readRecordings(directory: string): RecordedCall[] {
  return readdirSync(directory)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(directory, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RecordedCall),
    );
}

// --- the template, resolved ---------------------------------------------------------------------

interface Resolution {
  env: Environment;
  prefix: string;
  template: Template;
  /** Each table's current stream ARN as the recording saw it (GetAtt StreamArn's value on AWS). */
  streamArns: Map<string, string>;
}

function physicalName(r: Resolution, logicalId: string, property: string): string {
  const value = r.template.Resources[logicalId]?.Properties?.[property];
  if (value === undefined) throw new Error(`template: ${logicalId} has no ${property}`);
  return asString(resolve(r, value), `${logicalId}.${property}`);
}

/** A resolved value that must be a string (a name or an ARN). */
function asString(value: Json, where: string): string {
  if (typeof value !== 'string') throw new Error(`template: ${where} resolved to ${JSON.stringify(value)}, not a string`);
  return value;
}

function getAtt(r: Resolution, logicalId: string, attribute: string): string {
  const { accountId, region, partition } = r.env;
  const type = r.template.Resources[logicalId]?.Type;
  if (type === 'AWS::SQS::Queue' && attribute === 'Arn') return `arn:${partition}:sqs:${region}:${accountId}:${physicalName(r, logicalId, 'QueueName')}`;
  if (type === 'AWS::DynamoDB::Table') {
    const arn = `arn:${partition}:dynamodb:${region}:${accountId}:table/${physicalName(r, logicalId, 'TableName')}`;
    if (attribute === 'Arn') return arn;
    if (attribute === 'StreamArn') return r.streamArns.get(arn) ?? `${arn}/stream/not-recorded`;
  }
  if (type === 'AWS::IAM::Role' && attribute === 'Arn') return `arn:${partition}:iam::${accountId}:role/${r.prefix}-${logicalId}`;
  throw new Error(`template: cannot resolve Fn::GetAtt ${logicalId}.${attribute} (${type})`);
}

function ref(r: Resolution, name: string): string {
  const { accountId, region, partition } = r.env;
  const pseudo: Record<string, string> = { 'AWS::AccountId': accountId, 'AWS::Region': region, 'AWS::Partition': partition, Prefix: r.prefix, Target: 'aws' };
  if (pseudo[name] !== undefined) return pseudo[name];
  const type = r.template.Resources[name]?.Type;
  switch (type) {
    case 'AWS::SNS::Topic':
      return `arn:${partition}:sns:${region}:${accountId}:${physicalName(r, name, 'TopicName')}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${partition}:states:${region}:${accountId}:stateMachine:${physicalName(r, name, 'StateMachineName')}`;
    case 'AWS::S3::Bucket':
      return physicalName(r, name, 'BucketName');
    case 'AWS::DynamoDB::Table':
      return physicalName(r, name, 'TableName');
    default:
      throw new Error(`template: cannot resolve Ref ${name} (${type})`);
  }
}

function substitute(r: Resolution, text: string, variables: Record<string, Json>): string {
  return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    if (variables[name] !== undefined) return asString(resolve(r, variables[name]), `\${${name}}`);
    const dot = name.indexOf('.');
    return dot > 0 && !name.startsWith('AWS::') ? getAtt(r, name.slice(0, dot), name.slice(dot + 1)) : ref(r, name);
  });
}

/** Resolves Ref, Fn::GetAtt, Fn::Sub and Fn::If (as on AWS: IsAws holds) to plain values. */
export function resolve(r: Resolution, value: Json): Json {
  if (Array.isArray(value)) return value.map((v) => resolve(r, v)).filter((v) => v !== NO_VALUE);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = value[key] as Json;
    if (key === 'Ref') return arg === 'AWS::NoValue' ? NO_VALUE : ref(r, asString(arg, 'Ref'));
    if (key === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      return getAtt(r, id, attribute);
    }
    if (key === 'Fn::Sub') {
      if (typeof arg === 'string') return substitute(r, arg, {});
      const [text, variables] = arg as [string, Record<string, Json>];
      return substitute(r, text, variables);
    }
    if (key === 'Fn::If') {
      const [condition, then] = arg as [string, Json, Json];
      if (condition !== 'IsAws') throw new Error(`template: unknown condition ${condition}`);
      return resolve(r, then);
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(r, v)]));
}
const NO_VALUE = '__AWS::NoValue__';

/** The inline policies of a service's task role, resolved for one prefix. */
export function rolePolicies(template: Template, service: string, prefix: string, env: Environment, streamArns = new Map<string, string>()): Policy[] {
  const role = template.Resources[taskRoleId(service)];
  if (!role) throw new Error(`template: no task role for service ${service} (${taskRoleId(service)})`);
  const r: Resolution = { env, prefix, template, streamArns };
  const policies = (role.Properties?.Policies ?? []) as Array<{ PolicyDocument: Json }>;
  return policies.map((p) => resolve(r, p.PolicyDocument) as unknown as Policy);
}

// --- calls to actions ---------------------------------------------------------------------------

function queueArn(env: Environment, urlOrName: string): string {
  // https://sqs.<region>.amazonaws.com/<account>/<name>, or the emulator's http://host:port/<account>/<name>
  const parts = urlOrName.split('/').filter(Boolean);
  const name = parts.at(-1) ?? urlOrName;
  const account = parts.length >= 2 ? parts.at(-2)! : env.accountId;
  return `arn:${env.partition}:sqs:${env.region}:${/^\d{12}$/.test(account) ? account : env.accountId}:${name}`;
}

const s3Object = (env: Environment, bucket: string, key: string) => `arn:${env.partition}:s3:::${bucket}/${key}`;
const s3Bucket = (env: Environment, bucket: string) => `arn:${env.partition}:s3:::${bucket}`;
const tableArn = (env: Environment, table: string) => `arn:${env.partition}:dynamodb:${env.region}:${env.accountId}:table/${table}`;

/** The IAM actions (and their resources) one recorded call needs. */
export function needsOf(call: RecordedCall, env: Environment = EMULATOR): Need[] {
  const input = call.input;
  const str = (field: string): string => {
    const value = input[field];
    if (typeof value !== 'string') throw new Error(`${call.client}.${call.command} recorded without ${field}`);
    return value;
  };
  switch (call.client) {
    case 'STS':
      // GetCallerIdentity needs no permission: AWS answers it even under an explicit Deny.
      if (call.command === 'GetCallerIdentity') return [];
      break;
    case 'DynamoDB': {
      if (call.command === 'TransactWriteItems' || call.command === 'TransactGetItems') {
        const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
        const items = input.TransactItems as Array<{ kind: string; TableName: string }>;
        return items.map((item) => {
          const action = kinds[item.kind];
          if (!action) throw new UnmappedCallError(call);
          return { action: `dynamodb:${action}`, resource: tableArn(env, item.TableName), why: `${call.command} ${item.kind}` };
        });
      }
      if (call.command === 'BatchWriteItem' || call.command === 'BatchGetItem') {
        return Object.keys(input.RequestItems as Record<string, unknown>).map((table) => ({ action: `dynamodb:${call.command}`, resource: tableArn(env, table) }));
      }
      if (call.command === 'ListStreams') return [{ action: 'dynamodb:ListStreams', resource: '*' }];
      const table = tableArn(env, str('TableName'));
      const onIndex = typeof input.IndexName === 'string' && (call.command === 'Query' || call.command === 'Scan');
      return [{ action: `dynamodb:${call.command}`, resource: onIndex ? `${table}/index/${str('IndexName')}` : table }];
    }
    case 'DynamoDBStreams':
      if (call.command === 'ListStreams') return [{ action: 'dynamodb:ListStreams', resource: '*' }];
      return [{ action: `dynamodb:${call.command}`, resource: str('StreamArn') }];
    case 'SQS': {
      // The *Batch calls are authorised as their single-message action.
      const action = `sqs:${call.command.replace(/Batch$/, '')}`;
      return [{ action, resource: queueArn(env, call.command === 'GetQueueUrl' ? str('QueueName') : str('QueueUrl')) }];
    }
    case 'SNS':
      if (call.command === 'Publish' || call.command === 'PublishBatch') {
        return [{ action: 'sns:Publish', resource: typeof input.TopicArn === 'string' ? input.TopicArn : str('TargetArn') }];
      }
      break;
    case 'S3': {
      const bucket = str('Bucket');
      switch (call.command) {
        case 'GetObject':
          return [{ action: 's3:GetObject', resource: s3Object(env, bucket, str('Key')) }];
        case 'HeadObject':
          return [
            { action: 's3:GetObject', resource: s3Object(env, bucket, str('Key')) },
            // Without it a missing key answers 403, not 404, and "no longer exists" never runs (review L5).
            { action: 's3:ListBucket', resource: s3Bucket(env, bucket), why: 'HeadObject of a missing key answers 404 only with ListBucket' },
          ];
        case 'PutObject':
          return [
            { action: 's3:PutObject', resource: s3Object(env, bucket, str('Key')) },
            ...(input.Tagging !== undefined ? [{ action: 's3:PutObjectTagging', resource: s3Object(env, bucket, str('Key')), why: 'PutObject with Tagging' }] : []),
          ];
        case 'CopyObject': {
          const source = decodeURIComponent(str('CopySource').replace(/^\//, '').split('?')[0]!);
          const slash = source.indexOf('/');
          const from = s3Object(env, source.slice(0, slash), source.slice(slash + 1));
          const to = s3Object(env, bucket, str('Key'));
          const needs: Need[] = [
            { action: 's3:GetObject', resource: from, why: 'CopyObject source' },
            { action: 's3:PutObject', resource: to, why: 'CopyObject destination' },
          ];
          // TaggingDirective COPY (the default) copies the source's tags; whether an upload carries
          // tags is its uploader's choice, so the copy must be allowed to read and write them (L5, M8).
          if (input.TaggingDirective !== 'REPLACE') {
            needs.push({ action: 's3:GetObjectTagging', resource: from, why: 'CopyObject of a tagged source' });
            needs.push({ action: 's3:PutObjectTagging', resource: to, why: 'CopyObject of a tagged source' });
          } else if (input.Tagging !== undefined) {
            needs.push({ action: 's3:PutObjectTagging', resource: to, why: 'CopyObject with Tagging' });
          }
          return needs;
        }
        case 'ListObjectsV2':
          return [{ action: 's3:ListBucket', resource: s3Bucket(env, bucket) }];
        default:
          break;
      }
      break;
    }
    case 'SFN':
      switch (call.command) {
        case 'StartExecution':
        case 'ListExecutions':
          return [{ action: `states:${call.command}`, resource: str('stateMachineArn') }];
        case 'DescribeExecution':
        case 'StopExecution':
        case 'GetExecutionHistory':
          return [{ action: `states:${call.command}`, resource: str('executionArn') }];
        case 'SendTaskSuccess':
        case 'SendTaskFailure':
        case 'SendTaskHeartbeat':
          // Task tokens name no resource: these actions are granted only on "*".
          return [{ action: `states:${call.command}`, resource: '*' }];
        default:
          break;
      }
      break;
    case 'ECS': {
      // A cluster or service is named by name or by ARN; IAM sees the ARN, with the cluster as `ecs:cluster`.
      const ecsArn = (kind: string, rest: string) => `arn:${env.partition}:ecs:${env.region}:${env.accountId}:${kind}/${rest}`;
      const cluster = typeof input.cluster === 'string' ? input.cluster.replace(/^arn:.*:cluster\//, '') : 'default';
      const context = { 'ecs:cluster': ecsArn('cluster', cluster) };
      const named = (kind: string, ref: string) => (ref.startsWith('arn:') ? ref : ecsArn(kind, `${cluster}/${ref}`));
      const list = (field: string): string[] => {
        const value = input[field];
        if (!Array.isArray(value)) throw new Error(`ECS.${call.command} recorded without ${field}`);
        return value as string[];
      };
      switch (call.command) {
        case 'UpdateService':
          return [{ action: 'ecs:UpdateService', resource: named('service', str('service')), context }];
        case 'DescribeServices':
          return list('services').map((s) => ({ action: 'ecs:DescribeServices', resource: named('service', s), context }));
        case 'ListTasks':
          // Authorised on the cluster's container instances, with the cluster as a condition key.
          return [{ action: 'ecs:ListTasks', resource: ecsArn('container-instance', `${cluster}/*`), context }];
        case 'DescribeTasks':
          return list('tasks').map((t) => ({ action: 'ecs:DescribeTasks', resource: named('task', t), context }));
        default:
          break;
      }
      break;
    }
    default:
      break;
  }
  throw new UnmappedCallError(call);
}

// --- evaluation ---------------------------------------------------------------------------------

/** Stream ARNs seen in the recording, by table ARN: what Fn::GetAtt StreamArn is on that stack. */
function recordedStreams(calls: RecordedCall[]): Map<string, string> {
  const streams = new Map<string, string>();
  for (const call of calls) {
    const arn = call.input.StreamArn;
    if (typeof arn === 'string' && arn.includes('/stream/')) streams.set(arn.slice(0, arn.indexOf('/stream/')), arn);
  }
  return streams;
}

/**
 * One decision. The first check of each action for a role runs the validating simulation (the
 * policies parse, the action exists, the resource is of a type the action takes); the rest, which
 * differ only in the resource (object keys, execution ids), skip the validation: a recorded run has
 * tens of thousands of them, and validating each costs most of the time.
 */
async function simulate(env: Environment, call: RecordedCall, policies: Policy[], need: Need, validated: Set<string>): Promise<string> {
  const simulation: Simulation = {
    request: {
      principal: `arn:${env.partition}:iam::${env.accountId}:role/${call.prefix}-${call.service}`,
      action: need.action,
      resource: { resource: need.resource, accountId: env.accountId },
      contextVariables: need.context ?? {},
    },
    identityPolicies: policies.map((policy, i) => ({ name: `${call.service}-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const once = JSON.stringify([call.service, call.prefix, need.action]);
  if (validated.has(once)) return runUnsafeSimulation(simulation, {});
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') return `Error: ${result.errors.message}`;
  validated.add(once);
  return result.overallResult;
}

const callKey = (c: RecordedCall) => JSON.stringify([c.service, c.prefix, c.client, c.command, c.input]);

export interface Evaluation {
  calls: number;
  distinctCalls: number;
  verdicts: Verdict[];
  denied: Verdict[];
}

/** Evaluates every distinct recorded call against its service's task role in `template`. */
export async function evaluateCalls(calls: RecordedCall[], template: Template, env: Environment = EMULATOR): Promise<Evaluation> {
  const distinct = [...new Map(calls.map((c) => [callKey(c), c])).values()];
  const streams = recordedStreams(calls);
  const policyCache = new Map<string, Policy[]>();
  const verdicts: Verdict[] = [];
  // Many calls need the same action on the same resource (every receive of a queue): decide once.
  const decisions = new Map<string, Promise<string>>();
  const validated = new Set<string>();
  for (const call of distinct) {
    const cacheKey = `${call.service}:${call.prefix}`;
    let policies = policyCache.get(cacheKey);
    if (!policies) {
      policies = rolePolicies(template, call.service, call.prefix, env, streams);
      policyCache.set(cacheKey, policies);
    }
    let needs: Need[];
    try {
      needs = needsOf(call, env);
    } catch (error) {
      if (!(error instanceof UnmappedCallError)) throw error;
      verdicts.push({ call, need: { action: 'unmapped', resource: '-', why: error.message }, decision: 'Unmapped' });
      continue;
    }
    for (const need of needs) {
      const key = JSON.stringify([cacheKey, need.action, need.resource, need.context ?? {}]);
      let decision = decisions.get(key);
      if (!decision) {
        decision = simulate(env, call, policies, need, validated);
        decisions.set(key, decision);
      }
      verdicts.push({ call, need, decision: await decision });
    }
  }
  return { calls: calls.length, distinctCalls: distinct.length, verdicts, denied: verdicts.filter((v) => v.decision !== 'Allowed') };
}

export const describeVerdict = (v: Verdict): string =>
  v.decision === 'Unmapped' ? `Unmapped: ${v.need.why ?? ''}` : `${v.decision}: ${v.call.service} ${v.call.client}.${v.call.command} needs ${v.need.action} on ${v.need.resource}${v.need.why ? ` (${v.need.why})` : ''}`;

/**
 * Statements that are broader than they need to be: a `*` in an action, or a `*` resource on an
 * action that takes a resource ARN (IAM's wildcard-only actions, such as states:SendTaskSuccess,
 * can only be granted on `*`).
 */
export async function wildcardProblems(template: Template): Promise<string[]> {
  const problems: string[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const policies = (resource.Properties?.Policies ?? []) as Array<{ PolicyName: string; PolicyDocument: { Statement: Statement[] } }>;
    for (const { PolicyName, PolicyDocument } of policies) {
      for (const statement of PolicyDocument.Statement) {
        const actions = [statement.Action].flat();
        const resources = [statement.Resource].flat();
        for (const action of actions) if (action.includes('*')) problems.push(`${id}/${PolicyName}: wildcard action ${action}`);
        if (!resources.includes('*')) continue;
        for (const action of actions) {
          const [service = '', name = ''] = action.split(':');
          if (action.includes('*') || !(await isWildcardOnlyAction(service, name))) problems.push(`${id}/${PolicyName}: ${action} on "*", but it takes a resource ARN`);
        }
      }
    }
  }
  return problems;
}

export function readTemplate(path: string = TEMPLATE_PATH): Template {
  return JSON.parse(readFileSync(path, 'utf8')) as Template;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [directory] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--template');
  const templateAt = process.argv.indexOf('--template');
  if (!directory) {
    console.error('usage: node tests/iam/evaluate.ts <recorded directory> [--template <flotilla.json>]');
    process.exit(2);
  }
  const template = readTemplate(templateAt > 0 ? process.argv[templateAt + 1] : TEMPLATE_PATH);
  const evaluation = await evaluateCalls(readRecordings(directory), template);
  const problems = await wildcardProblems(template);
  if (process.argv.includes('--require-calls') && evaluation.calls === 0) problems.push(`no AWS call was recorded in ${directory}: is FLOTILLA_TEST_AWS_CALLS reaching the services?`);
  const byService = new Map<string, number>();
  for (const v of evaluation.verdicts) byService.set(v.call.service, (byService.get(v.call.service) ?? 0) + 1);
  console.log(`iam: ${evaluation.calls} recorded calls, ${evaluation.distinctCalls} distinct, ${evaluation.verdicts.length} action checks (${[...byService].map(([s, n]) => `${s} ${n}`).join(', ')})`);
  const distinctActions = new Set(evaluation.verdicts.map((v) => `${v.call.service} ${v.need.action}`));
  console.log(`iam: ${distinctActions.size} distinct (service, action) pairs: ${[...distinctActions].sort().join('; ')}`);
  const denials = [...new Set(evaluation.denied.map(describeVerdict))];
  for (const line of denials.slice(0, 50)) console.error(`iam: ${line}`);
  if (denials.length > 50) console.error(`iam: ... and ${denials.length - 50} more`);
  for (const problem of problems) console.error(`iam: ${problem}`);
  if (evaluation.denied.length > 0 || problems.length > 0) {
    console.error(`iam: FAILED: ${evaluation.denied.length} action checks not Allowed, ${problems.length} other problems (above)`);
    process.exit(1);
  }
  console.log('iam: every recorded call is Allowed by its task role');
}
