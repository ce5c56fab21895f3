/**
 * Every physical resource name, derived from the stack's Prefix. The CloudFormation renderer
 * (deploy/render.ts) and every service read names from here, so a name is spelled in one place.
 * Regions are logical: each has its own sync queue and bucket, all in the stack's AWS region.
 */
import regionsFile from '../../../deploy/regions.json' with { type: 'json' };
import { ConfigError } from './errors.ts';

/** Every logical region a stack may have, in the order of deploy/regions.json (the one list). */
export const REGIONS: readonly string[] = regionsFile.regions;

/**
 * A deploy's choice of regions, checked and put in the order of REGIONS: at least one, each known,
 * none twice. A stack may carry a subset (a test deploys only the regions it uses); services learn
 * which from the stack itself (Locator.regions), never from a second list.
 */
export function chooseRegions(regions: readonly string[] = REGIONS): readonly string[] {
  const unknown = regions.filter((r) => !REGIONS.includes(r));
  const repeated = regions.filter((r, i) => regions.indexOf(r) !== i);
  if (regions.length === 0 || unknown.length > 0 || repeated.length > 0) {
    const problems = [
      ...(regions.length === 0 ? ['no regions'] : []),
      ...unknown.map((r) => `${r} is not in deploy/regions.json`),
      ...repeated.map((r) => `${r} named twice`),
    ];
    throw new ConfigError(`invalid choice of regions: ${problems.join('; ')}`, { regions, known: REGIONS });
  }
  return REGIONS.filter((r) => regions.includes(r));
}

/** Name suffixes, joined to the prefix with '-'. The renderer turns these into Fn::Sub strings. */
export const names = {
  topics: { intake: 'intake', events: 'events', alerts: 'alerts' },
  /** Each service queue has a dead-letter queue named `<queue>-dlq`. */
  queues: {
    intake: 'intake',
    uploads: 'uploads',
    build: 'build',
    replication: 'replication',
    orchestrator: 'orchestrator',
    /** The build service's projector: every event from the events topic. */
    projections: 'projections',
  },
  tables: {
    events: 'events',
    projections: 'projections',
    /** The build list: one summary row per build, with an index per filter (BUILD_LIST_INDEXES). */
    builds: 'builds',
    checkpoints: 'checkpoints',
    idempotency: 'idempotency',
    hosts: 'hosts',
    fileCopies: 'file-copies',
  },
  buckets: {
    global: 'global',
    /**
     * Not in the template: deployStack creates it to hand CloudFormation a template too large to
     * send inline (TemplateURL), and deleteStack removes it with the stack.
     */
    templates: 'templates',
  },
  ecsCluster: 'cluster',
  stateMachine: 'deploy',
  /** The Secrets Manager secret holding the API token (the ApiToken parameter), read by the runner tasks. */
  apiTokenSecret: 'api-token',
} as const;

/** Name of the global secondary index that orders the whole log by (day bucket, event id). */
export const GLOBAL_ORDER_INDEX = 'global-order';

/**
 * The build list's indexes. Each partitions the rows by one filter and sorts them by build id, a
 * ULID, so newest-first is a descending Query and since/until are id bounds. `listed` holds one
 * constant value: every build, by time. (One partition takes every list write; a build's row
 * changes a few times in its life, far below DynamoDB's 1,000 writes/s per partition.)
 */
export const BUILD_LIST_INDEXES = {
  listed: 'builds-by-time',
  doorKey: 'builds-by-door-key',
  repo: 'builds-by-repo',
  env: 'builds-by-env',
  status: 'builds-by-status',
} as const;
export type BuildListIndexKey = keyof typeof BUILD_LIST_INDEXES;

export const dlqOf = (queueName: string): string => `${queueName}-dlq`;

/**
 * Receives after which SQS itself moves a message to its DLQ: the backstop for a message that kills
 * its consumer. Consumers give up much earlier, on failures they count (consumer.ts, maxReceives 4),
 * with the reason attached and a task's token answered. Receives they do not count grow SQS's count
 * too: a task still running elsewhere (deferred, review H1), a crash before the delete, an outage
 * that fails the deferral. At 5 the refused-outage chaos run saw SQS dead-letter a build task
 * without a reason or an answer, and the build waited for Step Functions' heartbeat timeout.
 */
export const REDRIVE_MAX_RECEIVE_COUNT = 10;
export const syncQueueSuffix = (region: string): string => `sync-${region}`;
export const regionBucketSuffix = (region: string): string => `region-${region}`;
/**
 * A region's load-test runner: its ECS service and task definition family (in the stack's one
 * cluster), and the name its task role goes by. Scaled from 0 by the orchestrator for a test run.
 */
export const runnerSuffix = (region: string): string => `runner-${region}`;
/** The one container of a runner task (DescribeTasks names it; a task-definition override needs it). */
export const RUNNER_CONTAINER_NAME = 'runner';
/**
 * What a runner container gets from Secrets Manager (its task definition's `secrets`, never plain
 * environment): environment variable -> the secret's name suffix. The template and the emulator
 * workaround (stack.ts, applyRunnerSecrets) both read it.
 */
export const RUNNER_SECRETS: Readonly<Record<string, string>> = { FLOTILLA_API_TOKEN: names.apiTokenSecret };

export type QueueKey = keyof typeof names.queues;
export type TableKey = keyof typeof names.tables;
export type TopicKey = keyof typeof names.topics;

/** Physical names for one stack. `prefix` is the stack's Prefix parameter. */
export function resourceNames(prefix: string) {
  const join = (suffix: string) => `${prefix}-${suffix}`;
  const map = <K extends string>(o: Record<K, string>) =>
    Object.fromEntries(Object.entries<string>(o).map(([k, v]) => [k, join(v)])) as Record<K, string>;
  return {
    prefix,
    topics: map(names.topics),
    queues: map(names.queues),
    tables: map(names.tables),
    globalBucket: join(names.buckets.global),
    syncQueue: (region: string) => join(syncQueueSuffix(region)),
    regionBucket: (region: string) => join(regionBucketSuffix(region)),
    templatesBucket: join(names.buckets.templates),
    ecsCluster: join(names.ecsCluster),
    /** The region's runner ECS service, also its task definition family. */
    runnerService: (region: string) => join(runnerSuffix(region)),
    stateMachine: join(names.stateMachine),
    apiTokenSecret: join(names.apiTokenSecret),
  };
}
export type ResourceNames = ReturnType<typeof resourceNames>;
